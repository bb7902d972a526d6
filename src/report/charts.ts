import type { TopLevelSpec } from 'vega-lite';
import type { PairStats } from '../pairs/pair-miner.js';
import type { ModelRun } from './run-snapshot.js';

/** Width and height of one chart's plot area, px; the page's column is ~900 px. */
const WIDTH = 640;
const HEIGHT = 260;

/** The three runs of the experiment get fixed colours so every chart and table agrees. */
export const RUN_COLORS: Record<string, string> = { baseline: '#7f7f7f', sbp: '#1f77b4', oracle: '#2ca02c' };
const OTHER_COLORS = ['#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#bcbd22'];

/** One bin of the pair-similarity histograms: candidate and kept-pair counts in [lo, hi). */
export interface SimilarityBin {
  lo: number;
  hi: number;
  candidates: number;
  pairs: number;
}

/** The bins from the first to the last non-empty one (the rest of [-1, 1] is empty and would squash the plot). */
export function similarityBins(sim: PairStats['similarity']): SimilarityBin[] {
  const c = sim.candidates;
  const p = sim.pairs;
  if (c.counts.length !== p.counts.length) throw new Error(`candidate and pair histograms differ in size (${c.counts.length} vs ${p.counts.length})`);
  let first = -1;
  let last = -1;
  for (let i = 0; i < c.counts.length; i++) {
    if (c.counts[i]! > 0 || p.counts[i]! > 0) {
      if (first < 0) first = i;
      last = i;
    }
  }
  const out: SimilarityBin[] = [];
  for (let i = Math.max(first, 0); first >= 0 && i <= last; i++) {
    out.push({ lo: round(c.lo + i * c.binWidth), hi: round(c.lo + (i + 1) * c.binWidth), candidates: c.counts[i]!, pairs: p.counts[i]! });
  }
  return out;
}

function round(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}

/** Candidate similarities (grey) with the kept pairs over them (blue) and a rule at α. */
export function similarityHistogramSpec(bins: SimilarityBin[], alpha: number | null): TopLevelSpec {
  const rows = bins.flatMap((b) => [
    { lo: b.lo, hi: b.hi, series: 'candidates', count: b.candidates },
    { lo: b.lo, hi: b.hi, series: 'kept pairs', count: b.pairs },
  ]).filter((r) => r.count > 0);
  const layers: object[] = [
    {
      mark: { type: 'bar', binSpacing: 0, opacity: 0.85 },
      encoding: {
        x: { field: 'lo', type: 'quantitative', title: 'cosine similarity of d1 and d2', scale: { zero: false } },
        x2: { field: 'hi' },
        y: { field: 'count', type: 'quantitative', title: 'neighbour pairs', stack: null },
        y2: { datum: 0 }, // bars stand on 0 (x/x2 ranges otherwise make Vega-Lite draw them as floating ticks)
        color: { field: 'series', type: 'nominal', title: null, scale: { domain: ['candidates', 'kept pairs'], range: ['#b8b8b8', '#1f77b4'] } },
        order: { field: 'series', sort: 'ascending' },
      },
    },
  ];
  if (alpha !== null) {
    layers.push({
      data: { values: [{ alpha }] },
      layer: [
        { mark: { type: 'rule', color: '#d62728', strokeDash: [4, 3], strokeWidth: 1.5 }, encoding: { x: { field: 'alpha', type: 'quantitative' } } },
        { mark: { type: 'text', color: '#d62728', align: 'left', dx: 4, baseline: 'top', y: 2 }, encoding: { x: { field: 'alpha', type: 'quantitative' }, text: { value: `α = ${alpha.toFixed(3)}` } } },
      ],
    });
  }
  return { width: WIDTH, height: HEIGHT, data: { values: rows }, layer: layers } as unknown as TopLevelSpec;
}

/** A run's colour: the arm's for the three runs and for a sweep's baselines and oracles (`baseline-seed2`); the others in turn. */
export function runColor(name: string, k: number): string {
  const arm = /^(baseline|oracle)(-seed\d+)?$/.exec(name)?.[1];
  return RUN_COLORS[name] ?? (arm ? RUN_COLORS[arm]! : OTHER_COLORS[k % OTHER_COLORS.length]!);
}

function colorScale(names: string[]): { domain: string[]; range: string[] } {
  let k = 0;
  const fixed = (n: string) => n in RUN_COLORS || /^(baseline|oracle)(-seed\d+)?$/.test(n);
  return { domain: names, range: names.map((n) => runColor(n, fixed(n) ? 0 : k++)) };
}

