import { PairTable } from './pair-table.js';

/**
 * The merge table of a BPE model and the merge loop that turns one pre-token's bytes into ids.
 * Rule (that of the Hugging Face library): repeatedly merge the adjacent pair with the lowest
 * rank, the leftmost one on a tie, until no adjacent pair has a rank.
 */
export class BpeMerges {
  readonly pairRank: PairTable; // (left id, right id) → rank
  private scratch = new Int32Array(64);

  /**
   * @param byteToId (256) the id of each single byte
   * @param left (n) left id of the merge of each rank
   * @param right (n) right id of the merge of each rank
   * @param result (n) id the merge produces
   */
  constructor(
    readonly byteToId: Int32Array,
    readonly left: Int32Array,
    readonly right: Int32Array,
    readonly result: Int32Array,
  ) {
    this.pairRank = new PairTable(left.length);
    for (let r = 0; r < left.length; r++) this.pairRank.getOrSet(left[r]!, right[r]!, r);
  }

  get size(): number {
    return this.left.length;
  }

  /** The ids of bytes[0, n). Short pieces use a rescanning loop; long ones a heap (same result). */
  encode(bytes: Uint8Array, n: number): Uint32Array {
    if (n === 0) return new Uint32Array(0);
    if (n === 1) return Uint32Array.of(this.byteToId[bytes[0]!]!);
    return n <= 48 ? this.encodeShort(bytes, n) : this.encodeLong(bytes, n);
  }

  /** O(n²) in the piece length, fastest for the short pieces that make up nearly all text. */
  encodeShort(bytes: Uint8Array, n: number): Uint32Array {
    if (this.scratch.length < n) this.scratch = new Int32Array(n * 2);
    const ids = this.scratch;
    for (let i = 0; i < n; i++) ids[i] = this.byteToId[bytes[i]!]!;
    const table = this.pairRank;
    let len = n;
    while (len > 1) {
      let best = -1;
      let bestAt = -1;
      for (let i = 0; i + 1 < len; i++) {
        const r = table.get(ids[i]!, ids[i + 1]!);
        if (r >= 0 && (best < 0 || r < best)) {
          best = r;
          bestAt = i;
        }
      }
      if (best < 0) break;
      ids[bestAt] = this.result[best]!;
      ids.copyWithin(bestAt + 1, bestAt + 2, len);
      len--;
    }
    return Uint32Array.from(ids.subarray(0, len));
  }

  /**
   * O(n log n): symbols in a linked list, candidate merges in a min-heap keyed by
   * rank·2^32 + position; an entry whose pair no longer sits at its position is dropped when popped.
   */
  encodeLong(bytes: Uint8Array, n: number): Uint32Array {
    const sym = new Int32Array(n); // (n) id of the symbol starting at each position; -1 once merged away
    const next = new Int32Array(n); // (n) position of the following symbol, or n
    const prev = new Int32Array(n); // (n) position of the preceding symbol, or -1
    for (let i = 0; i < n; i++) {
      sym[i] = this.byteToId[bytes[i]!]!;
      next[i] = i + 1;
      prev[i] = i - 1;
    }
    const heap = new MinHeap(n);
    const table = this.pairRank;
    const POS = 2 ** 32;
    for (let i = 0; i + 1 < n; i++) {
      const r = table.get(sym[i]!, sym[i + 1]!);
      if (r >= 0) heap.push(r * POS + i);
    }
    while (heap.size > 0) {
      const key = heap.pop();
      const rank = Math.floor(key / POS);
      const at = key - rank * POS;
      const b = next[at]!;
      if (sym[at]! < 0 || b >= n) continue;
      if (table.get(sym[at]!, sym[b]!) !== rank) continue;
      sym[at] = this.result[rank]!;
      sym[b] = -1;
      const after = next[b]!;
      next[at] = after;
      if (after < n) prev[after] = at;
      const before = prev[at]!;
      if (before >= 0) {
        const r = table.get(sym[before]!, sym[at]!);
        if (r >= 0) heap.push(r * POS + before);
      }
      if (after < n) {
        const r = table.get(sym[at]!, sym[after]!);
        if (r >= 0) heap.push(r * POS + at);
      }
    }
    const out: number[] = [];
    for (let i = 0; i < n; i = next[i]!) out.push(sym[i]!);
    return Uint32Array.from(out);
  }
}

/** A binary min-heap of non-negative doubles. */
class MinHeap {
  private a: Float64Array;
  size = 0;
  constructor(capacity: number) {
    this.a = new Float64Array(Math.max(capacity, 16));
  }
  push(v: number): void {
    if (this.size === this.a.length) {
      const b = new Float64Array(this.a.length * 2);
      b.set(this.a);
      this.a = b;
    }
    const a = this.a;
    let i = this.size++;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (a[p]! <= v) break;
      a[i] = a[p]!;
      i = p;
    }
    a[i] = v;
  }
  pop(): number {
    const a = this.a;
    const top = a[0]!;
    const v = a[--this.size]!;
    let i = 0;
    const n = this.size;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      if (c + 1 < n && a[c + 1]! < a[c]!) c++;
      if (a[c]! >= v) break;
      a[i] = a[c]!;
      i = c;
    }
    a[i] = v;
    return top;
  }
}
