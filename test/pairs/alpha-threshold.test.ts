import { test } from 'node:test';
import assert from 'node:assert/strict';
import { passesAlpha, quantile, resolveAlpha } from '../../src/pairs/alpha-threshold.js';

// numpy.quantile(values, q) (linear interpolation) as the oracle
const table: Array<[number[], number, number]> = [
  [[0.1, 0.2, 0.3, 0.4, 0.5], 0, 0.1],
  [[0.1, 0.2, 0.3, 0.4, 0.5], 1, 0.5],
  [[0.1, 0.2, 0.3, 0.4, 0.5], 0.5, 0.3],
  [[0.5, 0.1, 0.4, 0.2, 0.3], 0.9, 0.46],
  [[0.9, 0.7], 0.25, 0.75],
  [[0.42], 0.8, 0.42],
];
for (const [values, q, want] of table) {
  test(`quantile(${JSON.stringify(values)}, ${q}) = ${want}`, () => {
    assert.ok(Math.abs(quantile(Float32Array.from(values), q)! - want) < 1e-6);
  });
}

test('absolute α ignores the data; quantile α follows it; no candidates gives null', () => {
  const sims = Float32Array.from({ length: 101 }, (_, i) => i / 100);
  assert.deepEqual(resolveAlpha(sims, { alpha: 0.75 }), { mode: 'absolute', quantile: null, value: 0.75 });
  const r = resolveAlpha(sims, { alpha: 0.75, alphaQuantile: 0.9 });
  assert.equal(r.mode, 'quantile');
  assert.ok(Math.abs(r.value! - 0.9) < 1e-6);
  assert.equal(resolveAlpha(new Float32Array(0), { alpha: 0.75, alphaQuantile: 0.5 }).value, null);
});

test('pairs pass when strictly above α', () => {
  assert.equal(passesAlpha(0.76, 0.75), true);
  assert.equal(passesAlpha(0.75, 0.75), false);
  assert.equal(passesAlpha(0.9, null), false);
});
