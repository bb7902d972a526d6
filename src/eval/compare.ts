import { Rng } from '../sample/rng.js';

/**
 * How a metric's value comes from its items: value = f(Σ num / Σ den) over the items.
 * `mean`: f = identity (den = 1 per item: accuracy, mean log-likelihood);
 * `exp`: f = exp (num = nats, den = tokens: perplexity);
 * `bits`: f = x / ln 2 (num = nats, den = bytes: bits per byte).
 * Ratios of sums (not means of per-item ratios), so long documents weigh what their tokens weigh.
 */
export type MetricTransform = 'mean' | 'exp' | 'bits';

/** Item-level data of one metric for one model; every model has the same items in the same order. */
export interface MetricItems {
  num: Float64Array; // (items)
  den: Float64Array; // (items)
}

export interface ItemMetric {
  name: string; // e.g. 'heldout/ppl', 'arc-easy/acc_norm'
  higherIsBetter: boolean;
  transform: MetricTransform;
  items: Record<string, MetricItems>; // by model label
}

export interface Interval {
  lo: number;
  hi: number;
}

export interface Estimate {
  value: number;
  ci: Interval | null; // null when the bootstrap is off (samples = 0)
}

export interface BootstrapOptions {
  samples: number; // resamples; 0 = no intervals
  confidence: number; // e.g. 0.95
  seed: number;
}

export interface FractionOfOracleGain {
  value: number | null; // (sbp − baseline) / (oracle − baseline); null when undefined
  ci: Interval | null;
  note: string | null; // why value or ci is missing, or why to distrust it
}

export interface MetricComparison {
  metric: string;
  higherIsBetter: boolean;
  items: number;
  baseline: Estimate;
  sbp: Estimate;
  oracle: Estimate;
  sbpGain: Estimate; // sbp − baseline (negative is better for lower-is-better metrics)
  oracleGain: Estimate; // oracle − baseline
  fraction: FractionOfOracleGain;
}

export interface ComparisonRoles {
  baseline: string;
  sbp: string;
  oracle: string;
}

/** f(Σ num / Σ den) over the items `idx` (all items when null). */
export function metricValue(transform: MetricTransform, m: MetricItems, idx: Uint32Array | null = null): number {
  let num = 0;
  let den = 0;
  if (idx === null) {
    for (let i = 0; i < m.num.length; i++) {
      num += m.num[i]!;
      den += m.den[i]!;
    }
  } else {
    for (let k = 0; k < idx.length; k++) {
      num += m.num[idx[k]!]!;
      den += m.den[idx[k]!]!;
    }
  }
  const x = num / den;
  return transform === 'exp' ? Math.exp(x) : transform === 'bits' ? x / Math.LN2 : x;
}

function itemCount(metric: ItemMetric): number {
  const sizes = Object.entries(metric.items).map(([model, m]) => {
    if (m.num.length !== m.den.length) throw new Error(`${metric.name}/${model}: ${m.num.length} numerators but ${m.den.length} denominators`);
    return m.num.length;
  });
  if (sizes.length === 0) throw new Error(`${metric.name}: no model has items`);
  if (sizes.some((n) => n !== sizes[0])) throw new Error(`${metric.name}: models have different item counts (${sizes.join(', ')}); the paired bootstrap needs the same items`);
  return sizes[0]!;
}

/**
 * The paired bootstrap: every resample draws n item indices with replacement, and all statistics of
 * that resample (every model, every gain) are computed on the same indices, so differences between
 * models are not swamped by the variance between items. Returns the replicates of each statistic.
 */
export function pairedBootstrap(n: number, opts: BootstrapOptions, statistics: (idx: Uint32Array) => number[]): Float64Array[] {
  if (!(Number.isInteger(opts.samples) && opts.samples >= 0)) throw new RangeError(`bootstrap samples must be a whole number >= 0, got ${opts.samples}`);
  const rng = new Rng([opts.seed, n]);
  const idx = new Uint32Array(n);
  let reps: Float64Array[] = [];
  for (let r = 0; r < opts.samples; r++) {
    for (let k = 0; k < n; k++) idx[k] = rng.int(n);
    const stats = statistics(idx);
    if (r === 0) reps = stats.map(() => new Float64Array(opts.samples));
    stats.forEach((v, j) => (reps[j]![r] = v));
  }
  return reps;
}

/** The percentile interval of the finite replicates (linear interpolation between order statistics). */
export function percentileInterval(replicates: Float64Array, confidence: number): Interval | null {
  if (!(confidence > 0 && confidence < 1)) throw new RangeError(`confidence must be in (0, 1), got ${confidence}`);
  const xs = Float64Array.from(replicates.filter(Number.isFinite)).sort();
  if (xs.length === 0) return null;
  const q = (p: number) => {
    const pos = p * (xs.length - 1);
    const lo = Math.floor(pos);
    const hi = Math.min(lo + 1, xs.length - 1);
    return xs[lo]! + (pos - lo) * (xs[hi]! - xs[lo]!);
  };
  const tail = (1 - confidence) / 2;
  return { lo: q(tail), hi: q(1 - tail) };
}

