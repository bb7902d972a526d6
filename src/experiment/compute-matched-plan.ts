import { UserError } from '../common/errors.js';
import { formatCount, formatDuration } from '../common/progress.js';
import { countParams, trainFlopsPerToken } from '../model/config.js';
import type { ModelConfig } from '../model/types.js';
import type { SweepAlpha } from '../stage/plan-record.js';

/**
 * The compute-matched experiment of SBP: three training runs of the same model, hyper-parameters,
 * seed and token budget B, differing only in data —
 *   baseline: U unique tokens repeated to fill B,
 *   sbp:      the same U (repeated) plus S synthetic tokens, each used once,
 *   oracle:   up to oracleFactor × U unique tokens from the same corpus (the paper uses ~20×).
 * All token counts are stream tokens as trained: each document framed by bos/eos.
 */
export interface PlanInput {
  /** U asked for. */
  uniqueTokens: number;
  /** B: tokens each run trains on. */
  budgetTokens: number;
  /** S / B. */
  syntheticShare: number;
  /** Oracle data = this many × U, when the corpus has it. */
  oracleFactor: number;
  /** What the subset selection actually took (documents end where they end, so U' ≥ U). */
  selection: SubsetSizes;
  /** Tokens in the whole train split: the oracle cannot have more. */
  availableTokens: number;
  model: ModelConfig;
  seqLen: number;
  /** Tokens per optimizer step (batch × seqLen × grad accumulation). */
  tokensPerStep: number;
  throughput?: Throughput;
}

export interface SubsetSizes {
  uniqueDocs: number;
  uniqueTokens: number;
  oracleDocs: number;
  oracleTokens: number;
}

export interface Throughput {
  trainTokensPerSec: number;
  /** 'probe': measured now on this machine; 'calibration': a stored figure from the config. */
  source: 'probe' | 'calibration';
  backend: string;
}

export interface RunPlan {
  /** Unique real tokens the run sees. */
  realUniqueTokens: number;
  /** Real tokens trained on (≤ budget); the rest is synthetic. */
  realTokens: number;
  /** Passes over the real data. */
  repetitions: number;
  syntheticTokens: number;
}

export interface ComputeMatchedPlan {
  requested: { uniqueTokens: number; budgetTokens: number; syntheticShare: number; oracleFactor: number };
  uniqueTokens: number;
  uniqueDocs: number;
  /** The budget each run trains on: whole optimizer steps, so at least B. */
  budgetTokens: number;
  steps: number;
  tokensPerStep: number;
  syntheticTokens: number;
  runs: { baseline: RunPlan; sbp: RunPlan; oracle: RunPlan };
  oracle: { docs: number; tokens: number; factor: number; shortfall: string | null };
  params: number;
  flops: { perToken: number; perRun: number; total: number };
  estimate: { secondsPerRun: number; totalSeconds: number; source: Throughput['source']; backend: string; trainTokensPerSec: number } | null;
  notes: string[];
  /** Only in a sweep (docs/experiment.md): every run of it. `syntheticTokens` above is then what synthesis makes per α. */
  sweep?: SweepPlan;
}

/** One training run of a sweep: its name (`models/<name>`), arm and the values it was run at. */
export interface SweepRun {
  name: string;
  arm: 'baseline' | 'sbp' | 'oracle';
  share: number | null;
  alpha: number | null;
  seed: number;
}

// One α of a sweep: shared with the report, which reads it from plan.json.
export type { SweepAlpha } from '../stage/plan-record.js';

export interface SweepPlan {
  runs: Array<SweepRun & RunPlan>;
  /** One synthetic corpus per α, each of `syntheticTokens`. */
  alphas: SweepAlpha[];
  flops: { total: number };
  estimate: { totalSeconds: number } | null;
}

