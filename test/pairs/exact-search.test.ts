import { test } from 'node:test';
import assert from 'node:assert/strict';
import { exactSearch } from '../../src/pairs/exact-search.js';
import { nativeExactSearch } from '../../src/pairs/native-exact-search.js';
import { normalizeRows } from '../../src/pairs/vector-set.js';
import { gaussian } from './clustered-vectors.js';

function randomUnit(n: number, dim: number, seed: number): Float32Array {
  const g = gaussian(seed);
  return normalizeRows(Float32Array.from({ length: n * dim }, () => g()), dim);
}

/** The obvious O(n·q·dim) search: every inner product in f64, sorted, ties to the lower row. */
function bruteForce(base: Float32Array, queries: Float32Array, dim: number, k: number): { rows: number[][]; sims: number[][] } {
  const n = base.length / dim;
  const q = queries.length / dim;
  const rows: number[][] = [];
  const sims: number[][] = [];
  for (let i = 0; i < q; i++) {
    const all: Array<[number, number]> = [];
    for (let r = 0; r < n; r++) {
      let s = 0;
      for (let j = 0; j < dim; j++) s += queries[i * dim + j]! * base[r * dim + j]!;
      all.push([r, s]);
    }
    all.sort((a, b) => b[1] - a[1] || a[0] - b[0]);
    rows.push(all.slice(0, k).map((x) => x[0]));
    sims.push(all.slice(0, k).map((x) => x[1]));
  }
  return { rows, sims };
}

const shapes: Array<{ n: number; q: number; dim: number; k: number; block?: [number, number] }> = [
  { n: 1, q: 3, dim: 4, k: 1 },
  { n: 5, q: 5, dim: 3, k: 8 }, // k > n: the tail stays empty
  { n: 300, q: 40, dim: 17, k: 10 }, // dim not a multiple of 4
  { n: 1000, q: 70, dim: 32, k: 11, block: [7, 33] }, // odd block sizes cross every boundary
  { n: 513, q: 33, dim: 64, k: 50 },
];

for (const { n, q, dim, k, block } of shapes) {
  test(`exact search matches brute force: n=${n} q=${q} dim=${dim} k=${k}`, () => {
    const base = randomUnit(n, dim, n + dim);
    const queries = randomUnit(q, dim, q * 7 + 1);
    const got = exactSearch(base, queries, dim, k, block ? { queryBlock: block[0], baseBlock: block[1] } : {});
    const want = bruteForce(base, queries, dim, k);
    let maxDiff = 0;
    for (let i = 0; i < q; i++) {
      const filled = Math.min(k, n);
      assert.deepEqual(Array.from(got.rows.subarray(i * k, i * k + filled)), want.rows[i], `query ${i}`);
      for (let j = 0; j < filled; j++) maxDiff = Math.max(maxDiff, Math.abs(got.sims[i * k + j]! - want.sims[i]![j]!));
      for (let j = filled; j < k; j++) {
        assert.equal(got.rows[i * k + j], -1);
        assert.ok(Number.isNaN(got.sims[i * k + j]!));
      }
    }
    assert.ok(maxDiff < 1e-5, `max |sim difference| ${maxDiff}`);
  });
}

test('exact search breaks ties towards the lower row', () => {
  const dim = 2;
  const base = Float32Array.from([0, 1, 1, 0, 1, 0, 0, 1, 1, 0]); // rows 1, 2, 4 equal; 0, 3 equal
  const got = exactSearch(base, Float32Array.from([1, 0]), dim, 4, { baseBlock: 2 });
  assert.deepEqual(Array.from(got.rows), [1, 2, 4, 0]);
});

test('native exact search (usearch, chunked) agrees with the TypeScript exact search', () => {
  const dim = 48;
  const base = randomUnit(2000, dim, 3);
  const queries = randomUnit(150, dim, 4);
  const ours = exactSearch(base, queries, dim, 10);
  // A tiny scratch budget forces many chunks, which must line up.
  const native = nativeExactSearch(base, queries.subarray(0), dim, 10, 2, 16 * 2000 * 7);
  let sameRows = 0;
  let maxDiff = 0;
  for (let i = 0; i < ours.rows.length; i++) {
    if (ours.rows[i] === native.rows[i]) sameRows++;
    maxDiff = Math.max(maxDiff, Math.abs(ours.sims[i]! - native.sims[i]!));
  }
  assert.equal(sameRows, ours.rows.length, 'every neighbour row agrees');
  assert.ok(maxDiff < 1e-5, `max |sim difference| ${maxDiff}`);
});

test('native exact search reads views at an offset correctly', () => {
  const dim = 8;
  const all = randomUnit(60, dim, 9);
  const base = all.subarray(10 * dim); // a view: rows 10..59
  const queries = all.subarray(20 * dim, 25 * dim);
  const native = nativeExactSearch(base, queries, dim, 1, 1);
  assert.deepEqual(Array.from(native.rows), [10, 11, 12, 13, 14]); // each query finds itself (row r - 10)
});
