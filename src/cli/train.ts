import { Command, Option } from 'commander';
import { formatCount } from '../common/progress.js';
import { openBackend } from '../engine/open-backend.js';
import { TrainingInterrupted, runTrainStage, type TrainStageStats } from '../train/train-stage.js';
import { addCommonOptions, loadCommandConfig, parseNumberFlag, parsePositiveInt, runInterruptible, type CommonFlags } from './common.js';

interface TrainFlags extends CommonFlags {
  model: string;
  steps?: number;
  totalTokens?: number;
  batchSize?: number;
  seqLen?: number;
  lr?: number;
  initFrom?: string;
  backend?: 'auto' | 'cpu' | 'ref';
  preset?: string;
}

/** Test hook: act as if Ctrl-C was pressed after this many steps of this process. */
const STOP_ENV = 'SBP_TRAIN_STOP_AFTER_STEPS';

export function register(program: Command): void {
  const cmd = new Command('train').description(
    'Train a language model on the run\'s tokens (runs/<name>/models/<model>/: Hugging Face folder, metrics.jsonl, resumable checkpoint/). Ctrl-C writes a checkpoint; rerun to resume.',
  );
  addCommonOptions(cmd)
    .option('-m, --model <name>', 'name of the model to train (its folder under models/)', 'baseline')
    .addOption(new Option('--steps <n>', 'optimizer steps (train.steps)').argParser(parsePositiveInt('--steps')))
    .addOption(new Option('--total-tokens <n>', 'token budget instead of steps (train.totalTokens)').argParser(parsePositiveInt('--total-tokens')))
    .addOption(new Option('--batch-size <n>', 'sequences per micro-batch (train.batchSize)').argParser(parsePositiveInt('--batch-size')))
    .addOption(new Option('--seq-len <n>', 'tokens per sequence (train.seqLen)').argParser(parsePositiveInt('--seq-len')))
    .addOption(new Option('--lr <x>', 'peak learning rate (train.lr)').argParser(parseNumberFlag('--lr', { min: 0, minOpen: true })))
    .option('--init-from <model>', 'start from this model folder or run model (fine-tuning; train.initFrom)')
    .addOption(new Option('--backend <kind>', 'compute backend (train.backend)').choices(['auto', 'cpu', 'ref']))
    .option('--preset <name>', 'model preset (model.preset)')
    .action(async (flags: TrainFlags) => {
      const train: Record<string, unknown> = {
        steps: flags.steps, totalTokens: flags.totalTokens, batchSize: flags.batchSize, seqLen: flags.seqLen, lr: flags.lr, initFrom: flags.initFrom, backend: flags.backend,
      };
      const { cfg, runDir } = loadCommandConfig(flags, { train, model: { preset: flags.preset } }, { mode: 'write', owns: ['train', 'model'] });
      const log = (line: string) => process.stderr.write(`${line}\n`);
      const interrupt = { onInterrupt: 'finishing the current step and writing a checkpoint (Ctrl-C again to quit without one)', stopAfterEnv: STOP_ENV, interrupted: TrainingInterrupted, log };
      await runInterruptible(interrupt, async (shouldStop) => {
        const result = await runTrainStage({
          cfg,
          runDir,
          modelName: flags.model,
          createBackend: (kind, threads) => openBackend(kind, threads, log),
          force: flags.force,
          quiet: flags.quiet,
          log,
          shouldStop,
        });
        process.stdout.write(formatTrainSummary(`${runDir}/models/${flags.model}`, result.manifest.stats, result.skipped));
      });
    });
  program.addCommand(cmd);
}


export function formatTrainSummary(dir: string, s: TrainStageStats, skipped: boolean): string {
  const lines = [`model: ${dir}${skipped ? ' (already trained with this config and data; use --force to retrain)' : ''}`];
  lines.push(`  ${formatCount(s.numParams)} parameters on ${s.backend}; ${s.steps} steps, ${formatCount(s.tokens)} tokens, ${formatCount(s.trainTokensPerSec)} tokens/s`);
  if (s.finalLoss !== null) lines.push(`  final training loss ${s.finalLoss.toFixed(4)}${s.skippedSteps > 0 ? ` (${s.skippedSteps} non-finite steps skipped)` : ''}`);
  if (s.heldout) lines.push(`  held-out loss ${s.heldout.heldoutLoss.toFixed(4)}, perplexity ${s.heldout.heldoutPpl.toFixed(2)} over ${formatCount(s.heldout.heldoutTokens)} tokens`);
  return `${lines.join('\n')}\n`;
}