/**
 * Token counts on an axis: at most 3 significant digits with SI units and trailing zeros trimmed
 * (1.2M, 250k, 1.25M), never the raw 1.200128M that `~s` prints for a tick at an odd value.
 */
export const TOKEN_AXIS_FORMAT = '.3~s';

/** Held-out loss (nats per token) against training tokens, one line per model. */
export function heldoutLossSpec(models: ModelRun[]): TopLevelSpec {
  const rows = models.flatMap((m) => m.evals.map((e) => ({ model: m.name, tokens: e.tokens, loss: e.heldoutLoss })));
  return {
    width: WIDTH,
    height: HEIGHT,
    data: { values: rows },
    mark: { type: 'line', point: { size: 28 }, strokeWidth: 2 },
    encoding: {
      x: { field: 'tokens', type: 'quantitative', title: 'training tokens seen', axis: { format: TOKEN_AXIS_FORMAT } },
      y: { field: 'loss', type: 'quantitative', title: 'held-out loss (nats / token)', scale: { zero: false } },
      color: { field: 'model', type: 'nominal', title: 'run', scale: colorScale(models.map((m) => m.name)) },
    },
  } as unknown as TopLevelSpec;
}

/** Training loss (nats per token, the logged steps) against training tokens, one line per model. */
export function trainingLossSpec(models: ModelRun[]): TopLevelSpec {
  const rows = models.flatMap((m) => m.steps.filter((s) => s.loss !== null).map((s) => ({ model: m.name, tokens: s.tokens, loss: s.loss })));
  return {
    width: WIDTH,
    height: HEIGHT,
    data: { values: rows },
    mark: { type: 'line', strokeWidth: 1.5 },
    encoding: {
      x: { field: 'tokens', type: 'quantitative', title: 'training tokens seen', axis: { format: TOKEN_AXIS_FORMAT } },
      y: { field: 'loss', type: 'quantitative', title: 'training loss (nats / token)', scale: { zero: false } },
      color: { field: 'model', type: 'nominal', title: 'run', scale: colorScale(models.map((m) => m.name)) },
    },
  } as unknown as TopLevelSpec;
}

/** The synthesizer's training loss on d2 tokens and its held-out conditional loss, against steps. */
export function synthesizerLossSpec(model: ModelRun): TopLevelSpec {
  const rows = [
    ...model.steps.filter((s) => s.loss !== null).map((s) => ({ series: 'training loss (d2 tokens)', step: s.step, loss: s.loss })),
    ...model.evals.map((e) => ({ series: 'held-out loss (unseen pairs)', step: e.step, loss: e.heldoutLoss })),
  ];
  return {
    width: WIDTH,
    height: HEIGHT,
    data: { values: rows },
    mark: { type: 'line', point: { size: 20 }, strokeWidth: 2 },
    encoding: {
      x: { field: 'step', type: 'quantitative', title: 'optimizer step', axis: { format: TOKEN_AXIS_FORMAT } },
      y: { field: 'loss', type: 'quantitative', title: 'loss (nats / d2 token)', scale: { zero: false } },
      color: { field: 'series', type: 'nominal', title: null, scale: { domain: ['training loss (d2 tokens)', 'held-out loss (unseen pairs)'], range: ['#9ecae1', '#d62728'] } },
    },
  } as unknown as TopLevelSpec;
}

/** The fraction of the oracle's gain SBP recovers, one bar per metric, with a rule at 0 and at 1. */
export function fractionOfOracleGainSpec(rows: Array<{ metric: string; fraction: number; lo: number | null; hi: number | null }>): TopLevelSpec {
  const height = Math.max(60, 28 * rows.length);
  const layers: object[] = [
    {
      mark: { type: 'bar', color: '#1f77b4', height: 16 },
      encoding: {
        y: { field: 'metric', type: 'nominal', title: null, sort: null },
        x: { field: 'fraction', type: 'quantitative', title: 'fraction of oracle gain', axis: { format: '.0%' } },
      },
    },
    {
      data: { values: [{ x: 0 }, { x: 1 }] },
      mark: { type: 'rule', color: '#555', strokeDash: [3, 3] },
      encoding: { x: { field: 'x', type: 'quantitative' } },
    },
  ];
  if (rows.some((r) => r.lo !== null)) {
    layers.push({
      transform: [{ filter: 'datum.lo !== null' }],
      mark: { type: 'rule', color: '#222', strokeWidth: 1.5 },
      encoding: { y: { field: 'metric', type: 'nominal', sort: null }, x: { field: 'lo', type: 'quantitative' }, x2: { field: 'hi' } },
    });
  }
  return { width: WIDTH - 140, height, data: { values: rows }, layer: layers } as unknown as TopLevelSpec;
}
