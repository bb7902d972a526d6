import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Command, Option } from 'commander';
import { UserError } from '../common/errors.js';
import { packageRoot } from '../common/package-root.js';
import { formatDuration } from '../common/progress.js';
import { formatPlan } from '../experiment/compute-matched-plan.js';
import { runExperiment, type ExperimentResult } from '../experiment/experiment-runner.js';
import { formatResultsTable } from '../eval/results-table.js';
import { SynthesisInterrupted } from '../synth/synthesize-stage.js';
import { TrainingInterrupted } from '../train/train-stage.js';
import { ASSUMED_MFU, GPUS, formatGpuPlan, planOnGpu, type TrainingRunSpec } from '../train/gpu-plan.js';
import { resolveModelConfig } from '../model/config.js';
import type { ModelConfig } from '../model/types.js';
import type { RunConfig } from '../config/schema.js';
import { addCommonOptions, loadCommandConfig, runInterruptible, type CommonFlags } from './common.js';

export const EXPERIMENT_PRESETS = ['tiny', 'small', 'gpu', 'base'] as const;

interface ExperimentFlags extends CommonFlags {
  preset?: (typeof EXPERIMENT_PRESETS)[number];
  plan?: boolean;
  dryRun?: boolean;
  gpu?: string;
  gpus?: string;
  mfu?: string;
}

/**
 * The training runs of the experiment a config describes, from the config alone: the compute-matched
 * LM runs (baseline, SBP and oracle; once per seed, an SBP run per synthetic share and α) and the
 * synthesizer tuning (once per α). Control arms a config adds are further LM runs of the same cost.
 */
export function experimentTrainingRuns(cfg: RunConfig): { model: ModelConfig; runs: TrainingRunSpec[] } {
  const model = resolveModelConfig(cfg.model, { vocabSize: cfg.tokenizer.vocabSize, source: 'model' });
  const e = cfg.experiment;
  const seeds = e.seeds?.length ?? 1;
  const alphas = e.alphas?.length ?? e.alphaQuantiles?.length ?? 1;
  const shares = e.syntheticShares?.length ?? 1;
  const t = cfg.train;
  const u = cfg.tune;
  return {
    model,
    runs: [
      { name: 'baseline + oracle', count: 2 * seeds, tokens: e.budgetTokens, seqLen: t.seqLen, rowsPerForward: t.torch?.microBatch ?? t.batchSize },
      // The weight-decay search trains one baseline per grid value; the chosen one becomes the baseline.
      { name: 'baseline search', count: Math.max(0, e.baselineSearch.weightDecay.length - 1), tokens: e.budgetTokens, seqLen: t.seqLen, rowsPerForward: t.torch?.microBatch ?? t.batchSize },
      { name: 'sbp', count: seeds * shares * alphas, tokens: e.budgetTokens, seqLen: t.seqLen, rowsPerForward: t.torch?.microBatch ?? t.batchSize },
      { name: 'controls', count: seeds * shares * e.controls.length, tokens: e.budgetTokens, seqLen: t.seqLen, rowsPerForward: t.torch?.microBatch ?? t.batchSize },
      { name: 'synthesizer tuning', count: alphas + (e.controls.includes('randompairs') ? 1 : 0), tokens: u.steps * u.batchSize * u.seqLen * u.gradAccumSteps, seqLen: u.seqLen, rowsPerForward: u.torch?.microBatch ?? u.batchSize },
    ],
  };
}

/** The package's `configs/` folder, found from the package root whether sbp runs from src/ or dist/src/. */
export function presetConfigPath(preset: string): string {
  const candidate = join(packageRoot(), 'configs', `${preset}.yaml`);
  if (!existsSync(candidate)) throw new UserError(`preset "${preset}": ${candidate} is missing; reinstall sbp`);
  return candidate;
}

/** Test hook: act as if Ctrl-C was pressed after this many training steps of this process. */
const STOP_ENV = 'SBP_TRAIN_STOP_AFTER_STEPS';

