import { test } from 'node:test';
import assert from 'node:assert/strict';
import { filterPairs, noDrops, selectCandidates } from '../../src/pairs/pair-list.js';
import { partnerStats, similarityHistogram } from '../../src/pairs/pair-stats.js';

// [name, query row, neighbour rows of a (k+1 = 3)-search, expected d2 list, expected self, expected beyond_k]
const k = 2;
const cases: Array<[string, number, number[], number[], number, number]> = [
  ['self first', 5, [5, 1, 2], [1, 2], 1, 0],
  ['self in the middle', 5, [1, 5, 2], [1, 2], 1, 0],
  ['self missing: the spare neighbour goes', 5, [1, 2, 3], [1, 2], 0, 1],
  ['fewer results than asked', 5, [5, 1, -1], [1], 1, 0],
  ['nothing found', 5, [-1, -1, -1], [], 0, 0],
];
for (const [name, self, rows, want, selfDrops, beyond] of cases) {
  test(`candidates: ${name}`, () => {
    const drops = noDrops();
    const sims = Float32Array.from(rows, (r, j) => (r < 0 ? Number.NaN : 0.9 - j * 0.1));
    const out = selectCandidates(Uint32Array.of(self), { k: k + 1, queries: 1, rows: Int32Array.from(rows), sims }, k, drops);
    assert.deepEqual(Array.from(out.d2), want);
    assert.ok(out.d1.every((d) => d === self));
    assert.equal(drops.self, selfDrops);
    assert.equal(drops.beyond_k, beyond);
  });
}

test('candidates: a search for the wrong k is a bug, not silently truncated', () => {
  assert.throws(() => selectCandidates(Uint32Array.of(0), { k: 2, queries: 1, rows: Int32Array.of(0, 1), sims: Float32Array.of(1, 0.5) }, 2, noDrops()), /k\+1 = 3/);
});

test('filterPairs keeps the marked positions in order', () => {
  const pairs = { d1: Uint32Array.of(0, 0, 1), d2: Uint32Array.of(1, 2, 0), sims: Float32Array.of(0.9, 0.8, 0.9) };
  const out = filterPairs(pairs, Uint8Array.of(1, 0, 1));
  assert.deepEqual([Array.from(out.d1), Array.from(out.d2), Array.from(out.sims)], [[0, 1], [1, 0], [pairs.sims[0], pairs.sims[2]]]);
});

test('similarity histogram: 0.01-wide bins over [-1, 1], out-of-range values clamp to the end bins', () => {
  const h = similarityHistogram(Float32Array.of(-1, -0.995, 0, 0.755, 0.999, 1, 1.2, Number.NaN));
  assert.equal(h.counts.length, 200);
  assert.equal(h.counts[0], 2); // -1 and -0.995
  assert.equal(h.counts[100], 1); // 0
  assert.equal(h.counts[175], 1); // 0.755
  assert.equal(h.counts[199], 3); // 0.999, 1, and 1.2 (f16 rounding can exceed 1)
  assert.equal(h.counts.reduce((a, b) => a + b, 0), 7); // NaN (empty slot) not counted
});

test('partner statistics count out-degree, any-role membership and hubs', () => {
  // 5 documents: 0→1, 0→2, 1→0, 3→0; document 4 has no pair.
  const pairs = { d1: Uint32Array.of(0, 0, 1, 3), d2: Uint32Array.of(1, 2, 0, 0), sims: new Float32Array(4) };
  const s = partnerStats(pairs, 5, 3);
  assert.deepEqual(s.perDocument, [2, 2, 1, 0]); // docs 2 and 4 have none; 1 and 3 have one; 0 has two
  assert.equal(s.shareWithPartner, 3 / 5);
  assert.equal(s.shareInAnyPair, 4 / 5);
  assert.equal(s.maxAsD2, 2);
  assert.equal(s.meanPerDocument, 4 / 5);
});
