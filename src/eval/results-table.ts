import type { MetricComparison } from './compare.js';
import type { EvalResults } from './eval-stage.js';

/**
 * The results as a plain-text table: one row per metric (↑ higher is better, ↓ lower), one column per
 * model, and the fraction of oracle gain with its interval when baseline, sbp and oracle were given.
 * Synthetic-data quality metrics follow when the run has them.
 */
export function formatResultsTable(results: EvalResults, comparison: MetricComparison[] | null): string {
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
  const widths = header.map((_, j) => Math.max(...rows.map((r) => [...r[j]!].length)));
  const line = (r: string[]) => r.map((cell, j) => (j === 0 ? cell.padEnd(widths[j]!) : cell.padStart(widths[j]!))).join('  ');
  const out = rows.map(line);
  out.splice(1, 0, widths.map((w) => '-'.repeat(w)).join('  '));
  const notes = (comparison ?? []).filter((c) => c.fraction.note).map((c) => `  ${c.metric}: ${c.fraction.note}`);
  if (notes.length > 0) out.push('', 'notes:', ...notes);
  if (results.synthQuality && typeof results.synthQuality === 'object') {
    const flat = numericFields(results.synthQuality as Record<string, unknown>, '', 2);
    if (flat.length > 0) out.push('', 'synthetic data quality (synth/quality.json):', ...flat.map(([k, v]) => `  ${k}: ${Number.isInteger(v) ? String(v) : formatValue(v)}`));
  }
  return `${out.join('\n')}\n`;
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