/** Runs the experiment with Ctrl-C handling and prints the plan, the results table and the report path. */
export async function runExperimentCommand(flags: ExperimentFlags, defaults: { run?: string } = {}): Promise<ExperimentResult | null> {
  if (flags.preset && flags.config) throw new UserError('--preset and --config both give a config file; use one (put preset fields into your own config file)');
  const file = flags.config ?? (flags.preset ? presetConfigPath(flags.preset) : undefined);
  // A dry run of a new experiment names a run that does not exist yet: it reads nothing and writes nothing.
  const { cfg } = loadCommandConfig({ ...flags, config: file, run: flags.dryRun ? undefined : (flags.run ?? defaults.run) }, {}, flags.dryRun ? { mode: 'read' } : { mode: 'write', owns: 'all', creates: true });
  const log = (line: string) => process.stderr.write(`${line}\n`);
  if (flags.dryRun) {
    const { model, runs } = experimentTrainingRuns(cfg);
    const gpus = flags.gpus !== undefined ? Number(flags.gpus) : (cfg.train.torch?.nprocPerNode ?? 1);
    if (!Number.isInteger(gpus) || gpus < 1) throw new UserError(`--gpus ${flags.gpus}: a whole number >= 1`);
    const plan = planOnGpu(model, runs, { gpu: flags.gpu ?? 'h100', gpus, mfu: flags.mfu !== undefined ? Number(flags.mfu) : undefined, fsdp: cfg.train.torch?.fsdp ?? false, seqLen: cfg.train.seqLen });
    process.stdout.write(`${formatGpuPlan(plan)}\n`);
    return null;
  }
  const interrupt = {
    onInterrupt: 'stopping at the next training step (with a checkpoint) or synthetic shard (Ctrl-C again to quit at once; finished stages and shards are kept either way)',
    stopAfterEnv: STOP_ENV,
    interrupted: [TrainingInterrupted, SynthesisInterrupted],
    stoppedNote: '; finished stages are kept',
    log,
  };
  return runInterruptible(interrupt, async (shouldStop) => {
    const result = await runExperiment({ cfg, quiet: flags.quiet, log, planOnly: flags.plan, shouldStop });
    const out: string[] = [];
    if (flags.plan) out.push(formatPlan(result.plan));
    else {
      const ran = result.stages.filter((s) => !s.skipped).length;
      out.push(`experiment ${result.runDir}: ${ran} of ${result.stages.length} stages ran, ${result.stages.length - ran} were already done (${formatDuration(result.seconds)})`);
      if (result.results) out.push('', formatResultsTable(result.results, result.comparison, result.sweep).trimEnd());
      if (result.reportPath) out.push('', `report: ${result.reportPath}`);
    }
    process.stdout.write(`${out.join('\n')}\n`);
    return result;
  });
}

export function register(program: Command): void {
  const cmd = new Command('experiment').description(
    'Run the compute-matched SBP experiment from one config: prepare, tokenizer, tokenize, plan, baseline, embed, pair, tune, synthesize, the SBP and oracle runs, eval and report. Finished stages are skipped; a changed option reruns only what depends on it; an interrupted run resumes.',
  );
  addCommonOptions(cmd)
    .addOption(new Option('--preset <name>', 'start from a shipped config (configs/<name>.yaml)').choices([...EXPERIMENT_PRESETS]))
    .option('--plan', 'stop after printing the plan (prepares and tokenizes the corpus to count its tokens)')
    .option('--dry-run', 'print the training FLOPs, memory and time on a GPU from the config alone, and stop (reads no data)')
    .option('--gpu <name>', `the GPU of --dry-run: ${Object.keys(GPUS).join(', ')}`, 'h100')
    .option('--gpus <n>', 'GPUs of --dry-run (default train.torch.nprocPerNode)')
    .option('--mfu <fraction>', `model FLOPs utilisation --dry-run assumes (default ${ASSUMED_MFU})`)
    .action(async (flags: ExperimentFlags) => {
      await runExperimentCommand(flags);
    });
  program.addCommand(cmd);
}