/** Each model's value of a metric with its bootstrap interval. */
export function metricEstimates(metric: ItemMetric, opts: BootstrapOptions): Record<string, Estimate> {
  const n = itemCount(metric);
  const models = Object.keys(metric.items);
  const reps = n > 0 ? pairedBootstrap(n, opts, (idx) => models.map((m) => metricValue(metric.transform, metric.items[m]!, idx))) : [];
  const out: Record<string, Estimate> = {};
  models.forEach((m, j) => {
    out[m] = { value: metricValue(metric.transform, metric.items[m]!), ci: reps.length > 0 ? percentileInterval(reps[j]!, opts.confidence) : null };
  });
  return out;
}

/** Gains this close to zero (relative to the values) count as no gain: the fraction is undefined. */
const SAME_VALUE_RTOL = 1e-9;

function isNoGain(gain: number, base: number, oracle: number): boolean {
  return Math.abs(gain) <= SAME_VALUE_RTOL * Math.max(1, Math.abs(base), Math.abs(oracle));
}

/**
 * Baseline, SBP and oracle on one metric: their values, the gains over the baseline, and the fraction
 * of the oracle's gain that SBP recovers, each with a paired-bootstrap interval. The fraction is
 * undefined (null, with a note) when the oracle scores the same as the baseline; its interval is left
 * out (with a note) when the oracle's gain is within noise, i.e. its own interval contains 0, because
 * the ratio's resamples then straddle a division by ~0.
 */
export function compareMetric(metric: ItemMetric, roles: ComparisonRoles, opts: BootstrapOptions): MetricComparison {
  const n = itemCount(metric);
  for (const [role, model] of Object.entries(roles)) if (!metric.items[model]) throw new Error(`${metric.name}: no items for the ${role} model "${model}"`);
  const value = (model: string, idx: Uint32Array | null) => metricValue(metric.transform, metric.items[model]!, idx);
  const stats = (idx: Uint32Array | null) => {
    const b = value(roles.baseline, idx);
    const s = value(roles.sbp, idx);
    const o = value(roles.oracle, idx);
    const dO = o - b;
    return [b, s, o, s - b, dO, isNoGain(dO, b, o) ? NaN : (s - b) / dO];
  };
  const point = stats(null);
  const reps = n > 0 ? pairedBootstrap(n, opts, stats) : [];
  const ci = (j: number) => (reps.length > 0 ? percentileInterval(reps[j]!, opts.confidence) : null);
  const est = (j: number): Estimate => ({ value: point[j]!, ci: ci(j) });

  const fraction: FractionOfOracleGain = { value: null, ci: null, note: null };
  const dO = point[4]!;
  const pct = `${Math.round(opts.confidence * 100)}%`;
  if (n === 0) fraction.note = 'no items';
  else if (Number.isNaN(point[5]!)) {
    fraction.note = `the oracle scores the same as the baseline (gain ${fmt(dO)}): the fraction of oracle gain is undefined`;
  } else {
    fraction.value = point[5]!;
    const gainCi = ci(4);
    if (gainCi && gainCi.lo <= 0 && gainCi.hi >= 0) {
      fraction.note = `the oracle's gain ${fmt(dO)} is within noise (its ${pct} interval [${fmt(gainCi.lo)}, ${fmt(gainCi.hi)}] contains 0): the fraction is unreliable and gets no interval`;
    } else {
      fraction.ci = ci(5);
      const oracleWorse = metric.higherIsBetter ? dO < 0 : dO > 0;
      if (oracleWorse) fraction.note = 'the oracle is worse than the baseline on this metric, so the fraction does not measure recovered gain';
    }
  }
  return {
    metric: metric.name,
    higherIsBetter: metric.higherIsBetter,
    items: n,
    baseline: est(0),
    sbp: est(1),
    oracle: est(2),
    sbpGain: est(3),
    oracleGain: est(4),
    fraction,
  };
}

function fmt(x: number): string {
  return Math.abs(x) >= 1e-3 || x === 0 ? x.toFixed(4) : x.toExponential(2);
}

/** One metric of SBP against a control run (same seed, same S): their values and SBP − control. */
export interface ControlDifference {
  metric: string;
  higherIsBetter: boolean;
  items: number;
  sbp: Estimate;
  control: Estimate;
  /** sbp − control with its paired-bootstrap interval: SBP's own effect beyond what the control's data gives. */
  difference: Estimate;
}

/** SBP − control on one metric, the difference's interval from the paired bootstrap over the items. */
export function compareWithControl(metric: ItemMetric, sbp: string, control: string, opts: BootstrapOptions): ControlDifference {
  const n = itemCount(metric);
  for (const model of [sbp, control]) if (!metric.items[model]) throw new Error(`${metric.name}: no items for model "${model}"`);
  const stats = (idx: Uint32Array | null) => {
    const s = metricValue(metric.transform, metric.items[sbp]!, idx);
    const c = metricValue(metric.transform, metric.items[control]!, idx);
    return [s, c, s - c];
  };
  const point = stats(null);
  const reps = n > 0 ? pairedBootstrap(n, opts, stats) : [];
  const est = (j: number): Estimate => ({ value: point[j]!, ci: reps.length > 0 ? percentileInterval(reps[j]!, opts.confidence) : null });
  return { metric: metric.name, higherIsBetter: metric.higherIsBetter, items: n, sbp: est(0), control: est(1), difference: est(2) };
}
