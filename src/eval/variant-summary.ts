import type { ComparisonRoles, ControlDifference, Interval, MetricComparison } from './compare.js';

/**
 * The synthetic runs of an experiment (SBP runs and control runs), each compared with the baseline
 * and oracle of its own seed (`roles.sbp` is the run itself); an SBP run also against the control
 * runs of its share and seed (`controls`: control arm → run).
 */
export interface VariantComparisonSpec {
  name: string; // the run, e.g. sbp-share0.25-seed2
  group: string; // the variant without its seed, e.g. sbp-share0.25: its seeds are averaged
  roles: ComparisonRoles;
  controls?: Record<string, string>;
}

export interface VariantComparison extends VariantComparisonSpec {
  metrics: MetricComparison[];
  /** control arm → SBP − control per metric. */
  versus?: Record<string, ControlDifference[]>;
}

/** A value over the seeds of one variant: mean, sample standard deviation (null for one seed), min and max. */
export interface SeedSpread {
  mean: number;
  sd: number | null;
  min: number;
  max: number;
  n: number;
}

export interface VariantGroupMetric {
  metric: string;
  higherIsBetter: boolean;
  baseline: SeedSpread | null;
  sbp: SeedSpread | null;
  oracle: SeedSpread | null;
  /** The fraction of oracle gain over the seeds where it is defined; null when it is defined for none. */
  fraction: SeedSpread | null;
  /** Per run of the group, in its order: the fraction (null: undefined for that seed). */
  fractions: Array<number | null>;
  /** With one run: its paired-bootstrap interval (over items); with several, the spread over seeds stands in for it. */
  ci: Interval | null;
  notes: string[];
}

/** One row of the sweep's results: a variant (share, α) with its metrics averaged over its seeds. */
export interface VariantGroup {
  group: string;
  runs: string[];
  metrics: VariantGroupMetric[];
  /** control arm → SBP − control per metric over the seeds (with one seed, its bootstrap interval). */
  versus?: Record<string, Array<{ metric: string; difference: SeedSpread | null; ci: Interval | null }>>;
}

export interface SweepComparison {
  variants: VariantComparison[];
  groups: VariantGroup[];
}

export function seedSpread(xs: readonly number[]): SeedSpread | null {
  const v = xs.filter(Number.isFinite);
  if (v.length === 0) return null;
  const n = v.length;
  const mean = v.reduce((a, b) => a + b, 0) / n;
  const sd = n > 1 ? Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1)) : null;
  return { mean, sd, min: Math.min(...v), max: Math.max(...v), n };
}

/** Groups the per-run comparisons by variant (first-seen order) and averages each metric over the seeds. */
export function summarizeVariants(variants: readonly VariantComparison[]): VariantGroup[] {
  const byGroup = new Map<string, VariantComparison[]>();
  for (const v of variants) {
    if (!byGroup.has(v.group)) byGroup.set(v.group, []);
    byGroup.get(v.group)!.push(v);
  }
  return [...byGroup].map(([group, runs]) => {
    const metrics = runs[0]!.metrics.map((first, j): VariantGroupMetric => {
      const rows = runs.map((r) => {
        const c = r.metrics[j]!;
        if (c.metric !== first.metric) throw new Error(`variant ${r.name}: metric ${j} is ${c.metric}, expected ${first.metric}`);
        return c;
      });
      const fractions = rows.map((c) => c.fraction.value);
      return {
        metric: first.metric,
        higherIsBetter: first.higherIsBetter,
        baseline: seedSpread(rows.map((c) => c.baseline.value)),
        sbp: seedSpread(rows.map((c) => c.sbp.value)),
        oracle: seedSpread(rows.map((c) => c.oracle.value)),
        fraction: seedSpread(fractions.filter((f): f is number => f !== null)),
        fractions,
        ci: rows.length === 1 ? rows[0]!.fraction.ci : null,
        notes: rows.flatMap((c, k) => (c.fraction.note ? [rows.length > 1 ? `${runs[k]!.name}: ${c.fraction.note}` : c.fraction.note] : [])),
      };
    });
    const versus = runs[0]!.versus
      ? Object.fromEntries(
          Object.entries(runs[0]!.versus).map(([control, diffs]) => [
            control,
            diffs.map((d, j) => ({
              metric: d.metric,
              difference: seedSpread(runs.map((r) => r.versus?.[control]?.[j]?.difference.value ?? NaN)),
              ci: runs.length === 1 ? d.difference.ci : null,
            })),
          ]),
        )
      : undefined;
    return { group, runs: runs.map((r) => r.name), metrics, ...(versus ? { versus } : {}) };
  });
}
