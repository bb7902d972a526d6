import { Command, Option } from 'commander';
import { formatCount } from '../common/progress.js';
import { runTuneStage, type TuneStageStats } from '../synth/tune-stage.js';
import { openBackend } from '../engine/open-backend.js';
import { TrainingInterrupted } from '../train/train-stage.js';
import { addCommonOptions, loadCommandConfig, parseNumberFlag, parsePositiveInt, runInterruptible, type CommonFlags } from './common.js';

interface TuneFlags extends CommonFlags {
  model: string;
  initFrom?: string;
  steps?: number;
  batchSize?: number;
  seqLen?: number;
  lr?: number;
  d1Fraction?: number;
  backend?: 'auto' | 'cpu' | 'ref';
}

/** Test hook: act as if Ctrl-C was pressed after this many steps of this process. */
const STOP_ENV = 'SBP_TUNE_STOP_AFTER_STEPS';

export function register(program: Command): void {
  const cmd = new Command('tune').description(
    'Train the synthesizer p(d2 | d1) on the mined pairs, starting from the baseline LM: rows [bos] d1 [sep] d2 [eos], loss on d2 only. ' +
      'Reports held-out conditional loss next to the baseline\'s unconditional loss on the same d2 (runs/<name>/models/<model>/tune-eval.json). Ctrl-C checkpoints; rerun to resume.',
  );
  addCommonOptions(cmd)
    .option('-m, --model <name>', 'output model name (models/<name>)', 'synthesizer')
    .option('--init-from <model>', 'start from this run model or model folder (tune.initFrom, default baseline)')
    .addOption(new Option('--steps <n>', 'optimizer steps (tune.steps)').argParser(parsePositiveInt('--steps')))
    .addOption(new Option('--batch-size <n>', 'pairs per micro-batch (tune.batchSize)').argParser(parsePositiveInt('--batch-size')))
    .addOption(new Option('--seq-len <n>', 'tokens per row (tune.seqLen)').argParser(parsePositiveInt('--seq-len')))
    .addOption(new Option('--lr <x>', 'peak learning rate (tune.lr)').argParser(parseNumberFlag('--lr', { min: 0, minOpen: true })))
    .addOption(new Option('--d1-fraction <x>', 'share of the row d1 may take, in (0, 1) (tune.d1Fraction)').argParser(parseNumberFlag('--d1-fraction', { min: 0, max: 1, minOpen: true, maxOpen: true })))
    .addOption(new Option('--backend <kind>', 'compute backend (tune.backend)').choices(['auto', 'cpu', 'ref']))
    .action(async (flags: TuneFlags) => {
      const tune = { initFrom: flags.initFrom, steps: flags.steps, batchSize: flags.batchSize, seqLen: flags.seqLen, lr: flags.lr, d1Fraction: flags.d1Fraction, backend: flags.backend };
      const { cfg, runDir } = loadCommandConfig(flags, { tune }, { mode: 'write', owns: ['tune'] });
      const log = (line: string) => process.stderr.write(`${line}\n`);
      const interrupt = { onInterrupt: 'finishing the current step and writing a checkpoint (Ctrl-C again to quit without one)', stopAfterEnv: STOP_ENV, interrupted: TrainingInterrupted, log };
      await runInterruptible(interrupt, async (shouldStop) => {
        const r = await runTuneStage({
          runDir,
          config: cfg.tune,
          seed: cfg.seed,
          modelName: flags.model,
          createBackend: (kind, threads) => openBackend(kind, threads, log),
          threads: cfg.threads,
          force: flags.force,
          quiet: flags.quiet,
          log,
          shouldStop,
        });
        process.stdout.write(formatTuneSummary(`${runDir}/models/${flags.model}`, r.manifest.stats, r.skipped));
      });
    });
  program.addCommand(cmd);
}


export function formatTuneSummary(dir: string, s: TuneStageStats, skipped: boolean): string {
  const p = s.pairs;
  const lines = [`synthesizer: ${dir}${skipped ? ' (already tuned with this config and data; use --force to retune)' : ''}`];
  lines.push(`  from ${s.initFrom}; ${formatCount(s.numParams)} parameters on ${s.backend}; rows of ${s.framing.seqLen} tokens, d1 up to ${s.framing.d1Budget}`);
  lines.push(`  pairs: ${p.train} for tuning, ${p.heldout} held out (d1 in ${p.heldoutDocs} held-out documents), ${p.straddling} straddling unused, of ${p.mined} mined`);
  lines.push(`  ${s.steps} steps, ${formatCount(s.tokens)} tokens, ${s.epochs.toFixed(2)} epochs, ${formatCount(s.trainTokensPerSec)} tokens/s; final training loss ${s.finalLoss?.toFixed(4) ?? 'n/a'}`);
  const e = s.eval;
  if (e) {
    lines.push(`  held-out d2 loss over ${e.pairs} pairs, ${formatCount(e.synthesizerConditional.tokens)} tokens (nats/token):`);
    lines.push(`    baseline, no d1       ${e.baselineUnconditional.loss.toFixed(4)}  (ppl ${e.baselineUnconditional.ppl.toFixed(2)})`);
    lines.push(`    baseline, given d1    ${e.baselineConditional.loss.toFixed(4)}  (ppl ${e.baselineConditional.ppl.toFixed(2)})`);
    lines.push(`    synthesizer, no d1    ${e.synthesizerUnconditional.loss.toFixed(4)}  (ppl ${e.synthesizerUnconditional.ppl.toFixed(2)})`);
    lines.push(`    synthesizer, given d1 ${e.synthesizerConditional.loss.toFixed(4)}  (ppl ${e.synthesizerConditional.ppl.toFixed(2)})`);
    lines.push(`    gain over the baseline ${e.gainNatsPerToken.toFixed(4)}, of which from d1 ${e.conditioningGainNatsPerToken.toFixed(4)}`);
  } else lines.push('  no held-out pairs: conditional loss not measured (raise tune.heldoutFraction)');
  return `${lines.join('\n')}\n`;
}
