import { fmix32 } from '../common/hash.js';
import { permutation } from '../common/permutation.js';

/**
 * A small seeded random generator (xoshiro128**, seeded through splitmix32) whose whole state is four
 * 32-bit words, so a sampler or a data order can be saved in a checkpoint and resumed exactly.
 * Not cryptographic; chosen because it is fast in plain JavaScript integer arithmetic and its
 * output does not depend on the platform.
 */
export type RngState = [number, number, number, number];

export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  /** `seed` is any integer (or a list of integers, e.g. [runSeed, sequenceIndex]). */
  constructor(seed: number | readonly number[]) {
    const parts = typeof seed === 'number' ? [seed] : seed;
    let h = 0x9e3779b9;
    for (const p of parts) {
      if (!Number.isFinite(p)) throw new RangeError(`Rng seed must be finite integers, got ${p}`);
      // Fold both 32-bit halves of the number so seeds above 2^32 still differ.
      h = splitmix32(h ^ (p >>> 0));
      h = splitmix32(h ^ Math.floor(p / 4294967296));
    }
    this.s0 = splitmix32(h);
    this.s1 = splitmix32(this.s0 ^ 0x6a09e667);
    this.s2 = splitmix32(this.s1 ^ 0xbb67ae85);
    this.s3 = splitmix32(this.s2 ^ 0x3c6ef372);
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1; // the all-zero state is a fixed point
  }

  static fromState(state: RngState): Rng {
    const r = new Rng(0);
    r.setState(state);
    return r;
  }

  state(): RngState {
    return [this.s0 >>> 0, this.s1 >>> 0, this.s2 >>> 0, this.s3 >>> 0];
  }

  setState(state: readonly number[]): void {
    if (state.length !== 4 || state.some((x) => !Number.isInteger(x) || x < 0 || x > 0xffffffff)) {
      throw new RangeError(`Rng state must be four unsigned 32-bit integers, got ${JSON.stringify(state)}`);
    }
    [this.s0, this.s1, this.s2, this.s3] = state as RngState;
  }

  /** Uniform unsigned 32-bit integer. */
  nextU32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform float in [0, 1) with 53 random bits. */
  float(): number {
    const hi = this.nextU32() >>> 5; // 27 bits
    const lo = this.nextU32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Uniform integer in [0, n), without modulo bias. */
  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0 || n > 0x100000000) throw new RangeError(`Rng.int needs 1 <= n <= 2^32, got ${n}`);
    const limit = 0x100000000 - (0x100000000 % n);
    for (;;) {
      const x = this.nextU32();
      if (x < limit) return x % n;
    }
  }

  /** Fisher–Yates permutation of [0, n). */
  permutation(n: number): Uint32Array {
    return permutation(n, (k) => this.int(k));
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

function splitmix32(a: number): number {
  return fmix32((a + 0x9e3779b9) | 0);
}
