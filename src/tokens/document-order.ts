import { UserError } from '../common/errors.js';
import { KeyedRandom } from './keyed-random.js';
import { permutation as fisherYates } from '../common/permutation.js';

export interface DocumentOrderOptions {
  seed: number;
  shuffle?: boolean; // false: 0, 1, 2, … every epoch (default true)
  stream?: number; // separates orders that share a seed (e.g. one per mixture component)
}

/** Everything needed to continue an order exactly where it stopped (JSON-safe; save it in a checkpoint). */
export interface DocumentOrderState {
  seed: number;
  stream: number;
  shuffle: boolean;
  numDocs: number;
  epoch: number; // epochs fully consumed before the current one
  position: number; // index, in the current epoch's permutation, of the next document
}

/**
 * An endless sequence of document numbers: epoch after epoch, each a fresh permutation of
 * 0..numDocs-1 drawn from (seed, stream, epoch). The permutation is rebuilt from its key, never
 * stored, so the state is four numbers and resuming replays nothing.
 * Memory: one Uint32Array of numDocs per live order.
 */
export class DocumentOrder {
  readonly numDocs: number;
  readonly seed: number;
  readonly stream: number;
  readonly shuffle: boolean;
  private epochIndex = 0;
  private pos = 0;
  private perm: Uint32Array | undefined; // (numDocs,) the current epoch's order

  constructor(numDocs: number, opts: DocumentOrderOptions) {
    if (!(Number.isInteger(numDocs) && numDocs >= 0 && numDocs <= 2 ** 32)) throw new RangeError(`numDocs must be a whole number in 0..2^32, got ${numDocs}`);
    if (!Number.isInteger(opts.seed) || opts.seed < 0) throw new RangeError(`seed must be a non-negative whole number, got ${opts.seed}`);
    this.numDocs = numDocs;
    this.seed = opts.seed;
    this.stream = opts.stream ?? 0;
    this.shuffle = opts.shuffle ?? true;
  }

  get epoch(): number {
    return this.epochIndex;
  }

  get position(): number {
    return this.pos;
  }

  /** The next document number; rolls into the next epoch after the last one. */
  next(): number {
    if (this.numDocs === 0) throw new Error('DocumentOrder.next() on an empty dataset');
    if (this.pos === this.numDocs) {
      this.epochIndex++;
      this.pos = 0;
      this.perm = undefined;
    }
    const i = this.pos++;
    if (!this.shuffle) return i;
    this.perm ??= permutation(this.numDocs, new KeyedRandom(this.seed, this.stream, this.epochIndex));
    return this.perm[i]!;
  }

  state(): DocumentOrderState {
    return { seed: this.seed, stream: this.stream, shuffle: this.shuffle, numDocs: this.numDocs, epoch: this.epochIndex, position: this.pos };
  }

  /** Continues from a saved state; refuses one taken over other data or with another seed. */
  restore(s: DocumentOrderState): void {
    const mismatch = (['seed', 'stream', 'shuffle', 'numDocs'] as const).filter((k) => s[k] !== this[k]);
    if (mismatch.length > 0) {
      throw new UserError(
        `cannot resume a document order: saved ${mismatch.map((k) => `${k}=${s[k]}`).join(', ')} but this one has ${mismatch.map((k) => `${k}=${this[k]}`).join(', ')}; the data or seed changed since the state was saved — resume with the same tokens and seed, or start over`,
      );
    }
    if (!(Number.isInteger(s.epoch) && s.epoch >= 0 && Number.isInteger(s.position) && s.position >= 0 && s.position <= this.numDocs)) {
      throw new Error(`cannot resume a document order: epoch ${s.epoch}, position ${s.position} is not a place in ${this.numDocs} documents`);
    }
    if (s.epoch !== this.epochIndex) this.perm = undefined;
    this.epochIndex = s.epoch;
    this.pos = s.position;
  }
}

/** A uniform random permutation of 0..n-1 (Fisher–Yates) drawn from `rng`. */
export function permutation(n: number, rng: KeyedRandom): Uint32Array {
  return fisherYates(n, (k) => rng.below(k));
}
