import type { Tensor } from '../engine/backend.js';
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
  greedy: boolean; // every scored token is the argmax of its distribution (ties go to the lower id); false when not asked for
}

export interface TokenScorerOptions {
  /** Upper bound on B × T per forward pass; the host holds B × T × V logits at once. */
  batchTokens: number;
  /** Batch T is rounded up to a multiple of this, so few distinct shapes are allocated. */
  lengthQuantum?: number;
  /** Compute `greedy` (one compare pass over V per scored token; perplexity does not need it). Default true. */
  greedy?: boolean;
  /** Called after each forward pass with the sequences finished so far. */
  onProgress?: (done: number) => void;
}

/** Rows of logits sent back to the backend per cross-entropy call (CE_ROWS × V floats of scratch). */
const CE_ROWS = 256;

/** Backend scratch for the cross-entropy of gathered positions, one per model (backends have no free). */
interface CrossEntropyScratch {
  logits: Tensor; // (CE_ROWS, V) f32
  targets: Tensor; // (CE_ROWS) i32
  losses: Tensor; // (CE_ROWS) f32
  hostLogits: Float32Array; // (CE_ROWS, V)
  hostTargets: Int32Array; // (CE_ROWS)
}
const scratchByModel = new WeakMap<LanguageModel, CrossEntropyScratch>();

function scratchFor(lm: LanguageModel): CrossEntropyScratch {
  let s = scratchByModel.get(lm);
  if (!s) {
    const V = lm.config.vocabSize;
    const be = lm.backend;
    s = { logits: be.alloc([CE_ROWS, V]), targets: be.alloc([CE_ROWS], 'i32'), losses: be.alloc([CE_ROWS]), hostLogits: new Float32Array(CE_ROWS * V), hostTargets: new Int32Array(CE_ROWS) };
    scratchByModel.set(lm, s);
  }
  return s;
}

/**
 * Log-likelihood of continuations under a causal LM, batched: sequences are sorted by length, packed
 * into (B, T) batches right-padded with the pad id (padding after a sequence cannot change its
 * logits under causal attention). The logits of the scored positions are gathered and their
 * cross-entropy taken by the backend's own kernel (the op the trainer's loss uses; a host
 * log-softmax over V costs several times the forward pass); sums are kept in float64. One primitive
 * serves perplexity windows, multiple-choice options and cloze words.
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

  const wantGreedy = opts.greedy ?? true;
  const out: SequenceScore[] = seqs.map(() => ({ logProb: 0, tokens: 0, greedy: wantGreedy }));
  const scratch = scratchFor(lm);
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
    // Gather the scored positions (row b, position k-1 predicts token k) in chunks of CE_ROWS.
    let n = 0;
    const owners = new Int32Array(CE_ROWS); // sequence of each gathered position
    const flush = () => {
      if (n === 0) return;
      const be = lm.backend;
      const lv = be.view(scratch.logits, 0, [n, V]);
      const tv = be.view(scratch.targets, 0, [n]);
      const ov = be.view(scratch.losses, 0, [n]);
      be.upload(lv, scratch.hostLogits.subarray(0, n * V));
      be.upload(tv, scratch.hostTargets.subarray(0, n));
      be.crossEntropyForward(ov, lv, tv, null);
      const losses = be.download(ov); // (n) nats
      for (let j = 0; j < n; j++) out[owners[j]!]!.logProb -= losses[j]!;
      n = 0;
    };
    for (let b = 0; b < B; b++) {
      const i = order[s + b]!;
      const { tokens: seq, scoreStart } = seqs[i]!;
      const r = out[i]!;
      for (let k = scoreStart; k < seq.length; k++) {
        const off = (b * T + k - 1) * V;
        const target = seq[k]!;
        if (wantGreedy && r.greedy && !isArgmax(logits, off, V, target)) r.greedy = false;
        scratch.hostLogits.set(logits.subarray(off, off + V), n * V);
        scratch.hostTargets[n] = target;
        owners[n++] = i;
        r.tokens++;
        if (n === CE_ROWS) flush();
      }
    }
    flush();
    done += B;
    opts.onProgress?.(done);
    s = e;
    await new Promise<void>((resolve) => setImmediate(resolve)); // let progress output and signals through
  }
  return out;
}

/** True when `target` is the argmax of x[off, off+V) with ties going to the lower id; stops at the first counter-example. */
function isArgmax(x: Float32Array, off: number, V: number, target: number): boolean {
  const t = x[off + target]!;
  for (let v = 0; v < target; v++) if (x[off + v]! >= t) return false;
  for (let v = target + 1; v < V; v++) if (x[off + v]! > t) return false;
  return true;
}
