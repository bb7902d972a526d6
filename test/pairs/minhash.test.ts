import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MinHasher, estimateJaccard, exactShingleJaccard, shingleSet } from '../../src/pairs/minhash.js';

/** Words w<a> .. w<b-1>: distinct words, so shingle overlaps follow from the ranges. */
const words = (a: number, b: number, prefix = 'w') => Array.from({ length: b - a }, (_, i) => `${prefix}${a + i}`).join(' ');

// [name, text A, text B, exact 5-gram shingle Jaccard]
const cases: Array<[string, string, string, number]> = [
  ['identical', words(0, 200), words(0, 200), 1],
  ['disjoint', words(0, 200), words(300, 500), 0],
  // A has 196 shingles, B 196, shared = those inside w100..w199 = 96 → 96 / 296
  ['half overlap', words(0, 200), words(100, 300), 96 / 296],
  // shared inside w20..w199: 176 → 176 / 216
  ['shifted by 20', words(0, 200), words(20, 220), 176 / 216],
  // 996 shingles each, shared 946 → 946 / 1046
  ['long, shifted by 50', words(0, 1000), words(50, 1050), 946 / 1046],
  ['case and punctuation do not matter', 'The cat, sat on THE mat!', 'the cat sat on the mat', 1],
  ['short texts are one shingle', 'alpha beta', 'alpha beta', 1],
  ['short texts that differ', 'alpha beta', 'alpha gamma', 0],
  ['both empty', '', '  ...  ', 1],
  ['one empty', '', words(0, 10), 0],
];

const hasher = new MinHasher({ shingleWords: 5, permutations: 128 });

for (const [name, a, b, jaccard] of cases) {
  test(`shingle Jaccard: ${name}`, () => {
    assert.ok(Math.abs(exactShingleJaccard(a, b, 5) - jaccard) < 1e-12, `exact ${exactShingleJaccard(a, b, 5)} vs ${jaccard}`);
    const est = estimateJaccard(hasher.signature(a), hasher.signature(b));
    // 128 bins: standard error ≤ 0.045; 0.15 is more than 3 standard errors.
    assert.ok(Math.abs(est - jaccard) <= 0.15, `estimate ${est} vs ${jaccard}`);
    if (jaccard === 1 || jaccard === 0) assert.equal(est, jaccard);
  });
}

test('shingles: words are lowercase letter/digit runs, n consecutive words each', () => {
  assert.deepEqual([...shingleSet('A b c, d', 3)], ['a b c', 'b c d']);
  assert.deepEqual([...shingleSet('Ünïcode wörds 42', 5)], ['ünïcode wörds 42']);
  assert.equal(shingleSet('', 5).size, 0);
});

test('the MinHash estimate is unbiased: mean error over many pairs is small', () => {
  // 60 pairs with Jaccard 176/216 ≈ 0.815 over different vocabularies.
  const truth = 176 / 216;
  let sum = 0;
  for (let v = 0; v < 60; v++) {
    sum += estimateJaccard(hasher.signature(words(0, 200, `v${v}x`)), hasher.signature(words(20, 220, `v${v}x`)));
  }
  const mean = sum / 60;
  // the mean of 60 estimates has standard error ≈ 0.0044
  assert.ok(Math.abs(mean - truth) < 0.02, `mean estimate ${mean} vs ${truth}`);
});

test('more permutations, smaller error', () => {
  const fine = new MinHasher({ shingleWords: 5, permutations: 1024 });
  const a = words(0, 2000);
  const b = words(400, 2400); // 1596 shared of 1996 each → 1596 / 2396
  const est = estimateJaccard(fine.signature(a), fine.signature(b));
  assert.ok(Math.abs(est - 1596 / 2396) < 0.05, `estimate ${est}`);
});

test('signatures are deterministic and have the configured size', () => {
  const s1 = hasher.signature(words(0, 50));
  const s2 = new MinHasher({ shingleWords: 5, permutations: 128 }).signature(words(0, 50));
  assert.equal(s1.length, 128);
  assert.deepEqual(s1, s2);
  assert.throws(() => new MinHasher({ shingleWords: 0, permutations: 8 }), RangeError);
});
