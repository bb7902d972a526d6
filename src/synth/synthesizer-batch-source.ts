import { UserError } from '../common/errors.js';
import type { Batch } from '../model/types.js';
import { Rng } from '../sample/rng.js';
import { emptyBatch, type BatchSource, type BatchSourceState, type DocumentCorpus } from '../train/batch-source.js';
import { writePairRow, type PairFramingTokens, type PairIndex } from './pair-rows.js';
import type { SynthFraming } from './synth-framing.js';

interface SynthesizerState extends BatchSourceState {
  kind: 'synthesizer-pairs';
  seed: number;
  numPairs: number;
  epoch: number;
  cursor: number;
}

/**
 * Synthesizer tuning batches: one pair per row, `[bos] d1 [sep] d2 [eos]` cut by `SynthFraming`, loss
 * on d2's tokens only (and on the eos when d2 fit whole). Pairs come in a fresh seeded permutation per
 * epoch; the position (epoch, cursor) is the saved state, so a resumed run continues with the next pair.
 */
export class SynthesizerBatchSource implements BatchSource {
  private epoch = 0;
  private cursor = 0;
  private order: Uint32Array;
  private readonly batch: Batch;
  private readonly scratch: Int32Array;
  readonly T: number;

  constructor(
    private readonly corpus: DocumentCorpus,
    private readonly pairs: PairIndex,
    readonly B: number,
    private readonly framing: SynthFraming,
    private readonly tok: PairFramingTokens,
    private readonly seed: number,
  ) {
    if (pairs.d1.length === 0) throw new UserError('no training pairs left for the synthesizer (all pairs touch held-out documents, or none were mined); lower tune.heldoutFraction or mine more pairs');
    if (!Number.isInteger(B) || B < 1) throw new RangeError(`SynthesizerBatchSource needs B >= 1, got ${B}`);
    this.T = framing.T;
    this.order = new Rng([seed, 0]).permutation(pairs.d1.length);
    this.batch = emptyBatch(B, this.T, true);
    this.scratch = new Int32Array(this.T + 1);
  }

  get tokensPerBatch(): number {
    return this.B * this.T;
  }

  next(): Batch {
    const n = this.pairs.d1.length;
    for (let b = 0; b < this.B; b++) {
      const p = this.order[this.cursor]!;
      writePairRow(this.batch, b, this.scratch, this.corpus, this.pairs.d1[p]!, this.pairs.d2[p]!, this.framing, this.tok, 'conditional');
      this.cursor++;
      if (this.cursor === n) {
        this.cursor = 0;
        this.epoch++;
        this.order = new Rng([this.seed, this.epoch]).permutation(n);
      }
    }
    return this.batch;
  }

  /** Passes over the training pairs completed so far (fractional). */
  get epochs(): number {
    return this.epoch + this.cursor / this.pairs.d1.length;
  }

  state(): SynthesizerState {
    return { kind: 'synthesizer-pairs', seed: this.seed, numPairs: this.pairs.d1.length, epoch: this.epoch, cursor: this.cursor };
  }

  restore(state: BatchSourceState): void {
    const s = state as SynthesizerState;
    if (s.kind !== 'synthesizer-pairs' || s.seed !== this.seed || s.numPairs !== this.pairs.d1.length) {
      throw new UserError(
        `cannot resume synthesizer tuning: the checkpoint was made on ${s.numPairs} pairs with seed ${s.seed}, the current data has ${this.pairs.d1.length} pairs with seed ${this.seed}; rerun \`sbp tune --force\``,
      );
    }
    this.epoch = s.epoch;
    this.cursor = s.cursor;
    this.order = new Rng([this.seed, this.epoch]).permutation(this.pairs.d1.length);
  }
}