/** The plan of every run of a sweep, from the plan of its largest share: the same B and U; each SBP run has its own S. */
export function planSweep(plan: ComputeMatchedPlan, runs: readonly SweepRun[], alphas: SweepAlpha[]): SweepPlan {
  const planned = runs.map((r) => {
    if (r.arm !== 'sbp') return { ...r, ...plan.runs[r.arm] };
    if (r.share === null || !(r.share > 0 && r.share < 1)) throw new Error(`sweep run ${r.name}: an SBP run needs a share in (0, 1)`);
    const S = Math.round(r.share * plan.requested.budgetTokens);
    const real = plan.budgetTokens - S;
    return { ...r, realUniqueTokens: plan.uniqueTokens, realTokens: real, repetitions: real / plan.uniqueTokens, syntheticTokens: S };
  });
  return {
    runs: planned,
    alphas,
    flops: { total: plan.flops.perRun * runs.length },
    estimate: plan.estimate ? { totalSeconds: plan.estimate.secondsPerRun * runs.length } : null,
  };
}

export function computeMatchedPlan(p: PlanInput): ComputeMatchedPlan {
  checkInput(p);
  const sel = p.selection;
  const steps = Math.ceil(p.budgetTokens / p.tokensPerStep);
  const budget = steps * p.tokensPerStep;
  // S is a share of the requested B; the extra tokens of the last whole step go to real data.
  const synthetic = Math.round(p.syntheticShare * p.budgetTokens);
  const U = sel.uniqueTokens;
  const notes: string[] = [];

  const wantedOracle = p.oracleFactor * U;
  let shortfall: string | null = null;
  if (sel.oracleTokens < wantedOracle) {
    shortfall =
      `the corpus is too small for a ${p.oracleFactor}× oracle: its train split holds ${formatCount(p.availableTokens)} tokens, ` +
      `so the oracle gets ${formatCount(sel.oracleTokens)} (${(sel.oracleTokens / U).toFixed(1)}×U) instead of ${formatCount(wantedOracle)}`;
    notes.push(shortfall);
  }
  if (budget < U) notes.push(`the budget (${formatCount(budget)}) is smaller than U (${formatCount(U)}): the baseline does not see all of its data once`);
  if (budget - synthetic < U) notes.push(`the SBP run's real share (${formatCount(budget - synthetic)}) is smaller than U: it does not see all real data once`);
  if (sel.oracleTokens < budget) notes.push(`the oracle data (${formatCount(sel.oracleTokens)}) is smaller than the budget: the oracle repeats it ${(budget / sel.oracleTokens).toFixed(2)}×`);

  const perToken = trainFlopsPerToken(p.model, p.seqLen);
  const perRun = perToken * budget;
  const estimate = p.throughput
    ? {
        secondsPerRun: budget / p.throughput.trainTokensPerSec,
        totalSeconds: (3 * budget) / p.throughput.trainTokensPerSec,
        source: p.throughput.source,
        backend: p.throughput.backend,
        trainTokensPerSec: p.throughput.trainTokensPerSec,
      }
    : null;

  return {
    requested: { uniqueTokens: p.uniqueTokens, budgetTokens: p.budgetTokens, syntheticShare: p.syntheticShare, oracleFactor: p.oracleFactor },
    uniqueTokens: U,
    uniqueDocs: sel.uniqueDocs,
    budgetTokens: budget,
    steps,
    tokensPerStep: p.tokensPerStep,
    syntheticTokens: synthetic,
    runs: {
      baseline: { realUniqueTokens: U, realTokens: budget, repetitions: budget / U, syntheticTokens: 0 },
      sbp: { realUniqueTokens: U, realTokens: budget - synthetic, repetitions: (budget - synthetic) / U, syntheticTokens: synthetic },
      oracle: { realUniqueTokens: sel.oracleTokens, realTokens: budget, repetitions: budget / sel.oracleTokens, syntheticTokens: 0 },
    },
    oracle: { docs: sel.oracleDocs, tokens: sel.oracleTokens, factor: sel.oracleTokens / U, shortfall },
    params: countParams(p.model).total,
    flops: { perToken, perRun, total: 3 * perRun },
    estimate,
    notes,
  };
}

