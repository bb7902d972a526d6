import { fmix32 } from '../common/hash.js';

/**
 * A small deterministic generator for shuffling: 32-bit state stepped by the golden-ratio constant
 * and passed through the murmur3 finaliser (the "splitmix" construction). Not cryptographic; good
 * enough to shuffle documents and, because a stream is fully named by its key, it needs no saved
 * state beyond the key: an epoch's permutation is rebuilt from (seed, stream, epoch).
 */
export class KeyedRandom {
  private state: number;

  constructor(...key: number[]) {
    let s = 0x2545f491;
    for (const k of key) {
      if (!Number.isFinite(k)) throw new RangeError(`KeyedRandom key parts must be finite numbers, got ${k}`);
      // Fold each part in as two 32-bit halves so seeds above 2^32 still differ.
      s = fmix32(s ^ (k >>> 0));
      s = fmix32(s ^ Math.floor(k / 2 ** 32));
    }
    this.state = s;
  }

  /** Next value, uniform on 0..2^32-1. */
  nextU32(): number {
    this.state = (this.state + 0x9e3779b9) | 0;
    return fmix32(this.state);
  }

  /** Uniform integer in [0, n), without modulo bias, for 1 ≤ n ≤ 2^32. */
  below(n: number): number {
    if (!(Number.isInteger(n) && n >= 1 && n <= 2 ** 32)) throw new RangeError(`below(n) needs 1 <= n <= 2^32, got ${n}`);
    const limit = 2 ** 32 - (2 ** 32 % n); // largest multiple of n that fits
    let x = this.nextU32();
    while (x >= limit) x = this.nextU32();
    return x % n;
  }
}

/** A 32-bit FNV-1a hash of a string, to derive a stream key from a name. */
export function hashName(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  return h >>> 0;
}
