import { Command, InvalidArgumentError, Option } from 'commander';
import { resolveConfig, runDirOf, saveResolvedConfig } from '../config/load.js';
import type { RunConfig } from '../config/schema.js';

/** Options every run-directory command takes. */
export interface CommonFlags {
  config?: string;
  run?: string;
  runsDir?: string;
  set?: string[];
  force?: boolean;
  quiet?: boolean;
  threads?: number;
}

export function addCommonOptions(cmd: Command): Command {
  return cmd
    .option('-c, --config <file>', 'config file (JSON or YAML); flags override it')
    .option('-r, --run <name>', 'run name: everything is written under <runs-dir>/<name>/')
    .option('--runs-dir <dir>', 'parent folder of run directories (default: runs)')
    .option('--set <key=value>', 'override any config field, e.g. --set tokenizer.vocabSize=8192 (repeatable)', collect, [])
    .option('--force', 'redo the stage even when its manifest says it is done')
    .addOption(new Option('--threads <n>', 'worker threads (default: all cores)').argParser(parsePositiveInt('--threads')))
    .option('-q, --quiet', 'no progress output');
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

export function parsePositiveInt(flag: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`${flag} must be a positive whole number, got "${v}"`);
    return n;
  };
}

/** Resolves the config from file + command-specific overrides + --set, saves it into the run directory. */
export function loadCommandConfig(flags: CommonFlags, overrides: Record<string, unknown> = {}): { cfg: RunConfig; runDir: string } {
  const top: Record<string, unknown> = {};
  if (flags.run !== undefined) top.name = flags.run;
  if (flags.runsDir !== undefined) top.runsDir = flags.runsDir;
  if (flags.threads !== undefined) top.threads = flags.threads;
  const cfg = resolveConfig({ file: flags.config, overrides: [top, overrides], sets: flags.set });
  saveResolvedConfig(cfg);
  return { cfg, runDir: runDirOf(cfg) };
}
