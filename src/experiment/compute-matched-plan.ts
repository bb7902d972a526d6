import { UserError } from '../common/errors.js';
import { formatCount, formatDuration } from '../common/progress.js';
import { countParams, trainFlopsPerToken } from '../model/config.js';
import type { ModelConfig } from '../model/types.js';
import type { SweepAlpha } from '../stage/plan-record.js';
import type { Arm } from './arm-table.js';

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
  /**
   * Every training run of the experiment (`models/<name>`) with its data; each run reads its own
   * entry. A plain experiment has baseline, sbp, the controls and oracle.
   */
  trainingRuns: Array<SweepRun & RunPlan>;
  /** The baseline's regularization search (null: none): the grid, the validation split and its cost. */
  search: SearchPlan | null;
  /** Only in a sweep (docs/experiment.md): every run of it. `syntheticTokens` above is then what synthesis makes for the largest share. */
  sweep?: SweepPlan;
}

/** One training run: its name (`models/<name>`), arm and the values it was run at. */
export interface SweepRun {
  name: string;
  arm: Arm;
  share: number | null;
  alpha: number | null;
  seed: number;
}

/**
 * The search for the baseline's weight decay: one baseline per grid value (`models/search-wd<v>`),
 * each scored on a validation split carved from the train side outside every run's data; the value
 * with the lowest validation loss is the one every run trains with.
 */
export interface SearchPlan {
  weightDecay: number[];
  runs: string[];
  validation: { docs: number; tokens: number };
  /** Extra training runs (the chosen one is the baseline), their FLOPs, and their time when the plan has a throughput. */
  cost: { runs: number; flops: number; seconds: number | null };
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

/** The plan of every training run, from the plan of the largest share: the same B and U; each synthetic run has its own S = share × B. */
export function planRuns(plan: ComputeMatchedPlan, runs: readonly SweepRun[]): Array<SweepRun & RunPlan> {
  return runs.map((r) => {
    if (r.arm === 'baseline' || r.arm === 'oracle') return { ...r, ...plan.runs[r.arm] };
    if (r.share === null || !(r.share > 0 && r.share < 1)) throw new Error(`run ${r.name}: a synthetic run needs a share in (0, 1)`);
    const S = Math.round(r.share * plan.requested.budgetTokens);
    const real = plan.budgetTokens - S;
    return { ...r, realUniqueTokens: plan.uniqueTokens, realTokens: real, repetitions: real / plan.uniqueTokens, syntheticTokens: S };
  });
}

/** The sweep view of the plan (the report reads its α folders). */
export function planSweep(plan: ComputeMatchedPlan, alphas: SweepAlpha[]): SweepPlan {
  const n = plan.trainingRuns.length;
  return {
    runs: plan.trainingRuns,
    alphas,
    flops: { total: plan.flops.perRun * n },
    estimate: plan.estimate ? { totalSeconds: plan.estimate.secondsPerRun * n } : null,
  };
}

/** The search's cost: one training run of B per grid value, less the one that becomes the baseline. */
export function planSearch(plan: ComputeMatchedPlan, weightDecay: number[], validation: { docs: number; tokens: number }): SearchPlan {
  const runs = weightDecay.map(searchRunName);
  const extra = runs.length - 1;
  return { weightDecay, runs, validation, cost: { runs: extra, flops: plan.flops.perRun * extra, seconds: plan.estimate ? plan.estimate.secondsPerRun * extra : null } };
}

/** `models/<name>` of the search run at one weight decay. */
export function searchRunName(weightDecay: number): string {
  return `search-wd${weightDecay}`;
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
    trainingRuns: [],
    search: null,
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
  const runs = plan.trainingRuns.length > 0 ? plan.trainingRuns : (['baseline', 'sbp', 'oracle'] as const).map((arm) => ({ name: arm, ...plan.runs[arm] }));
  const n = runs.length;
  const width = Math.max(11, ...runs.map((r) => r.name.length));
  if (sweep) lines.push(`  sweep: ${n} training runs; synthesis once per α (${sweep.alphas.length}×) and control, ${formatCount(plan.syntheticTokens)} tokens each, for the largest share; smaller shares train on a prefix`);
  for (const r of runs) lines.push(row(r.name, r, width));
  const three = n === 3 ? 'the three runs' : `the ${n} runs`;
  lines.push(`  FLOPs: ${plan.flops.perToken.toExponential(2)} per token, ${plan.flops.perRun.toExponential(2)} per run, ${(plan.flops.perRun * n).toExponential(2)} for ${three}`);
  const search = plan.search;
  if (search) {
    const time = search.cost.seconds !== null ? `, about ${formatDuration(search.cost.seconds)}` : '';
    lines.push(
      `  baseline search: weight decay ∈ {${search.weightDecay.join(', ')}}, each a baseline scored on a validation split of ${formatCount(search.validation.tokens)} train-side tokens (${search.validation.docs} documents outside U and the oracle); cost ${search.cost.runs} extra runs (${search.cost.flops.toExponential(2)} FLOPs${time}: the best becomes the baseline); its weight decay is used by every run`,
    );
  }
  if (plan.estimate) {
    const how = plan.estimate.source === 'probe' ? 'measured now by a short probe' : 'from the stored calibration (experiment.calibration)';
    const total = n === 3 ? `${formatDuration(plan.estimate.totalSeconds)} for the three` : `${formatDuration(plan.estimate.secondsPerRun * n)} for the ${n} runs${sweep ? ' of the sweep' : ''}`;
    lines.push(
      `  estimated training time here: ${formatDuration(plan.estimate.secondsPerRun)} per run, ${total} ` +
        `(${formatCount(plan.estimate.trainTokensPerSec)} tokens/s on ${plan.estimate.backend}, ${how}; synthesizer tuning, synthesis and evaluation come on top)`,
    );
  }
  for (const n of plan.notes) lines.push(`  note: ${n}`);
  return lines.join('\n');
}
