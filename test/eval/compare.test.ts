import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Rng } from '../../src/sample/rng.js';
import { compareMetric, compareWithControl, metricEstimates, metricValue, pairedBootstrap, percentileInterval, type ItemMetric } from '../../src/eval/compare.js';

const roles = { baseline: 'baseline', sbp: 'sbp', oracle: 'oracle' };
const boot = { samples: 1000, confidence: 0.95, seed: 1 };
const ones = (n: number) => new Float64Array(n).fill(1);

/** An accuracy metric: per-item 0/1 for each model, drawn with the given success rates. */
function accuracy(n: number, rates: Record<string, number>, seed = 2): ItemMetric {
  const rng = new Rng(seed);
  const u = Float64Array.from({ length: n }, () => rng.float()); // shared difficulty: paired items
  const items = Object.fromEntries(Object.entries(rates).map(([m, r]) => [m, { num: Float64Array.from(u, (x) => (x < r ? 1 : 0)), den: ones(n) }]));
  return { name: 'qa/acc', higherIsBetter: true, transform: 'mean', items };
}

test('metric values: mean, exp (perplexity) and bits (per byte) of a ratio of sums; resampled indices', () => {
  const m = { num: Float64Array.of(2, 4, 6), den: Float64Array.of(1, 1, 2) };
  assert.equal(metricValue('mean', m), 3);
  assert.ok(Math.abs(metricValue('exp', m) - Math.exp(3)) < 1e-12);
  assert.ok(Math.abs(metricValue('bits', m) - 3 / Math.LN2) < 1e-12);
  assert.equal(metricValue('mean', m, Uint32Array.of(0, 0, 1)), 8 / 3);
  const iv = percentileInterval(Float64Array.from({ length: 101 }, (_, i) => 100 - i), 0.9);
  assert.ok(iv && Math.abs(iv.lo - 5) < 1e-9 && Math.abs(iv.hi - 95) < 1e-9, JSON.stringify(iv)); // 5th and 95th of 0..100
  const mid = percentileInterval(Float64Array.of(0, 10), 0.5)!; // between two points: interpolated
  assert.ok(Math.abs(mid.lo - 2.5) < 1e-12 && Math.abs(mid.hi - 7.5) < 1e-12);
  assert.equal(percentileInterval(Float64Array.of(NaN, Infinity), 0.9), null);
});

test('bootstrap intervals cover the point estimate and shrink with more items', () => {
  const widths: number[] = [];
  for (const n of [50, 200, 800]) {
    const est = metricEstimates(accuracy(n, { baseline: 0.5 }), boot).baseline!;
    assert.ok(est.ci && est.ci.lo <= est.value && est.value <= est.ci.hi, `n=${n}: ${JSON.stringify(est)}`);
    widths.push(est.ci!.hi - est.ci!.lo);
  }
  console.log(`# 95% interval widths for n = 50, 200, 800: ${widths.map((w) => w.toFixed(3)).join(', ')}`);
  assert.ok(widths[0]! > 1.5 * widths[1]! && widths[1]! > 1.5 * widths[2]!, `widths ${widths}`); // ∝ 1/√n: halves per 4×
  // A fixed seed gives the same intervals.
  assert.deepEqual(metricEstimates(accuracy(200, { baseline: 0.5 }), boot), metricEstimates(accuracy(200, { baseline: 0.5 }), boot));
  assert.equal(metricEstimates(accuracy(50, { baseline: 0.5 }), { ...boot, samples: 0 }).baseline!.ci, null);
});

test('the bootstrap is paired: every model is resampled on the same items', () => {
  // Identical models: every resample gives zero gain, so the interval is exactly [0, 0].
  const same = accuracy(100, { baseline: 0.6, sbp: 0.6, oracle: 0.8 });
  const c = compareMetric(same, roles, boot);
  assert.deepEqual(c.sbpGain.ci, { lo: 0, hi: 0 });
  assert.equal(c.fraction.value, 0);
  const seen: number[] = [];
  pairedBootstrap(10, { samples: 3, confidence: 0.9, seed: 4 }, (idx) => {
    seen.push(...idx);
    return [0];
  });
  assert.equal(seen.length, 30);
  assert.ok(seen.every((i) => Number.isInteger(i) && i >= 0 && i < 10));
});

