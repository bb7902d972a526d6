import { UserError } from '../common/errors.js';
import type { Batch } from '../model/types.js';
import type { MixtureComponent, MixtureDraw, MixtureState } from '../tokens/mixture-sampler.js';

/** What the batch source needs of a sampler: MixtureSampler (mixed) or PhasedSampler (one component after another). */
export interface DocumentDraws {
  readonly components: readonly MixtureComponent[];
  next(): MixtureDraw | undefined;
  state(): MixtureState;
  restore(s: MixtureState): void;
}
import { emptyBatch, type BatchSource, type BatchSourceState, type FramingTokens } from '../train/batch-source.js';

interface MixtureBatchState extends BatchSourceState {
  kind: 'mixture';
  mixture: MixtureState; // the sampler after drawing `current`
  current: { component: number; doc: number } | null;
  offset: number; // position inside the framed current document [bos] tokens [eos]
  carry: number | null; // last target of the previous row = first input of the next
}

/**
 * Language-model batches from a data mixture (the SBP run: real documents repeated, synthetic ones
 * used once): documents drawn by a MixtureSampler, framed `[bos] tokens [eos]`, concatenated and cut
 * into rows of T+1 tokens overlapping by one, exactly like PackedBatchSource does for one corpus.
 * The state is the sampler's plus the position in the current document, so resuming is exact.
 */
export class MixtureBatchSource implements BatchSource {
  private current: { component: number; doc: number; tokens: ArrayLike<number> } | null = null;
  private offset = 0;
  private carry: number | null = null;
  private readonly batch: Batch;

  constructor(
    private readonly sampler: DocumentDraws,
    readonly B: number,
    readonly T: number,
    private readonly framing: FramingTokens,
    private readonly label = 'training mixture',
  ) {
    if (!Number.isInteger(B) || B < 1 || !Number.isInteger(T) || T < 1) throw new RangeError(`MixtureBatchSource needs B, T >= 1, got ${B}, ${T}`);
    this.batch = emptyBatch(B, T, false);
  }

  get tokensPerBatch(): number {
    return this.B * this.T;
  }

  next(): Batch {
    const { B, T } = this;
    for (let b = 0; b < B; b++) {
      const row = b * T;
      const first = this.carry ?? this.nextToken();
      this.batch.tokens[row] = first;
      for (let t = 0; t < T; t++) {
        const tok = this.nextToken();
        this.batch.targets[row + t] = tok;
        if (t + 1 < T) this.batch.tokens[row + t + 1] = tok;
      }
      this.carry = this.batch.targets[row + T - 1]!;
    }
    return this.batch;
  }

  state(): MixtureBatchState {
    return {
      kind: 'mixture',
      mixture: this.sampler.state(),
      current: this.current ? { component: this.current.component, doc: this.current.doc } : null,
      offset: this.offset,
      carry: this.carry,
    };
  }

  restore(state: BatchSourceState): void {
    const s = state as MixtureBatchState;
    if (s.kind !== 'mixture') throw new UserError(`cannot resume ${this.label}: the checkpoint holds a "${s.kind}" data position, not a mixture; retrain with --force`);
    this.sampler.restore(s.mixture);
    this.current = s.current ? { ...s.current, tokens: this.sampler.components[s.current.component]!.source.doc(s.current.doc) } : null;
    this.offset = s.offset;
    this.carry = s.carry;
  }

  private nextToken(): number {
    if (this.current === null) {
      const draw = this.sampler.next();
      if (!draw) throw new UserError(`${this.label} is used up: every component has run out of documents; give the real data unlimited repetitions`);
      this.current = { component: draw.component, doc: draw.doc, tokens: this.sampler.components[draw.component]!.source.doc(draw.doc) };
      this.offset = 0;
    }
    const doc = this.current.tokens;
    const framed = doc.length + 2;
    const tok = this.offset === 0 ? this.framing.bos : this.offset === framed - 1 ? this.framing.eos : doc[this.offset - 1]!;
    this.offset++;
    if (this.offset === framed) this.current = null;
    return tok;
  }
}
