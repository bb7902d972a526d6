import type { MetricComparison } from '../eval/compare.js';
import type { EvalResults } from '../eval/eval-stage.js';

const ROLES = ['baseline', 'sbp', 'oracle'] as const;

function fmt(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '—';
  const a = Math.abs(v);
  return a >= 1000 ? v.toFixed(0) : a >= 10 ? v.toFixed(2) : v.toFixed(4);
}

/**
 * The experiment's verdict as a plain-text table: one row per metric, the three runs side by side,
 * and the fraction of the oracle's gain SBP recovers ((sbp − baseline) / (oracle − baseline)).
 */
export function formatResultsTable(results: EvalResults, comparison: readonly MetricComparison[] | null): string {
  const byMetric = new Map((comparison ?? []).map((c) => [c.metric, c]));
  const header = ['metric', ...ROLES, 'SBP gain', 'oracle gain', 'fraction of oracle gain'];
  const rows: string[][] = [];
  for (const [metric, m] of Object.entries(results.metrics)) {
    const c = byMetric.get(metric);
    const arrow = m.higherIsBetter ? '↑' : '↓';
    rows.push([
      `${metric} ${arrow}`,
      ...ROLES.map((r) => fmt(m.values[r]?.value)),
      fmt(c?.sbpGain.value),
      fmt(c?.oracleGain.value),
      c ? (c.fraction.value === null ? `— ${c.fraction.note ?? ''}`.trim() : `${(100 * c.fraction.value).toFixed(1)}%`) : '—',
    ]);
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}