test('fraction of oracle gain: the value, its interval, and the edge cases', () => {
  // Clean case: shared item difficulty makes the models nested (oracle ⊇ sbp ⊇ baseline correct items).
  const clean = compareMetric(accuracy(2000, { baseline: 0.4, sbp: 0.5, oracle: 0.6 }), roles, boot);
  const exact = (clean.sbp.value - clean.baseline.value) / (clean.oracle.value - clean.baseline.value);
  assert.equal(clean.fraction.value, exact);
  assert.ok(Math.abs(exact - 0.5) < 0.1);
  assert.ok(clean.fraction.ci && clean.fraction.ci.lo <= exact && exact <= clean.fraction.ci.hi);
  assert.equal(clean.fraction.note, null);
  assert.ok(Math.abs(clean.sbpGain.value - (clean.sbp.value - clean.baseline.value)) < 1e-15);

  // Lower-is-better metrics give the same fraction: it is a ratio of gains.
  const n = 300;
  const rng = new Rng(9);
  const tokens = Float64Array.from({ length: n }, () => 10 + rng.int(90));
  const lossOf = (perTok: number) => ({ num: Float64Array.from(tokens, (t, i) => t * (perTok + 0.3 * Math.sin(i))), den: tokens });
  const ppl: ItemMetric = { name: 'h/ppl', higherIsBetter: false, transform: 'mean', items: { baseline: lossOf(3), sbp: lossOf(2.9), oracle: lossOf(2.5) } };
  const p = compareMetric(ppl, roles, boot);
  assert.ok(Math.abs(p.fraction.value! - 0.2) < 1e-9);
  assert.ok(p.sbpGain.value < 0 && p.fraction.ci !== null);

  // Oracle equal to the baseline: undefined, said so — never ±∞ or NaN.
  const flat = compareMetric(accuracy(100, { baseline: 0.5, sbp: 0.6, oracle: 0.5 }), roles, boot);
  assert.equal(flat.fraction.value, null);
  assert.equal(flat.fraction.ci, null);
  assert.match(flat.fraction.note!, /oracle scores the same as the baseline .*undefined/);
  assert.ok(Number.isFinite(flat.sbpGain.value));

  // Oracle gain within noise: a value, but no interval, and a note saying why.
  const noisy = accuracy(60, { baseline: 0.5, sbp: 0.5 });
  noisy.items.oracle = { num: noisy.items.baseline!.num.map((x, i) => (i === 0 ? 1 - x : x)), den: ones(60) }; // one item differs
  const nz = compareMetric(noisy, roles, boot);
  assert.equal(nz.fraction.value, 0);
  assert.equal(nz.fraction.ci, null);
  assert.match(nz.fraction.note!, /within noise .*contains 0/);

  // Oracle worse than the baseline: the number is kept, with a warning.
  const worse = compareMetric(accuracy(2000, { baseline: 0.6, sbp: 0.5, oracle: 0.4 }), roles, boot);
  assert.ok(worse.fraction.value! > 0);
  assert.match(worse.fraction.note!, /oracle is worse than the baseline/);

  // No items: nothing to say, and no crash.
  const empty = compareMetric(accuracy(0, { baseline: 0.5, sbp: 0.5, oracle: 0.5 }), roles, boot);
  assert.equal(empty.fraction.value, null);
  assert.equal(empty.fraction.note, 'no items');

  assert.throws(() => compareMetric(accuracy(10, { baseline: 0.5, sbp: 0.5 }), roles, boot), /no items for the oracle model/);
  const ragged = accuracy(10, { baseline: 0.5, sbp: 0.5, oracle: 0.5 });
  ragged.items.sbp = { num: ones(9), den: ones(9) };
  assert.throws(() => compareMetric(ragged, roles, boot), /different item counts/);
});

test('SBP − control: the difference of the values, a paired interval (narrower than unpaired), zero for identical models', () => {
  // Shared item difficulty: SBP and the control differ on few items, so pairing makes the difference precise.
  const m = accuracy(400, { sbp: 0.6, control: 0.55, same: 0.6 });
  const d = compareWithControl(m, 'sbp', 'control', boot);
  assert.equal(d.difference.value, d.sbp.value - d.control.value);
  assert.ok(d.difference.value > 0);
  const ci = d.difference.ci!;
  assert.ok(ci.lo <= d.difference.value && d.difference.value <= ci.hi);
  assert.ok(ci.lo > 0, `paired: the 5-point difference is clear of 0 (${ci.lo})`);
  // Unpaired, the interval would be about as wide as the sum of both models' own intervals.
  const own = (e: { ci: { lo: number; hi: number } | null }) => e.ci!.hi - e.ci!.lo;
  assert.ok(ci.hi - ci.lo < 0.5 * (own(d.sbp) + own(d.control)));
  const zero = compareWithControl(m, 'sbp', 'same', boot);
  assert.deepEqual([zero.difference.value, zero.difference.ci], [0, { lo: 0, hi: 0 }]);
  assert.throws(() => compareWithControl(m, 'sbp', 'missing', boot), /no items for model "missing"/);
});
