import type { MetricComparison } from './compare.js';
import type { EvalResults } from './eval-stage.js';
import type { SeedSpread, SweepComparison } from './variant-summary.js';

/**
 * The results as a plain-text table: one row per metric (↑ higher is better, ↓ lower), one column per
 * model, and the fraction of oracle gain with its interval when baseline, sbp and oracle were given.
 * Synthetic-data quality metrics follow when the run has them.
 */
export function formatResultsTable(results: EvalResults, comparison: MetricComparison[] | null, sweep: SweepComparison | null = null): string {
  if (sweep && !comparison) return formatSweepTable(results, sweep);
  const models = Object.keys(results.models);
  const header = ['metric', ...models, ...(comparison ? ['of oracle gain'] : [])];
  const rows: string[][] = [header];
  const byMetric = new Map((comparison ?? []).map((c) => [c.metric, c]));
  for (const [name, m] of Object.entries(results.metrics)) {
    const row = [`${name} ${m.higherIsBetter ? '↑' : '↓'}`];
    for (const label of models) row.push(formatValue(m.values[label]!.value));
    if (comparison) {
      const c = byMetric.get(name);
      const f = c?.fraction;
      if (!f || f.value === null) row.push('undefined');
      else row.push(`${pct(f.value)}${f.ci ? ` [${pct(f.ci.lo)}, ${pct(f.ci.hi)}]` : ' (noisy)'}`);
    }
    rows.push(row);
  }
  const out = alignedRows(rows);
  out.push(...controlLines(comparison, sweep));
  const notes = (comparison ?? []).filter((c) => c.fraction.note).map((c) => `  ${c.metric}: ${c.fraction.note}`);
  if (notes.length > 0) out.push('', 'notes:', ...notes);
  out.push(...synthQualityLines(results));
  return `${out.join('\n')}\n`;
}

/**
 * SBP against each control run (same seed, same S): SBP − control per metric with its paired-bootstrap
 * interval, and the control's own fraction of oracle gain. The difference is SBP's own effect beyond
 * what sampled text alone (selfdistill) or a synthesizer tuned on random pairs (randompairs) gives.
 */
function controlLines(comparison: MetricComparison[] | null, sweep: SweepComparison | null): string[] {
  const sbp = comparison && sweep ? sweep.variants.find((v) => v.name === 'sbp' && v.versus) : undefined;
  if (!sbp?.versus) return [];
  const controls = Object.keys(sbp.versus);
  const rows: string[][] = [['metric', ...controls.map((c) => `SBP − ${c}`)]];
  for (const c of comparison!) rows.push([`${c.metric} ${c.higherIsBetter ? '↑' : '↓'}`, ...controls.map((k) => signedWithCi(sbp.versus![k]!.find((d) => d.metric === c.metric)?.difference))]);
  const fractions = controls.map((k) => {
    const own = sweep!.variants.find((v) => v.name === sbp.controls![k]);
    const f = own?.metrics.find((m) => m.metric === 'heldout/ppl')?.fraction;
    return `${k} ${!f || f.value === null ? 'undefined' : `${pct(f.value)}${f.ci ? ` [${pct(f.ci.lo)}, ${pct(f.ci.hi)}]` : ' (noisy)'}`}`;
  });
  return [
    '',
    'SBP against the controls (same seed and S), with paired-bootstrap intervals; for ↓ metrics a negative difference favours SBP:',
    ...alignedRows(rows),
    `the controls' own fraction of oracle gain on heldout/ppl: ${fractions.join(', ')}`,
  ];
}

function signedWithCi(e: { value: number; ci: { lo: number; hi: number } | null } | undefined): string {
  if (!e) return '—';
  const f = (x: number) => `${x >= 0 ? '+' : ''}${formatValue(x)}`;
  return `${f(e.value)}${e.ci ? ` [${f(e.ci.lo)}, ${f(e.ci.hi)}]` : ''}`;
}

/** The first row is the header: a rule goes under it; the first column is left-aligned, the others right. */
function alignedRows(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, j) => Math.max(...rows.map((r) => [...r[j]!].length)));
  const line = (r: string[]) => r.map((cell, j) => (j === 0 ? cell.padEnd(widths[j]!) : cell.padStart(widths[j]!))).join('  ');
  const out = rows.map(line);
  out.splice(1, 0, widths.map((w) => '-'.repeat(w)).join('  '));
  return out;
}

