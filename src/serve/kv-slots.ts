import type { Backend } from '../engine/backend.js';
import { LlamaKVCache } from '../model/kv-cache.js';
import type { LlamaModel } from '../model/llama.js';

/**
 * The KV cache of a continuously batched decoder, cut into slots (batch rows) that sequences lease.
 *
 * A decode step costs the same for every row of the cache, running or not, so the cache is kept
 * about as wide as the number of running sequences: its width B is a power of two (at most
 * `maxSlots`), doubled when more sequences are admitted and halved when at most a quarter of it is in
 * use. Its capacity (positions per slot) likewise grows in powers of two up to the model's context.
 * Resizing allocates a new cache and copies each live slot's cached rows, which costs far less than
 * one decode step over idle rows.
 */
export class KVSlots {
  private cache: LlamaKVCache;
  private readonly backend: Backend;

  constructor(
    private readonly model: LlamaModel,
    readonly maxSlots: number,
  ) {
    if (!Number.isInteger(maxSlots) || maxSlots < 1) throw new RangeError(`maxSlots must be a positive integer, got ${maxSlots}`);
    this.backend = model.backend;
    this.cache = this.create(1, Math.min(64, model.config.maxSeqLen));
  }

  get current(): LlamaKVCache {
    return this.cache;
  }

  get width(): number {
    return this.cache.B;
  }

  get capacity(): number {
    return this.cache.capacity;
  }

  /** The smallest width ≥ `slots` this pool uses. */
  widthFor(slots: number): number {
    return Math.min(this.maxSlots, nextPowerOfTwo(Math.max(1, slots)));
  }

  /** The smallest capacity ≥ `positions` this pool uses. */
  capacityFor(positions: number): number {
    return Math.min(this.model.config.maxSeqLen, nextPowerOfTwo(Math.max(1, positions)));
  }

  /**
   * Rebuilds the cache with `width` slots of `capacity` positions. `live[i]` is the slot that moves
   * to slot i (its cached rows and length are copied); returns nothing — callers renumber their
   * sequences to 0..live.length-1.
   */
  resize(width: number, capacity: number, live: readonly number[]): void {
    if (live.length > width) throw new Error(`resize: ${live.length} live slots do not fit in width ${width}`);
    const old = this.cache;
    const next = this.create(width, capacity);
    live.forEach((from, to) => {
      const len = old.lens[from]!;
      if (len > capacity) throw new Error(`resize: slot ${from} holds ${len} positions, more than the new capacity ${capacity}`);
      copySlot(this.backend, old, from, next, to, len);
    });
    this.cache = next;
  }

  /** Copies the first `len` cached positions of `src`'s slot `from` into slot `to` of this cache. */
  importSlot(src: LlamaKVCache, from: number, to: number, len: number): void {
    copySlot(this.backend, src, from, this.cache, to, len);
  }

  /** Marks slot `slot` empty; its rows are overwritten by whoever leases it next. */
  release(slot: number): void {
    this.cache.lens[slot] = 0;
  }

  private create(width: number, capacity: number): LlamaKVCache {
    const c = this.model.createKVCache(width, capacity);
    if (!(c instanceof LlamaKVCache)) throw new Error('KVSlots needs the LlamaKVCache layout (B, Tcap, KVH, D)');
    return c;
  }
}

/** dst[to, 0:len] = src[from, 0:len] for every layer's keys and values; sets dst's length. */
export function copySlot(backend: Backend, src: LlamaKVCache, from: number, dst: LlamaKVCache, to: number, len: number): void {
  const row = src.config.numKVHeads * src.config.headDim; // elements per cached position
  if (len > 0) {
    for (let l = 0; l < src.k.length; l++) {
      for (const [s, d] of [
        [src.k[l]!, dst.k[l]!],
        [src.v[l]!, dst.v[l]!],
      ] as const) {
        backend.copy(backend.view(d, to * dst.capacity * row, [len * row]), backend.view(s, from * src.capacity * row, [len * row]));
      }
    }
  }
  dst.lens[to] = len;
}

function nextPowerOfTwo(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}