function checkInput(p: PlanInput): void {
  const whole = (v: number, field: string, min: number) => {
    if (!(Number.isInteger(v) && v >= min)) throw new UserError(`experiment.${field}: got ${v}; a whole number >= ${min}`);
  };
  whole(p.uniqueTokens, 'uniqueTokens', 1);
  whole(p.budgetTokens, 'budgetTokens', 1);
  if (!(p.syntheticShare >= 0 && p.syntheticShare < 1)) throw new UserError(`experiment.syntheticShare: got ${p.syntheticShare}; a share in [0, 1)`);
  if (!(p.oracleFactor >= 1)) throw new UserError(`experiment.oracleFactor: got ${p.oracleFactor}; at least 1`);
  if (!(Number.isInteger(p.tokensPerStep) && p.tokensPerStep >= 1)) throw new Error(`tokensPerStep must be a whole number >= 1, got ${p.tokensPerStep}`);
  const s = p.selection;
  if (s.uniqueTokens <= 0 || s.uniqueDocs <= 0) throw new UserError('the U subset is empty: the train split holds no tokens; check the corpus');
  if (s.oracleTokens < s.uniqueTokens || s.oracleDocs < s.uniqueDocs) throw new Error('the oracle subset must contain the U subset');
  if (s.oracleTokens > p.availableTokens) throw new Error(`the oracle subset (${s.oracleTokens}) exceeds the train split (${p.availableTokens})`);
}

/** The plan as the lines printed before the experiment runs. */
export function formatPlan(plan: ComputeMatchedPlan): string {
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  const row = (name: string, r: RunPlan, width = 9) =>
    `  ${name.padEnd(width)} ${formatCount(r.realUniqueTokens).padStart(9)} unique  ${r.repetitions.toFixed(2).padStart(6)}× repeated  ${formatCount(r.syntheticTokens).padStart(8)} synthetic  ${formatCount(plan.budgetTokens).padStart(8)} trained`;
  const lines = [
    `compute-matched plan: ${formatCount(plan.params)}-parameter model, ${plan.steps} steps × ${formatCount(plan.tokensPerStep)} tokens = B ${formatCount(plan.budgetTokens)} tokens per run`,
    `  U = ${formatCount(plan.uniqueTokens)} tokens (${plan.uniqueDocs} documents; asked ${formatCount(plan.requested.uniqueTokens)}), S = ${formatCount(plan.syntheticTokens)} (${pct(plan.requested.syntheticShare)} of B${plan.sweep ? ', the largest share' : ''}), oracle ${formatCount(plan.oracle.tokens)} (${plan.oracle.factor.toFixed(1)}×U, ${plan.oracle.docs} documents)`,
  ];
  const sweep = plan.sweep;
  if (sweep) {
    const width = Math.max(9, ...sweep.runs.map((r) => r.name.length));
    lines.push(`  sweep: ${sweep.runs.length} training runs; synthesis once per α (${sweep.alphas.length}×), ${formatCount(plan.syntheticTokens)} tokens each, for the largest share; smaller shares train on a prefix`);
    for (const r of sweep.runs) lines.push(row(r.name, r, width));
    lines.push(`  FLOPs: ${plan.flops.perToken.toExponential(2)} per token, ${plan.flops.perRun.toExponential(2)} per run, ${sweep.flops.total.toExponential(2)} for the ${sweep.runs.length} runs`);
  } else {
    lines.push(
      row('baseline', plan.runs.baseline),
      row('sbp', plan.runs.sbp),
      row('oracle', plan.runs.oracle),
      `  FLOPs: ${plan.flops.perToken.toExponential(2)} per token, ${plan.flops.perRun.toExponential(2)} per run, ${plan.flops.total.toExponential(2)} for the three runs`,
    );
  }
  if (plan.estimate) {
    const how = plan.estimate.source === 'probe' ? 'measured now by a short probe' : 'from the stored calibration (experiment.calibration)';
    const total = sweep?.estimate ? `${formatDuration(sweep.estimate.totalSeconds)} for the ${sweep.runs.length} runs of the sweep` : `${formatDuration(plan.estimate.totalSeconds)} for the three`;
    lines.push(
      `  estimated training time here: ${formatDuration(plan.estimate.secondsPerRun)} per run, ${total} ` +
        `(${formatCount(plan.estimate.trainTokensPerSec)} tokens/s on ${plan.estimate.backend}, ${how}; synthesizer tuning, synthesis and evaluation come on top)`,
    );
  }
  for (const n of plan.notes) lines.push(`  note: ${n}`);
  return lines.join('\n');
}
