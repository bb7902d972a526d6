import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { AnnIndex, type AnnParams } from '../../src/pairs/ann-index.js';
import { exactSearch } from '../../src/pairs/exact-search.js';
import { normalizeRows } from '../../src/pairs/vector-set.js';
import { clusteredVectors, gaussian } from './clustered-vectors.js';
import { tempDir } from '../helpers.js';

const params: AnnParams = { quantization: 'f16', connectivity: 16, expansionAdd: 128, expansionSearch: 64 };

test('vectors added in chunks, from views, are found under their own keys', () => {
  const dim = 16;
  const n = 500;
  const unit = normalizeRows(clusteredVectors({ count: n, dim, clusters: 10, seed: 2 }).vectors, dim);
  const keys = Uint32Array.from({ length: n }, (_, i) => 1000 + ((i * 7) % n)); // not the positions
  // f32 and one build thread: the point is the key mapping, so no quantisation tie and no build race
  // may let a different, equally close vector win the top-1 slot.
  const index = AnnIndex.create(dim, { ...params, quantization: 'f32' }, 1);
  for (let i = 0; i < n; i += 128) {
    const end = Math.min(i + 128, n);
    index.add(unit.subarray(i * dim, end * dim), keys.subarray(i, end), 1);
  }
  assert.equal(index.size, n);
  const found = index.search(unit, 1, 1);
  const rowOfKey = new Map(Array.from(keys, (k, i) => [k, i] as const));
  const cos = (a: number, b: number) => {
    let s = 0;
    for (let d = 0; d < dim; d++) s += unit[a * dim + d]! * unit[b * dim + d]!;
    return s;
  };
  let exactSelf = 0;
  for (let i = 0; i < n; i++) {
    const got = found.rows[i]!;
    const row = rowOfKey.get(got);
    assert.ok(row !== undefined, `search returned key ${got}, which was never added`);
    if (got === keys[i]) exactSelf++;
    // a different key is only acceptable when its vector is the same direction (an exact duplicate)
    else assert.ok(cos(i, row) > 1 - 1e-6, `row ${i}: found key ${got} (cos ${cos(i, row)}), expected its own key ${keys[i]}`);
  }
  assert.ok(exactSelf >= n - 5, `only ${exactSelf} of ${n} rows found their own key`);
  assert.throws(() => index.add(unit.subarray(0, dim * 2), keys.subarray(0, 3), 1), RangeError);
});

for (const quantization of ['f32', 'f16', 'i8'] as const) {
  test(`HNSW ${quantization}: recall@10 ≥ 0.9 against exact search on clustered vectors; similarities agree`, () => {
    const dim = 48;
    const n = 4000;
    const unit = normalizeRows(clusteredVectors({ count: n, dim, clusters: 40, latentDim: 12, noise: 0.3, seed: 5 }).vectors, dim);
    const index = AnnIndex.create(dim, { ...params, quantization }, 10);
    index.add(unit, Uint32Array.from({ length: n }, (_, i) => i), 2);
    const queries = unit.subarray(0, 300 * dim);
    const ann = index.search(queries, 10, 2);
    const exact = exactSearch(unit, queries, dim, 10);
    let hits = 0;
    let maxSimError = 0;
    for (let q = 0; q < 300; q++) {
      const want = new Set(exact.rows.subarray(q * 10, q * 10 + 10));
      for (let j = 0; j < 10; j++) {
        if (want.has(ann.rows[q * 10 + j]!)) hits++;
        // the similarity HNSW reports is the (quantised) cosine of the row it reports
        const r = ann.rows[q * 10 + j]!;
        let dot = 0;
        for (let d = 0; d < dim; d++) dot += unit[q * dim + d]! * unit[r * dim + d]!;
        maxSimError = Math.max(maxSimError, Math.abs(dot - ann.sims[q * 10 + j]!));
      }
    }
    const recall = hits / 3000;
    assert.ok(recall >= 0.9, `recall@10 ${recall}`);
    assert.ok(maxSimError < (quantization === 'i8' ? 0.05 : 0.005), `max similarity error ${maxSimError}`);
  });
}

test('an index saved and loaded answers the same', () => {
  const dim = 8;
  const unit = normalizeRows(clusteredVectors({ count: 300, dim, clusters: 5, seed: 8 }).vectors, dim);
  const index = AnnIndex.create(dim, params, 5);
  index.add(unit, Uint32Array.from({ length: 300 }, (_, i) => i), 1);
  const path = join(tempDir(), 'index.usearch');
  index.save(path);
  const loaded = AnnIndex.load(path, dim, params, 5);
  assert.equal(loaded.size, 300);
  assert.deepEqual(loaded.search(unit, 5, 1).rows, index.search(unit, 5, 1).rows);
});

test('a sequential build finds every vector from itself, gives the same answer on every run, and still searches on 2 threads', () => {
  // 20 tight, well separated groups of 3: a parallel usearch build loses a whole group in about a
  // third of such builds.
  const dim = 32;
  const groups = 20;
  const g = gaussian(11);
  const raw: number[] = [];
  for (let grp = 0; grp < groups; grp++) {
    const centre = Array.from({ length: dim }, () => g());
    for (let m = 0; m < 3; m++) for (let j = 0; j < dim; j++) raw.push(centre[j]! + 0.05 * g());
  }
  const unit = normalizeRows(Float32Array.from(raw), dim);
  const n = groups * 3;
  const keys = Uint32Array.from({ length: n }, (_, i) => i);
  const answers: string[] = [];
  for (let run = 0; run < 8; run++) {
    const index = AnnIndex.create(dim, params, 3);
    index.add(unit, keys, 2, true);
    const found = index.search(unit, 3, 2);
    for (let i = 0; i < n; i++) assert.ok(found.rows.subarray(i * 3, i * 3 + 3).includes(i), `run ${run}: row ${i} did not find itself`);
    answers.push(Array.from(found.rows).join(','));
  }
  assert.equal(new Set(answers).size, 1, 'every run gives the same neighbours');
});
