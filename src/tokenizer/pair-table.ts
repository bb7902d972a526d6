/**
 * A hash map from a pair of token ids (a, b) to a non-negative int32, with open addressing on typed
 * arrays: the merge loops look pairs up millions of times, and a JS Map keyed by a*2^k+b would
 * box keys that do not fit a small integer.
 */
export class PairTable {
  private keysA: Int32Array; // (capacity) -1 = empty slot
  private keysB: Int32Array; // (capacity)
  private values: Int32Array; // (capacity)
  private mask: number;
  size = 0;

  constructor(expected = 1024) {
    let cap = 16;
    while (cap < expected * 2) cap *= 2;
    this.keysA = new Int32Array(cap).fill(-1);
    this.keysB = new Int32Array(cap);
    this.values = new Int32Array(cap);
    this.mask = cap - 1;
  }

  private slot(a: number, b: number): number {
    let h = Math.imul(a, 0x9e3779b1) ^ Math.imul(b + 0x7f4a7c15, 0x85ebca77);
    h ^= h >>> 15;
    return h & this.mask;
  }

  /** The value stored for (a, b), or -1. */
  get(a: number, b: number): number {
    const keysA = this.keysA;
    let i = this.slot(a, b);
    for (;;) {
      const ka = keysA[i]!;
      if (ka === -1) return -1;
      if (ka === a && this.keysB[i] === b) return this.values[i]!;
      i = (i + 1) & this.mask;
    }
  }

  /** Stores value for (a, b) unless present; returns the value now stored. */
  getOrSet(a: number, b: number, value: number): number {
    let i = this.slot(a, b);
    for (;;) {
      const ka = this.keysA[i]!;
      if (ka === -1) break;
      if (ka === a && this.keysB[i] === b) return this.values[i]!;
      i = (i + 1) & this.mask;
    }
    this.keysA[i] = a;
    this.keysB[i] = b;
    this.values[i] = value;
    if (++this.size * 2 > this.mask) this.grow();
    return value;
  }

  private grow(): void {
    const { keysA, keysB, values } = this;
    const cap = keysA.length * 2;
    this.keysA = new Int32Array(cap).fill(-1);
    this.keysB = new Int32Array(cap);
    this.values = new Int32Array(cap);
    this.mask = cap - 1;
    for (let j = 0; j < keysA.length; j++) {
      const a = keysA[j]!;
      if (a === -1) continue;
      let i = this.slot(a, keysB[j]!);
      while (this.keysA[i] !== -1) i = (i + 1) & this.mask;
      this.keysA[i] = a;
      this.keysB[i] = keysB[j]!;
      this.values[i] = values[j]!;
    }
  }
}