function synthQualityLines(results: EvalResults): string[] {
  const out: string[] = [];
  if (results.synthQuality && typeof results.synthQuality === 'object') {
    const flat = numericFields(results.synthQuality as Record<string, unknown>, '', 2);
    if (flat.length > 0) out.push('', 'synthetic data quality (synth/quality.json):', ...flat.map(([k, v]) => `  ${k}: ${Number.isInteger(v) ? String(v) : formatValue(v)}`));
  }
  return out;
}

/**
 * A sweep's results: every run's metric values (one row per run), then the fraction of oracle gain of
 * every variant (one row per variant): each run against the baseline and oracle of its own seed, the
 * mean over the variant's seeds with their standard deviation and range, or with one seed its
 * bootstrap interval.
 */
function formatSweepTable(results: EvalResults, sweep: SweepComparison): string {
  const metricNames = Object.keys(results.metrics);
  const arrow = (name: string) => `${name} ${results.metrics[name]!.higherIsBetter ? '↑' : '↓'}`;
  const runRows: string[][] = [['run', ...metricNames.map(arrow)]];
  for (const label of Object.keys(results.models)) runRows.push([label, ...metricNames.map((n) => formatValue(results.metrics[n]!.values[label]!.value))]);
  const groupMetrics = sweep.groups[0]?.metrics.map((m) => m.metric) ?? [];
  const seeds = Math.max(1, ...sweep.groups.map((g) => g.runs.length));
  const variantRows: string[][] = [['variant', 'runs', ...groupMetrics.map(arrow)]];
  for (const g of sweep.groups) {
    variantRows.push([g.group, String(g.runs.length), ...g.metrics.map((m) => fractionOverSeeds(m.fraction, m.ci, m.fractions.length))]);
  }
  const out = [
    ...alignedRows(runRows),
    '',
    seeds > 1
      ? `fraction of oracle gain per variant: each run against the baseline and oracle of its seed; mean ± standard deviation over seeds [min, max]`
      : 'fraction of oracle gain per variant (against the baseline and oracle of the same seed), with its bootstrap interval',
    ...alignedRows(variantRows),
  ];
  // With several seeds a note per run and metric would drown the table: they stay in eval/comparison.json.
  const notes = seeds > 1 ? [] : sweep.groups.flatMap((g) => g.metrics.flatMap((m) => m.notes.map((n) => `  ${g.group} ${m.metric}: ${n}`)));
  if (notes.length > 0) out.push('', 'notes:', ...notes);
  else if (sweep.groups.some((g) => g.metrics.some((m) => m.notes.length > 0))) out.push('', 'notes on single runs (an oracle within noise, an undefined fraction): eval/comparison.json, "variants"');
  out.push(...synthQualityLines(results));
  return `${out.join('\n')}\n`;
}

function fractionOverSeeds(f: SeedSpread | null, ci: { lo: number; hi: number } | null, runs: number): string {
  if (!f) return 'undefined';
  if (runs === 1) return `${pct(f.mean)}${ci ? ` [${pct(ci.lo)}, ${pct(ci.hi)}]` : ' (noisy)'}`;
  const missing = f.n < runs ? ` (${f.n} of ${runs} seeds)` : '';
  return `${pct(f.mean)} ± ${f.sd !== null ? pct(f.sd) : '—'} [${pct(f.min)}, ${pct(f.max)}]${missing}`;
}

function formatValue(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  if (a >= 1000) return x.toFixed(0);
  if (a >= 10) return x.toFixed(2);
  return x.toFixed(4);
}

function pct(x: number): string {
  return `${(x * 100).toFixed(0)}%`;
}

/** Numeric fields of a JSON object, nested ones as dotted names (`synthetic.repetitionRate`), down to `depth` levels. */
function numericFields(obj: Record<string, unknown>, prefix: string, depth: number): Array<[string, number]> {
  const out: Array<[string, number]> = [];
  for (const [k, v] of Object.entries(obj)) {
    if (typeof v === 'number') out.push([`${prefix}${k}`, v]);
    else if (depth > 1 && v !== null && typeof v === 'object' && !Array.isArray(v)) out.push(...numericFields(v as Record<string, unknown>, `${prefix}${k}.`, depth - 1));
  }
  return out;
}
