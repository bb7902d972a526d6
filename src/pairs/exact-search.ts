import type { Neighbours } from './neighbours.js';

export interface ExactSearchOptions {
  /** Query rows per block: their vectors stay in L1/L2 while a base block streams past. */
  queryBlock?: number;
  /** Base rows per block (a block of `dim`-float rows should fit in L2). */
  baseBlock?: number;
}

/**
 * Exact k-nearest-neighbour search by inner product over unit-length rows (= cosine similarity):
 * the base is scanned in blocks, every query × base block of inner products is computed, and each
 * query keeps its best k in a small min-heap. Ties are broken towards the lower row so results are
 * deterministic. This is the oracle that ANN recall is measured against, and the search for small
 * corpora.
 *
 * base: (n, dim) and queries: (q, dim), both already normalised (see `normalizeRows`).
 */
export function exactSearch(base: Float32Array, queries: Float32Array, dim: number, k: number, opts: ExactSearchOptions = {}): Neighbours {
  if (!Number.isInteger(dim) || dim <= 0) throw new RangeError(`exactSearch: dim must be a positive integer, got ${dim}`);
  if (!Number.isInteger(k) || k <= 0) throw new RangeError(`exactSearch: k must be a positive integer, got ${k}`);
  if (base.length % dim !== 0) throw new RangeError(`exactSearch: base length ${base.length} is not a multiple of dim ${dim}`);
  if (queries.length % dim !== 0) throw new RangeError(`exactSearch: queries length ${queries.length} is not a multiple of dim ${dim}`);
  const n = base.length / dim;
  const q = queries.length / dim;
  const qb = opts.queryBlock ?? 32;
  const bb = opts.baseBlock ?? 128;

  const rows = new Int32Array(q * k).fill(-1); // (q, k) heap storage, then sorted output
  const sims = new Float32Array(q * k).fill(Number.NaN);
  const filled = new Int32Array(q); // heap size per query
  const dots = new Float32Array(qb * bb); // (qb, bb) scratch

  for (let q0 = 0; q0 < q; q0 += qb) {
    const q1 = Math.min(q0 + qb, q);
    for (let b0 = 0; b0 < n; b0 += bb) {
      const b1 = Math.min(b0 + bb, n);
      const width = b1 - b0;
      for (let qi = q0; qi < q1; qi++) {
        const qo = qi * dim;
        const rowOut = (qi - q0) * bb;
        for (let bi = b0; bi < b1; bi++) dots[rowOut + bi - b0] = dot(queries, qo, base, bi * dim, dim);
      }
      for (let qi = q0; qi < q1; qi++) {
        const rowOut = (qi - q0) * bb;
        const heapOff = qi * k;
        for (let j = 0; j < width; j++) {
          const s = dots[rowOut + j]!;
          const r = b0 + j;
          const size = filled[qi]!;
          if (size < k) {
            heapPush(rows, sims, heapOff, size, r, s);
            filled[qi] = size + 1;
          } else if (better(s, r, sims[heapOff]!, rows[heapOff]!)) {
            heapReplaceTop(rows, sims, heapOff, k, r, s);
          }
        }
      }
    }
  }
  for (let qi = 0; qi < q; qi++) sortHeapDescending(rows, sims, qi * k, filled[qi]!);
  return { k, queries: q, rows, sims };
}

/** Inner product of a[ao..ao+dim) and b[bo..bo+dim), four accumulators to break the add chain. */
function dot(a: Float32Array, ao: number, b: Float32Array, bo: number, dim: number): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let j = 0;
  for (; j + 3 < dim; j += 4) {
    s0 += a[ao + j]! * b[bo + j]!;
    s1 += a[ao + j + 1]! * b[bo + j + 1]!;
    s2 += a[ao + j + 2]! * b[bo + j + 2]!;
    s3 += a[ao + j + 3]! * b[bo + j + 3]!;
  }
  for (; j < dim; j++) s0 += a[ao + j]! * b[bo + j]!;
  return s0 + s1 + s2 + s3;
}

/** True when (s, r) ranks above (s2, r2): higher similarity, then lower row. */
function better(s: number, r: number, s2: number, r2: number): boolean {
  return s > s2 || (s === s2 && r < r2);
}

// A min-heap (worst neighbour on top) stored in rows/sims[off .. off+size).
function heapPush(rows: Int32Array, sims: Float32Array, off: number, size: number, r: number, s: number): void {
  let i = size;
  while (i > 0) {
    const p = (i - 1) >> 1;
    if (!better(sims[off + p]!, rows[off + p]!, s, r)) break;
    rows[off + i] = rows[off + p]!;
    sims[off + i] = sims[off + p]!;
    i = p;
  }
  rows[off + i] = r;
  sims[off + i] = s;
}

function heapReplaceTop(rows: Int32Array, sims: Float32Array, off: number, size: number, r: number, s: number): void {
  let i = 0;
  for (;;) {
    const l = 2 * i + 1;
    if (l >= size) break;
    let worst = l;
    const rr = l + 1;
    if (rr < size && better(sims[off + l]!, rows[off + l]!, sims[off + rr]!, rows[off + rr]!)) worst = rr;
    if (!better(s, r, sims[off + worst]!, rows[off + worst]!)) break;
    rows[off + i] = rows[off + worst]!;
    sims[off + i] = sims[off + worst]!;
    i = worst;
  }
  rows[off + i] = r;
  sims[off + i] = s;
}

function sortHeapDescending(rows: Int32Array, sims: Float32Array, off: number, size: number): void {
  const order = Array.from({ length: size }, (_, i) => i).sort((a, b) => (better(sims[off + a]!, rows[off + a]!, sims[off + b]!, rows[off + b]!) ? -1 : 1));
  const r = order.map((i) => rows[off + i]!);
  const s = order.map((i) => sims[off + i]!);
  for (let i = 0; i < size; i++) {
    rows[off + i] = r[i]!;
    sims[off + i] = s[i]!;
  }
}
