import type { BackendFactory } from '../engine/open-backend.js';
import { join } from 'node:path';
import { writeJsonAtomic } from '../common/fs-atomic.js';
import type { RunConfig } from '../config/schema.js';
import type { Backend } from '../engine/backend.js';
import { resolveModelConfig } from '../model/config.js';
import { Tokenizer } from '../tokenizer/tokenizer.js';
import { computeMatchedPlan, planSweep, type ComputeMatchedPlan, type SweepRun, type Throughput } from './compute-matched-plan.js';
import { alphaStages, armRunName, experimentSweep, isSweep, sbpVariants, type ExperimentSweep } from './sweep.js';
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
  return { formatVersion: 1, experiment, model: cfg.model, batchSize: t.batchSize, seqLen: t.seqLen, gradAccumSteps: t.gradAccumSteps };
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
      const sweep = isSweep(cfg) ? experimentSweep(cfg) : null;
      const plan = computeMatchedPlan({
        uniqueTokens: ex.uniqueTokens,
        budgetTokens: ex.budgetTokens,
        syntheticShare: sweep ? sweep.synthesisShare : ex.syntheticShare,
        oracleFactor: ex.oracleFactor,
        selection: sel,
        availableTokens: sel.availableTokens,
        model,
        seqLen: t.seqLen,
        tokensPerStep: t.batchSize * t.seqLen * t.gradAccumSteps,
        throughput,
      });
      if (sweep) plan.sweep = planSweep(plan, sweepRuns(sweep, cfg), sweep.alphas.map((a) => ({ value: a.value, kind: a.kind, ...alphaStages(a) })));
      writeJsonAtomic(join(ctx.dir, PLAN_FILE), plan);
      return plan;
    },
  });
}

/** Every training run of a sweep in plan order: the baselines, the SBP runs, the oracles. */
export function sweepRuns(sweep: ExperimentSweep, cfg: RunConfig): SweepRun[] {
  const seedOf = (s: number | undefined) => s ?? cfg.train.seed ?? cfg.seed;
  return [
    ...sweep.seeds.map((s) => ({ name: armRunName('baseline', s), arm: 'baseline' as const, share: null, alpha: null, seed: seedOf(s.seed) })),
    ...sbpVariants(sweep).map((v) => ({ name: v.name, arm: 'sbp' as const, share: v.share, alpha: v.alpha.value, seed: seedOf(v.seed.seed) })),
    ...sweep.seeds.map((s) => ({ name: armRunName('oracle', s), arm: 'oracle' as const, share: null, alpha: null, seed: seedOf(s.seed) })),
  ];
}
