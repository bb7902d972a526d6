import { UserError } from '../common/errors.js';
import type { Batch } from '../model/types.js';
import { Rng } from '../sample/rng.js';
import { emptyBatch, type BatchSource, type BatchSourceState, type DocumentCorpus, type FramingTokens } from './batch-source.js';

interface PackedState extends BatchSourceState {
  kind: 'packed';
  seed: number;
  numDocs: number;
  epoch: number; // passes over the corpus started so far (0-based)
  cursor: number; // index into this epoch's document order
  offset: number; // position inside the framed document [bos] tokens [eos]
}

/**
 * Language-model batches: documents framed as `[bos] tokens [eos]`, concatenated in a seeded order
 * (a fresh permutation per epoch) and cut into rows of T+1 tokens that overlap by one, so every token
 * of the stream is a target exactly once. Inputs are row[0, T), targets row[1, T]; the mask is null
 * (every position counts). The position is (epoch, cursor, offset), so resuming is exact.
 */
export class PackedBatchSource implements BatchSource {
  private epoch = 0;
  private cursor = 0;
  private offset = 0;
  private order: Uint32Array;
  private readonly row: Int32Array;
  private readonly batch: Batch;

  constructor(
    private readonly corpus: DocumentCorpus,
    readonly B: number,
    readonly T: number,
    private readonly framing: FramingTokens,
    private readonly seed: number,
    private readonly label = 'training data',
  ) {
    if (corpus.numDocs === 0) throw new UserError(`${label} holds no documents: tokenize a non-empty split first`);
    if (!Number.isInteger(B) || B < 1 || !Number.isInteger(T) || T < 1) throw new RangeError(`PackedBatchSource needs B, T >= 1, got ${B}, ${T}`);
    this.order = this.permutation(0);
    this.row = new Int32Array(T + 1);
    this.batch = emptyBatch(B, T, false);
  }

  get tokensPerBatch(): number {
    return this.B * this.T;
  }

  next(): Batch {
    const { B, T } = this;
    for (let b = 0; b < B; b++) {
      this.read(T, this.row, 0, true);
      this.read(1, this.row, T, false); // peek: the last target is the next row's first input
      this.batch.tokens.set(this.row.subarray(0, T), b * T);
      this.batch.targets.set(this.row.subarray(1, T + 1), b * T);
    }
    return this.batch;
  }

  state(): PackedState {
    return { kind: 'packed', seed: this.seed, numDocs: this.corpus.numDocs, epoch: this.epoch, cursor: this.cursor, offset: this.offset };
  }

  restore(state: BatchSourceState): void {
    const s = state as PackedState;
    if (s.kind !== 'packed' || s.seed !== this.seed || s.numDocs !== this.corpus.numDocs) {
      throw new UserError(
        `cannot resume ${this.label}: the checkpoint was taken over ${s.numDocs} documents with seed ${s.seed} (${s.kind}), ` +
          `now there are ${this.corpus.numDocs} with seed ${this.seed}; the data changed — retrain with --force`,
      );
    }
    this.epoch = s.epoch;
    this.cursor = s.cursor;
    this.offset = s.offset;
    this.order = this.permutation(this.epoch);
  }

  /** Epochs completed plus the fraction of the current one (for logs). */
  get epochs(): number {
    return this.epoch + this.cursor / this.corpus.numDocs;
  }

  private permutation(epoch: number): Uint32Array {
    return new Rng([this.seed, epoch]).permutation(this.corpus.numDocs);
  }

  /** Copies the next n stream tokens into dst[at...]; advances the position only when `advance`. */
  private read(n: number, dst: Int32Array, at: number, advance: boolean): void {
    let { epoch, cursor, offset } = this;
    let order = this.order;
    let doc = this.corpus.doc(order[cursor]!);
    for (let i = 0; i < n; i++) {
      const framed = doc.length + 2;
      dst[at + i] = offset === 0 ? this.framing.bos : offset === framed - 1 ? this.framing.eos : doc[offset - 1]!;
      offset++;
      if (offset === framed) {
        offset = 0;
        cursor++;
        if (cursor === this.corpus.numDocs) {
          cursor = 0;
          epoch++;
          order = this.permutation(epoch);
        }
        doc = this.corpus.doc(order[cursor]!);
      }
    }
    if (advance) {
      this.epoch = epoch;
      this.cursor = cursor;
      this.offset = offset;
      this.order = order;
    }
  }
}
