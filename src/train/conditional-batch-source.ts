import { UserError } from '../common/errors.js';
import type { Batch } from '../model/types.js';
import { Rng } from '../sample/rng.js';
import { emptyBatch, type BatchSource, type BatchSourceState, type FramingTokens } from './batch-source.js';

/** A conditional example: learn p(target | context), e.g. d2 given d1 for the synthesizer. */
export interface ConditionalExample {
  context: ArrayLike<number>;
  target: ArrayLike<number>;
}

export interface ConditionalCorpus {
  readonly numExamples: number;
  example(i: number): ConditionalExample;
}

interface ConditionalState extends BatchSourceState {
  kind: 'conditional';
  seed: number;
  numExamples: number;
  epoch: number;
  cursor: number;
}

/**
 * One example per row: `[bos] context [sep] target [eos]`, padded with `pad` to T+1 tokens; the loss
 * mask is 1 exactly where the next token is a target token or the final eos, so the model learns the
 * target given the context and nothing else. When a row is too long the context is cut from the left
 * (keeping the part nearest the separator), keeping at least half the row for the target, then the
 * target is cut at the end. Examples come in a fresh seeded permutation per epoch.
 */
export class ConditionalBatchSource implements BatchSource {
  private epoch = 0;
  private cursor = 0;
  private order: Uint32Array;
  private readonly row: Int32Array;
  private readonly batch: Batch;
  private readonly sep: number;
  private readonly pad: number;

  constructor(
    private readonly corpus: ConditionalCorpus,
    readonly B: number,
    readonly T: number,
    framing: FramingTokens,
    private readonly seed: number,
  ) {
    if (corpus.numExamples === 0) throw new UserError('the conditional training data holds no examples (no pairs were mined?)');
    if (framing.sep === undefined || framing.pad === undefined) throw new UserError('conditional examples need the tokenizer to define sep and pad tokens');
    if (T < 4) throw new RangeError(`ConditionalBatchSource needs T >= 4, got ${T}`);
    this.sep = framing.sep;
    this.pad = framing.pad;
    this.bos = framing.bos;
    this.eos = framing.eos;
    this.order = new Rng([seed, 0]).permutation(corpus.numExamples);
    this.row = new Int32Array(T + 1);
    this.batch = emptyBatch(B, T, true);
  }

  private readonly bos: number;
  private readonly eos: number;

  get tokensPerBatch(): number {
    return this.B * this.T;
  }

  next(): Batch {
    const { B, T } = this;
    const mask = this.batch.mask!;
    for (let b = 0; b < B; b++) {
      const ex = this.corpus.example(this.order[this.cursor]!);
      const { first, last } = this.frame(ex);
      this.batch.tokens.set(this.row.subarray(0, T), b * T);
      this.batch.targets.set(this.row.subarray(1, T + 1), b * T);
      // Position t predicts row[t + 1]: counted when row[t + 1] is in [first, last].
      for (let t = 0; t < T; t++) mask[b * T + t] = t + 1 >= first && t + 1 <= last ? 1 : 0;
      this.cursor++;
      if (this.cursor === this.corpus.numExamples) {
        this.cursor = 0;
        this.epoch++;
        this.order = new Rng([this.seed, this.epoch]).permutation(this.corpus.numExamples);
      }
    }
    return this.batch;
  }

  /** Writes the row; returns the row indices of the first target token and of the closing eos (or last kept target token). */
  private frame(ex: ConditionalExample): { first: number; last: number } {
    const room = this.T + 1 - 3; // minus bos, sep, eos
    const targetLen = Math.min(ex.target.length, Math.max(room - ex.context.length, Math.ceil(room / 2)));
    const contextLen = Math.min(ex.context.length, room - targetLen);
    const row = this.row;
    let i = 0;
    row[i++] = this.bos;
    for (let j = ex.context.length - contextLen; j < ex.context.length; j++) row[i++] = ex.context[j]!;
    row[i++] = this.sep;
    const first = i;
    for (let j = 0; j < targetLen; j++) row[i++] = ex.target[j]!;
    // The eos is learned only when the whole target fit (a cut target did not end there).
    if (targetLen === ex.target.length) row[i++] = this.eos;
    const last = i - 1;
    while (i < row.length) row[i++] = this.pad;
    return { first, last };
  }

  state(): ConditionalState {
    return { kind: 'conditional', seed: this.seed, numExamples: this.corpus.numExamples, epoch: this.epoch, cursor: this.cursor };
  }

  restore(state: BatchSourceState): void {
    const s = state as ConditionalState;
    if (s.kind !== 'conditional' || s.seed !== this.seed || s.numExamples !== this.corpus.numExamples) {
      throw new UserError(`cannot resume: the checkpoint's conditional data (${s.numExamples} examples, seed ${s.seed}) differs from the current one (${this.corpus.numExamples}, seed ${this.seed}); retrain with --force`);
    }
    this.epoch = s.epoch;
    this.cursor = s.cursor;
    this.order = new Rng([this.seed, this.epoch]).permutation(this.corpus.numExamples);
  }
}
