import type { Batch } from '../model/types.js';
import type { DocumentCorpus, FramingTokens } from '../train/batch-source.js';
import { framePair, type SynthFraming } from './synth-framing.js';

/** Directed pairs d1 → d2 as document indices of a `DocumentCorpus`. */
export interface PairIndex {
  readonly d1: Uint32Array;
  readonly d2: Uint32Array;
}

/**
 * How a pair becomes one row:
 *   conditional    `[bos] d1 [sep] d2 [eos]` — the synthesizer's p(d2 | d1)
 *   unconditional  `[bos] d2 [eos]`          — a plain LM's p(d2), the baseline to compare with
 * Both count the loss on the same targets (the kept d2 tokens, plus the eos when d2 fit whole), so
 * their mean losses are directly comparable.
 */
export type PairRowMode = 'conditional' | 'unconditional';

export type PairFramingTokens = Required<Pick<FramingTokens, 'bos' | 'eos' | 'sep' | 'pad'>>;

/**
 * Writes row `b` of `batch` for pair (d1, d2); returns the number of loss-counted positions.
 * Positions past the row's end hold `pad` with mask 0.
 */
export function writePairRow(
  batch: Batch,
  b: number,
  scratch: Int32Array, // (T + 1)
  corpus: DocumentCorpus,
  d1: number,
  d2: number,
  f: SynthFraming,
  tok: PairFramingTokens,
  mode: PairRowMode,
): number {
  const T = batch.T;
  const doc1 = corpus.doc(d1);
  const doc2 = corpus.doc(d2);
  const fr = framePair(f, doc1.length, doc2.length);
  let i = 0;
  scratch[i++] = tok.bos;
  if (mode === 'conditional') {
    for (let j = 0; j < fr.d1Len; j++) scratch[i++] = doc1[j]!;
    scratch[i++] = tok.sep;
  }
  const first = i; // row index of the first target token
  for (let j = 0; j < fr.d2Len; j++) scratch[i++] = doc2[j]!;
  if (fr.d2Complete) scratch[i++] = tok.eos;
  const last = i - 1;
  scratch.fill(tok.pad, i);
  batch.tokens.set(scratch.subarray(0, T), b * T);
  batch.targets.set(scratch.subarray(1, T + 1), b * T);
  const mask = batch.mask!;
  let counted = 0;
  // Position t predicts scratch[t + 1].
  for (let t = 0; t < T; t++) {
    const on = t + 1 >= first && t + 1 <= last ? 1 : 0;
    mask[b * T + t] = on;
    counted += on;
  }
  return counted;
}

/**
 * Fixed evaluation batches over `pairs` (in the given order, each once); the last batch is filled
 * with fully masked rows so every batch has shape (B, T).
 */
export function pairBatches(corpus: DocumentCorpus, pairs: PairIndex, B: number, f: SynthFraming, tok: PairFramingTokens, mode: PairRowMode): Batch[] {
  const T = f.T;
  const scratch = new Int32Array(T + 1);
  const out: Batch[] = [];
  for (let p0 = 0; p0 < pairs.d1.length; p0 += B) {
    const batch: Batch = { B, T, tokens: new Int32Array(B * T), targets: new Int32Array(B * T), mask: new Float32Array(B * T) }; // (B, T) each
    for (let b = 0; b < B && p0 + b < pairs.d1.length; b++) writePairRow(batch, b, scratch, corpus, pairs.d1[p0 + b]!, pairs.d2[p0 + b]!, f, tok, mode);
    out.push(batch);
  }
  return out;
}
