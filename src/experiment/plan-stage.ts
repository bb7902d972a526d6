import type { BackendFactory } from '../engine/open-backend.js';
import { join } from 'node:path';
import { writeJsonAtomic } from '../common/fs-atomic.js';
import type { RunConfig } from '../config/schema.js';
import type { Backend } from '../engine/backend.js';
import { resolveModelConfig } from '../model/config.js';
import { Tokenizer } from '../tokenizer/tokenizer.js';
import { computeMatchedPlan, planRuns, planSearch, planSweep, type ComputeMatchedPlan, type RunPlan, type SweepRun, type Throughput } from './compute-matched-plan.js';
import { alphaStages, experimentSweep, isSweep, trainingRuns, type ExperimentSweep } from './sweep.js';
import { SELECTION_FILE, SUBSET_STAGE, type SubsetStats } from './subset-stage.js';
import { readJsonIfExists } from '../common/fs-atomic.js';
import { inputHash, runStage, stageDir, type StageResult } from '../stage/stage.js';
import { probeTrainThroughput } from './throughput-probe.js';
import { UserError } from '../common/errors.js';

export const PLAN_STAGE = 'experiment';
export const PLAN_FILE = 'plan.json';

export interface PlanStageOptions {
  cfg: RunConfig;
  runDir: string;
  createBackend: BackendFactory;
  force?: boolean;
}

/** What decides the plan: the budgets, the model and the training shape (not how the time is estimated). */
export function planIdentity(cfg: RunConfig): Record<string, unknown> {
  const { probeSteps: _p, calibration: _c, ...experiment } = cfg.experiment;
  const t = cfg.train;
  return { formatVersion: 2, experiment, model: cfg.model, batchSize: t.batchSize, seqLen: t.seqLen, gradAccumSteps: t.gradAccumSteps };
}

/**
 * `experiment/plan.json`: the compute-matched plan of this run, from the subset the `corpus/` stage
 * took and the model the `model` section describes, with a training-time estimate from a short
 * throughput probe (or the stored calibration). Every training run of the experiment takes its step
 * count, and synthesis its target, from here.
 */
export async function runPlanStage(opts: PlanStageOptions): Promise<StageResult<ComputeMatchedPlan>> {
  const { cfg, runDir } = opts;
  return runStage<ComputeMatchedPlan>({
    stage: PLAN_STAGE,
    runDir,
    config: planIdentity(cfg),
    inputs: { corpus: inputHash(runDir, SUBSET_STAGE, 'sbp experiment'), tokenizer: inputHash(runDir, 'tokenizer', 'sbp experiment') },
    force: opts.force,
    run: async (ctx) => {
      const selectionPath = join(stageDir(runDir, SUBSET_STAGE), SELECTION_FILE);
      const sel = readJsonIfExists<SubsetStats>(selectionPath);
      if (!sel) throw new UserError(`${selectionPath} is missing although its stage finished; rerun \`sbp experiment --force\``);
      const tokenizer = Tokenizer.load(join(stageDir(runDir, 'tokenizer'), 'tokenizer.json'));
      const model = resolveModelConfig(cfg.model, { vocabSize: tokenizer.vocabSize, source: 'model' });
      const t = cfg.train;
      const ex = cfg.experiment;
      let throughput: Throughput | undefined;
      if (ex.calibration) throughput = { trainTokensPerSec: ex.calibration.trainTokensPerSec, source: 'calibration', backend: t.backend };
      else if (ex.probeSteps > 0) {
        const backend = await opts.createBackend(t.backend, cfg.threads);
        throughput = probeTrainThroughput(backend, model, t.batchSize, t.seqLen, ex.probeSteps, cfg.seed);
      }
      const sweep = experimentSweep(cfg);
      const plan = computeMatchedPlan({
        uniqueTokens: ex.uniqueTokens,
        budgetTokens: ex.budgetTokens,
        syntheticShare: sweep.synthesisShare,
        oracleFactor: ex.oracleFactor,
        selection: sel,
        availableTokens: sel.availableTokens,
        model,
        seqLen: t.seqLen,
        tokensPerStep: t.batchSize * t.seqLen * t.gradAccumSteps,
        throughput,
      });
      plan.trainingRuns = planRuns(plan, experimentRunList(sweep, cfg));
      plan.flops.total = plan.flops.perRun * plan.trainingRuns.length;
      if (plan.estimate) plan.estimate.totalSeconds = plan.estimate.secondsPerRun * plan.trainingRuns.length;
      const grid = ex.baselineSearch.weightDecay;
      if (grid.length > 1) {
        if (!sel.validationDocs) throw new UserError(`experiment.baselineSearch: the train split has no documents left outside U for a validation split; lower experiment.uniqueTokens or experiment.baselineSearch.validationTokens`);
        plan.search = planSearch(plan, grid, { docs: sel.validationDocs, tokens: sel.validationTokens ?? 0 });
      }
      if (isSweep(cfg)) plan.sweep = planSweep(plan, sweep.alphas.map((a) => ({ value: a.value, kind: a.kind, ...alphaStages(a) })));
      writeJsonAtomic(join(ctx.dir, PLAN_FILE), plan);
      return plan;
    },
  });
}

/** Every training run in plan order (sweep.ts), as the plan lists it. */
export function experimentRunList(sweep: ExperimentSweep, cfg: RunConfig): SweepRun[] {
  const seedOf = (s: number | undefined) => s ?? cfg.train.seed ?? cfg.seed;
  return trainingRuns(sweep).map((r) => ({ name: r.name, arm: r.arm, share: r.share, alpha: r.alpha?.value ?? null, seed: seedOf(r.seed.seed) }));
}

/** The plan the plan stage wrote: the input of every node after it. */
export function readPlan(runDir: string): ComputeMatchedPlan {
  const path = join(stageDir(runDir, PLAN_STAGE), PLAN_FILE);
  const plan = readJsonIfExists<ComputeMatchedPlan>(path);
  if (!plan || !Array.isArray(plan.trainingRuns)) throw new UserError(`${path} is missing or from an older sbp; rerun \`sbp experiment\` (its plan stage rewrites it)`);
  return plan;
}

/** One run's entry of the plan. */
export function plannedRun(plan: ComputeMatchedPlan, name: string): SweepRun & RunPlan {
  const r = plan.trainingRuns.find((x) => x.name === name);
  if (!r) throw new Error(`the plan has no training run "${name}"`);
  return r;
}
