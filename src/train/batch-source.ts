import type { Batch } from '../model/types.js';

/** Documents as token ids; `TokenDataset` (tokens/) satisfies this. */
export interface DocumentCorpus {
  readonly numDocs: number;
  doc(i: number): ArrayLike<number>;
}

/**
 * Where the trainer gets its batches. Language-model pretraining packs documents
 * (`PackedBatchSource`); synthesizer tuning feeds `[bos] d1 [sep] d2 [eos]` rows with loss on d2 only
 * (`SynthesizerBatchSource` in src/synth). Any other source works as long as its position can be saved and restored,
 * because resuming must continue from exactly the next batch.
 */
export interface BatchSource {
  readonly B: number; // rows per batch
  readonly T: number; // tokens per row
  /** The next training batch (the arrays may be reused by the following call). */
  next(): Batch;
  /** The position in the data, JSON-serialisable, saved in every checkpoint. */
  state(): BatchSourceState;
  restore(state: BatchSourceState): void;
  /** Tokens a batch counts towards the budget (B·T for packed rows). */
  readonly tokensPerBatch: number;
}

export interface BatchSourceState {
  kind: string;
  [field: string]: unknown;
}

/** Special token ids a source needs to frame documents. */
export interface FramingTokens {
  bos: number;
  eos: number;
  sep?: number; // between d1 and d2 in conditional examples
  pad?: number; // fills short rows (mask 0)
}

export function emptyBatch(B: number, T: number, withMask: boolean): Batch {
  return {
    B,
    T,
    tokens: new Int32Array(B * T), // (B, T)
    targets: new Int32Array(B * T), // (B, T)
    mask: withMask ? new Float32Array(B * T) : null, // (B, T)
  };
}
