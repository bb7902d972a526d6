import { Command, Option } from 'commander';
import { runDirOf } from '../config/load.js';
import { runEvalStage } from '../eval/eval-stage.js';
import { formatResultsTable } from '../eval/results-table.js';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { experimentEvalPlan } from '../experiment/sweep.js';
import { openRunConfig } from '../config/run-record.js';
import { addCommonOptions, loadCommandConfig, parseNumberFlag, parsePositiveInt, type CommonFlags } from './common.js';

interface EvalFlags extends CommonFlags {
  models?: string;
  task: string[];
  window?: number;
  maxDocs?: number;
  cloze?: number;
  backend?: 'auto' | 'cpu' | 'ref';
}

export function register(program: Command): void {
  const cmd = new Command('eval').description(
    'Evaluate models: held-out perplexity and bits per byte, other corpora, multiple-choice and cloze task files, a held-out cloze task, and the fraction of the oracle\'s gain SBP recovers (bootstrap intervals). Writes runs/<name>/eval/results.json, items.json, comparison.json.',
  );
  addCommonOptions(cmd)
    .option('-m, --models <list>', 'comma-separated models: run model names (baseline,sbp,oracle) or label=folder (eval.models)')
    .option('-t, --task <file>', 'a JSONL task file (repeatable; adds to eval.tasks)', (v: string, prev: string[]) => [...prev, v], [])
    .addOption(new Option('--window <n>', 'input tokens per scoring row (eval.window)').argParser(parsePositiveInt('--window')))
    .addOption(new Option('--max-docs <n>', 'documents per perplexity set (eval.maxDocs)').argParser(parsePositiveInt('--max-docs')))
    .addOption(new Option('--cloze <n>', 'held-out cloze passages, 0 = none (eval.cloze.passages)').argParser(parseNumberFlag('--cloze', { min: 0, integer: true })))
    .addOption(new Option('--backend <kind>', 'compute backend (eval.backend)').choices(['auto', 'cpu', 'ref']))
    .action(async (flags: EvalFlags) => {
      const ev: Record<string, unknown> = { window: flags.window, maxDocs: flags.maxDocs, backend: flags.backend };
      if (flags.models !== undefined) ev.models = flags.models.split(',').map((s) => s.trim()).filter((s) => s !== '');
      if (flags.cloze !== undefined) ev.cloze = { passages: flags.cloze };
      // --task adds to the tasks of the config file (or the run's record) rather than replacing them.
      if (flags.task.length > 0) flags.set = [...(flags.set ?? []), `eval.tasks=${JSON.stringify([...new Set([...taskBase(flags), ...flags.task])])}`];
      const { cfg } = loadCommandConfig(flags, { eval: ev }, { mode: 'write', owns: ['eval'] });
      const runDir = runDirOf(cfg);
      const log = (line: string) => process.stderr.write(`${line}\n`);
      // An experiment's run (docs/experiment.md): every run, each SBP and control run against the baseline and oracle of its seed.
      const sweep = existsSync(join(runDir, 'experiment', 'plan.json')) && cfg.eval.models.join(',') === 'baseline,sbp,oracle' ? experimentEvalPlan(cfg) : undefined;
      const r = await runEvalStage({ cfg, runDir, models: sweep?.models, comparisons: sweep?.comparisons, force: flags.force, quiet: flags.quiet, log });
      if (r.skipped) log(`eval: ${runDir}/eval is up to date with these models, data and settings (use --force to redo)`);
      process.stdout.write(formatResultsTable(r.results, r.comparison, r.sweep));
      process.stdout.write(`results: ${runDir}/eval/results.json${r.comparison ? `, ${runDir}/eval/comparison.json` : ''}\n`);
    });
  program.addCommand(cmd);
}


/** The tasks `--task` adds to: the config file's, else the run record's (read without writing). */
function taskBase(flags: EvalFlags): string[] {
  const top: Record<string, unknown> = {};
  if (flags.run !== undefined) top.name = flags.run;
  if (flags.runsDir !== undefined) top.runsDir = flags.runsDir;
  return openRunConfig({ file: flags.config, overrides: [top], sets: flags.set }, { mode: 'read' }, false).cfg.eval.tasks;
}
