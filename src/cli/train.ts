import { Command, Option } from 'commander';
import { formatCount } from '../common/progress.js';
import { openBackend } from '../train/open-backend.js';
import { TrainingInterrupted, runTrainStage, type TrainStageStats } from '../train/train-stage.js';
import { addCommonOptions, loadCommandConfig, parsePositiveInt, type CommonFlags } from './common.js';

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
    .addOption(new Option('--lr <x>', 'peak learning rate (train.lr)').argParser(parsePositiveNumber('--lr')))
    .option('--init-from <model>', 'start from this model folder or run model (fine-tuning; train.initFrom)')
    .addOption(new Option('--backend <kind>', 'compute backend (train.backend)').choices(['auto', 'cpu', 'ref']))
    .option('--preset <name>', 'model preset (model.preset)')
    .action(async (flags: TrainFlags) => {
      const train: Record<string, unknown> = {
        steps: flags.steps, totalTokens: flags.totalTokens, batchSize: flags.batchSize, seqLen: flags.seqLen, lr: flags.lr, initFrom: flags.initFrom, backend: flags.backend,
      };
      const { cfg, runDir } = loadCommandConfig(flags, { train, model: { preset: flags.preset } });
      const log = (line: string) => process.stderr.write(`${line}\n`);
      let stopRequested = false;
      const onSigint = () => {
        if (stopRequested) process.exit(130); // a second Ctrl-C: leave without a checkpoint
        stopRequested = true;
        log('interrupt: finishing the current step and writing a checkpoint (Ctrl-C again to quit without one)');
      };
      process.on('SIGINT', onSigint);
      const stopAfter = process.env[STOP_ENV] ? Number(process.env[STOP_ENV]) : undefined;
      let stepsHere = 0;
      try {
        const result = await runTrainStage({
          cfg,
          runDir,
          modelName: flags.model,
          createBackend: (kind, threads) => openBackend(kind, threads, log),
          force: flags.force,
          quiet: flags.quiet,
          log,
          shouldStop: () => stopRequested || (stopAfter !== undefined && ++stepsHere >= stopAfter),
        });
        process.stdout.write(formatTrainSummary(`${runDir}/models/${flags.model}`, result.manifest.stats, result.skipped));
      } catch (err) {
        if (err instanceof TrainingInterrupted) {
          log(`sbp: ${err.message}`);
          process.exitCode = 130;
          return;
        }
        throw err;
      } finally {
        process.off('SIGINT', onSigint);
      }
    });
  program.addCommand(cmd);
}

function parsePositiveNumber(flag: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`${flag} must be a positive number, got "${v}"`);
    return n;
  };
}

export function formatTrainSummary(dir: string, s: TrainStageStats, skipped: boolean): string {
  const lines = [`model: ${dir}${skipped ? ' (already trained with this config and data; use --force to retrain)' : ''}`];
  lines.push(`  ${formatCount(s.numParams)} parameters on ${s.backend}; ${s.steps} steps, ${formatCount(s.tokens)} tokens, ${formatCount(s.trainTokensPerSec)} tokens/s`);
  if (s.finalLoss !== null) lines.push(`  final training loss ${s.finalLoss.toFixed(4)}${s.skippedSteps > 0 ? ` (${s.skippedSteps} non-finite steps skipped)` : ''}`);
  if (s.heldout) lines.push(`  held-out loss ${s.heldout.heldoutLoss.toFixed(4)}, perplexity ${s.heldout.heldoutPpl.toFixed(2)} over ${formatCount(s.heldout.heldoutTokens)} tokens`);
  return `${lines.join('\n')}\n`;
}
