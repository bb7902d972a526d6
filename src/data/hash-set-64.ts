/**
 * A set of 64-bit hashes in flat typed arrays (open addressing, linear probing): 8 bytes per slot
 * and at most 2 slots per key, versus ~100 bytes per entry for a `Set<bigint>`. This is all the
 * dedup step keeps in memory, so a corpus of 100M documents needs ~1.6 GB, not the corpus itself.
 */
export class HashSet64 {
  private hi: Uint32Array; // (capacity,) high halves; slot empty when hi = lo = 0
  private lo: Uint32Array; // (capacity,) low halves
  private mask: number;
  private count = 0;

  constructor(initialCapacity = 1 << 16) {
    let cap = 16;
    while (cap < initialCapacity) cap *= 2;
    this.hi = new Uint32Array(cap);
    this.lo = new Uint32Array(cap);
    this.mask = cap - 1;
  }

  get size(): number {
    return this.count;
  }

  /** Adds the key; returns false when it was already present. */
  add(hi: number, lo: number): boolean {
    // (0, 0) marks an empty slot; fold that one key onto (0, 1). A collision costs at most one
    // false duplicate in 2^64 and keeps the table free of a separate occupancy array.
    if (hi === 0 && lo === 0) lo = 1;
    let i = (lo ^ Math.imul(hi, 0x9e3779b1)) & this.mask;
    for (;;) {
      const h = this.hi[i]!;
      const l = this.lo[i]!;
      if (h === 0 && l === 0) break;
      if (h === hi && l === lo) return false;
      i = (i + 1) & this.mask;
    }
    this.hi[i] = hi;
    this.lo[i] = lo;
    this.count++;
    if (this.count * 2 > this.hi.length) this.grow();
    return true;
  }

  has(hi: number, lo: number): boolean {
    if (hi === 0 && lo === 0) lo = 1;
    let i = (lo ^ Math.imul(hi, 0x9e3779b1)) & this.mask;
    for (;;) {
      const h = this.hi[i]!;
      const l = this.lo[i]!;
      if (h === 0 && l === 0) return false;
      if (h === hi && l === lo) return true;
      i = (i + 1) & this.mask;
    }
  }

  private grow(): void {
    const oldHi = this.hi;
    const oldLo = this.lo;
    this.hi = new Uint32Array(oldHi.length * 2);
    this.lo = new Uint32Array(oldLo.length * 2);
    this.mask = this.hi.length - 1;
    this.count = 0;
    for (let i = 0; i < oldHi.length; i++) {
      if (oldHi[i] !== 0 || oldLo[i] !== 0) this.add(oldHi[i]!, oldLo[i]!);
    }
  }
}
