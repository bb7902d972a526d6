import type { LanguageModel } from '../model/types.js';
import type { Embedder, EmbedInput } from './embedder.js';

/**
 * The bootstrapped embedder: the mean of the final-norm hidden states of a trained sbp checkpoint (the
 * baseline LM), so that SBP needs no outside model at all.
 *
 * Each document is fed as [bos, t1 … tn] — the way the LM saw documents in training — and the vector
 * is the mean of the hidden states at t1 … tn (bos is left out: under causal attention its state is
 * the same for every document and would only shift all vectors alike). Documents longer than the
 * model's context minus one are cut to fit. Documents are sorted by length and batched with others of
 * similar length; shorter ones are padded on the right, which (attention being causal) leaves the
 * states of their real positions unchanged, so batching never changes a vector.
 */
export interface LmEmbedderOptions {
  /** Upper bound on B × T per forward pass (activation memory grows with it). */
  batchTokens: number;
  /** Batch T is rounded up to a multiple of this, so few distinct shapes are allocated. */
  lengthQuantum: number;
}

export const LM_DEFAULTS: LmEmbedderOptions = { batchTokens: 8192, lengthQuantum: 32 };

export class LmEmbedder implements Embedder {
  readonly kind = 'lm' as const;
  readonly dim: number;
  /** Longest document (without bos) a forward pass takes. */
  readonly maxDocTokens: number;

  constructor(
    readonly model: LanguageModel,
    readonly options: LmEmbedderOptions = LM_DEFAULTS,
  ) {
    if (!Number.isInteger(options.batchTokens) || options.batchTokens < 2) throw new RangeError(`lm embedder: batchTokens must be an integer ≥ 2, got ${options.batchTokens}`);
    if (!Number.isInteger(options.lengthQuantum) || options.lengthQuantum < 1) throw new RangeError(`lm embedder: lengthQuantum must be a positive integer, got ${options.lengthQuantum}`);
    this.dim = model.config.hiddenSize;
    this.maxDocTokens = Math.min(model.config.maxSeqLen, options.batchTokens) - 1;
  }

  /** Mean-pooled vectors (n, C) for token lists (without bos), in input order; empty lists give zero rows. */
  async embedTokens(docs: readonly Int32Array[], onProgress?: (done: number) => void): Promise<Float32Array> {
    const C = this.dim;
    const out = new Float32Array(docs.length * C);
    const { bosTokenId, padTokenId, maxSeqLen } = this.model.config;
    const lens = docs.map((d) => Math.min(d.length, this.maxDocTokens));
    const order = docs.map((_, i) => i).filter((i) => lens[i]! > 0);
    order.sort((a, b) => lens[a]! - lens[b]! || a - b);
    onProgress?.(docs.length - order.length);

    const q = this.options.lengthQuantum;
    for (let s = 0; s < order.length; ) {
      // The batch's T comes from its longest (last, after sorting) member; grow B while B·T fits.
      let e = s + 1;
      const tOf = (i: number) => Math.min(Math.ceil((lens[order[i]!]! + 1) / q) * q, maxSeqLen);
      while (e < order.length && (e - s + 1) * tOf(e) <= this.options.batchTokens) e++;
      const B = e - s;
      const T = tOf(e - 1);
      const tokens = new Int32Array(B * T).fill(padTokenId); // (B, T)
      for (let b = 0; b < B; b++) {
        const i = order[s + b]!;
        tokens[b * T] = bosTokenId;
        tokens.set(docs[i]!.subarray(0, lens[i]!), b * T + 1);
      }
      const hidden = this.model.hiddenStates(tokens, B, T); // (B, T, C)
      for (let b = 0; b < B; b++) {
        const i = order[s + b]!;
        const n = lens[i]!;
        const row = out.subarray(i * C, (i + 1) * C);
        for (let t = 1; t <= n; t++) {
          const off = (b * T + t) * C;
          for (let c = 0; c < C; c++) row[c] += hidden[off + c]!;
        }
        for (let c = 0; c < C; c++) row[c] /= n;
      }
      onProgress?.(B);
      s = e;
      await new Promise<void>((resolve) => setImmediate(resolve)); // let progress and signals through
    }
    return out;
  }

  embed(inputs: readonly EmbedInput[], onProgress?: (done: number) => void): Promise<Float32Array> {
    return this.embedTokens(
      inputs.map((x) => x.tokens),
      onProgress,
    );
  }

  async close(): Promise<void> {
    this.model.dispose?.();
  }
}
