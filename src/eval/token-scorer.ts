import type { LanguageModel } from '../model/types.js';

/**
 * A token sequence to score: `tokens[scoreStart..]` are scored, each given every token before it in
 * the sequence (the model reads `tokens[0..n-2]` and predicts `tokens[1..n-1]`).
 */
export interface ScoredSequence {
  tokens: Int32Array; // (n) ids, n - 1 <= the model's maxSeqLen
  scoreStart: number; // index of the first scored token, 1 <= scoreStart <= n
}

export interface SequenceScore {
  logProb: number; // Σ log p(token | prefix) over the scored tokens, nats (<= 0)
  tokens: number; // scored tokens
  greedy: boolean; // every scored token is the argmax of its distribution (ties go to the lower id)
}

export interface TokenScorerOptions {
  /** Upper bound on B × T per forward pass; the host holds B × T × V logits at once. */
  batchTokens: number;
  /** Batch T is rounded up to a multiple of this, so few distinct shapes are allocated. */
  lengthQuantum?: number;
  /** Called after each forward pass with the sequences finished so far. */
  onProgress?: (done: number) => void;
}

/**
 * Log-likelihood of continuations under a causal LM, batched: sequences are sorted by length, packed
 * into (B, T) batches right-padded with the pad id (padding after a sequence cannot change its
 * logits under causal attention), and the log-softmax of each scored position is taken on the host
 * in float64. One primitive serves perplexity windows, multiple-choice options and cloze words.
 */
export async function scoreSequences(lm: LanguageModel, seqs: readonly ScoredSequence[], opts: TokenScorerOptions): Promise<SequenceScore[]> {
  const { maxSeqLen, padTokenId, vocabSize: V } = lm.config;
  const quantum = opts.lengthQuantum ?? 32;
  if (!Number.isInteger(opts.batchTokens) || opts.batchTokens < 2) throw new RangeError(`batchTokens must be an integer >= 2, got ${opts.batchTokens}`);
  const inputLen = (i: number) => seqs[i]!.tokens.length - 1;
  seqs.forEach((s, i) => {
    const n = s.tokens.length;
    if (n - 1 > maxSeqLen) throw new RangeError(`sequence ${i}: ${n - 1} input tokens exceed the model's context ${maxSeqLen}; cut it into windows first`);
    if (!(Number.isInteger(s.scoreStart) && s.scoreStart >= 1 && s.scoreStart <= n)) throw new RangeError(`sequence ${i}: scoreStart ${s.scoreStart} is outside 1..${n}`);
  });

  const out: SequenceScore[] = seqs.map(() => ({ logProb: 0, tokens: 0, greedy: true }));
  // Only sequences with something to score go through the model.
  const order = seqs.map((_, i) => i).filter((i) => seqs[i]!.scoreStart < seqs[i]!.tokens.length);
  order.sort((a, b) => inputLen(a) - inputLen(b) || a - b);
  let done = seqs.length - order.length;
  const tOf = (i: number) => Math.min(Math.ceil(Math.max(inputLen(i), 1) / quantum) * quantum, maxSeqLen);
  for (let s = 0; s < order.length; ) {
    // The batch's T comes from its longest (last) member; grow B while B·T fits.
    let e = s + 1;
    while (e < order.length && (e - s + 1) * tOf(order[e]!) <= opts.batchTokens) e++;
    const B = e - s;
    const T = tOf(order[e - 1]!);
    const tokens = new Int32Array(B * T).fill(padTokenId); // (B, T)
    for (let b = 0; b < B; b++) {
      const seq = seqs[order[s + b]!]!.tokens;
      tokens.set(seq.subarray(0, seq.length - 1), b * T);
    }
    const logits = lm.logits(tokens, B, T); // (B, T, V)
    for (let b = 0; b < B; b++) {
      const i = order[s + b]!;
      const { tokens: seq, scoreStart } = seqs[i]!;
      const r = out[i]!;
      for (let k = scoreStart; k < seq.length; k++) {
        // position k-1 predicts token k
        const off = (b * T + k - 1) * V;
        const target = seq[k]!;
        let max = -Infinity;
        let best = 0;
        for (let v = 0; v < V; v++) {
          const x = logits[off + v]!;
          if (x > max) {
            max = x;
            best = v;
          }
        }
        let sum = 0;
        for (let v = 0; v < V; v++) sum += Math.exp(logits[off + v]! - max);
        r.logProb += logits[off + target]! - max - Math.log(sum);
        r.tokens++;
        if (best !== target) r.greedy = false;
      }
    }
    done += B;
    opts.onProgress?.(done);
    s = e;
    await new Promise<void>((resolve) => setImmediate(resolve)); // let progress output and signals through
  }
  return out;
}
