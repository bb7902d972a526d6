import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LogitsSampler, argmax } from '../../src/sample/logits-sampler.js';
import { Rng } from '../../src/sample/rng.js';

test('rng: same seed same stream, state round-trips, ints are in range and roughly uniform', () => {
  const a = new Rng([7, 1]);
  const b = new Rng([7, 1]);
  const c = new Rng([7, 2]);
  const xa = Array.from({ length: 5 }, () => a.nextU32());
  assert.deepEqual(Array.from({ length: 5 }, () => b.nextU32()), xa);
  assert.notDeepEqual(Array.from({ length: 5 }, () => c.nextU32()), xa);
  const saved = a.state();
  const next = [a.float(), a.float()];
  const r = Rng.fromState(saved);
  assert.deepEqual([r.float(), r.float()], next);
  const counts = new Array(6).fill(0);
  for (let i = 0; i < 60000; i++) counts[r.int(6)]++;
  for (const k of counts) assert.ok(Math.abs(k - 10000) < 400, `bucket ${k}`);
  const p = r.permutation(50);
  assert.deepEqual([...p].sort((x, y) => x - y), Array.from({ length: 50 }, (_, i) => i));
});

// Logits of a fixed 8-token vocabulary; probabilities at temperature 1 are softmax of these.
const logits = Float32Array.from([2.0, 0.5, 1.5, -1.0, 0.0, 1.0, -0.5, 0.25]);
const softmax = (x: number[]) => {
  const m = Math.max(...x);
  const e = x.map((v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
};

/** The reference distribution after temperature, top-k and top-p, computed the plain way. */
function expected(temperature: number, topK: number, topP: number): number[] {
  let p = softmax([...logits].map((v) => v / temperature));
  const order = p.map((_, i) => i).sort((a, b) => p[b]! - p[a]! || a - b);
  if (topK > 0) {
    const keep = new Set(order.slice(0, topK));
    p = p.map((v, i) => (keep.has(i) ? v : 0));
  }
  const total = p.reduce((a, b) => a + b, 0);
  p = p.map((v) => v / total);
  if (topP < 1) {
    const keep = new Set<number>();
    let cum = 0;
    for (const i of order) {
      if (p[i] === 0) continue;
      keep.add(i);
      cum += p[i]!;
      if (cum >= topP) break;
    }
    p = p.map((v, i) => (keep.has(i) ? v : 0));
    const s = p.reduce((a, b) => a + b, 0);
    p = p.map((v) => v / s);
  }
  return p;
}

const cases: Array<[number, number, number]> = [
  [1, 0, 1],
  [0.7, 0, 1],
  [1, 3, 1],
  [1, 0, 0.8],
  [1, 0, 0.5],
  [1.3, 4, 0.9],
];
for (const [temperature, topK, topP] of cases) {
  test(`empirical frequencies match the renormalised distribution (T=${temperature}, k=${topK}, p=${topP})`, () => {
    const s = new LogitsSampler(logits.length, { temperature, topK, topP });
    const rng = new Rng(123);
    const n = 40000;
    const counts = new Array(logits.length).fill(0);
    for (let i = 0; i < n; i++) counts[s.sample(logits, 0, rng)]++;
    const want = expected(temperature, topK, topP);
    for (let i = 0; i < logits.length; i++) {
      const f = counts[i] / n;
      // 5 standard deviations of a binomial frequency, and exact zeros outside the kept set
      const tol = 5 * Math.sqrt((want[i]! * (1 - want[i]!)) / n) + 1e-9;
      assert.ok(Math.abs(f - want[i]!) <= tol, `token ${i}: frequency ${f} vs ${want[i]} (±${tol})`);
      if (want[i] === 0) assert.equal(counts[i], 0, `token ${i} is outside the kept set`);
    }
  });
}

test('temperature 0 and top-k 1 are greedy; argmax takes the first of tied maxima', () => {
  const rng = new Rng(1);
  assert.equal(new LogitsSampler(8, { temperature: 0, topK: 0, topP: 1 }).sample(logits, 0, rng), 0);
  assert.equal(new LogitsSampler(8, { temperature: 2, topK: 1, topP: 0.3 }).sample(logits, 0, rng), 0);
  assert.equal(argmax(Float32Array.from([1, 3, 3, 2]), 0, 4), 1);
  const row2 = Float32Array.from([0, 0, 0, 0, 0, 5, 1, 9]);
  assert.equal(new LogitsSampler(4, { temperature: 0, topK: 0, topP: 1 }).sample(row2, 4, rng), 3);
});

test('top-p on a large flat-ish vocabulary keeps the exact nucleus (quickselect on mass)', () => {
  const V = 5000;
  const rng0 = new Rng(9);
  const big = Float32Array.from({ length: V }, () => rng0.float() * 0.5); // near-uniform: the nucleus is most of V
  const s = new LogitsSampler(V, { temperature: 1, topK: 0, topP: 0.95 });
  const p = softmax([...big]);
  const order = p.map((_, i) => i).sort((a, b) => p[b]! - p[a]!);
  let cum = 0;
  const nucleus = new Set<number>();
  for (const i of order) {
    nucleus.add(i);
    cum += p[i]!;
    if (cum >= 0.95) break;
  }
  const rng = new Rng(4);
  for (let i = 0; i < 3000; i++) assert.ok(nucleus.has(s.sample(big, 0, rng)));
});

test('top-p boundary inside a tie keeps the lowest ids, like a stable sort', () => {
  const tied = Float32Array.from([0, 1, 1, 1, 1]); // four tokens of ~0.238, one of ~0.047
  const s = new LogitsSampler(5, { temperature: 1, topK: 0, topP: 0.5 }); // needs 3 of the 4 tied tokens
  const rng = new Rng(2);
  const counts = [0, 0, 0, 0, 0];
  for (let i = 0; i < 9000; i++) counts[s.sample(tied, 0, rng)]!++;
  assert.equal(counts[0], 0);
  assert.equal(counts[4], 0);
  for (const k of [1, 2, 3]) assert.ok(Math.abs(counts[k]! - 3000) < 250, `token ${k}: ${counts[k]}`);
});

test('bad options are range errors', () => {
  assert.throws(() => new LogitsSampler(4, { temperature: -1, topK: 0, topP: 1 }), RangeError);
  assert.throws(() => new LogitsSampler(4, { temperature: 1, topK: 0, topP: 0 }), RangeError);
  assert.throws(() => new LogitsSampler(4, { temperature: 1, topK: 1.5, topP: 1 }), RangeError);
});
