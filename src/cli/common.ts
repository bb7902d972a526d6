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

/** Bounds of a numeric flag; an `open` end is excluded. */
export interface NumberRange {
  min?: number;
  max?: number;
  minOpen?: boolean;
  maxOpen?: boolean;
  integer?: boolean;
}

/** "a number in (0, 1]", "a number >= 0", "a whole number in [0, 65535]" … */
function describeRange(r: NumberRange): string {
  const what = r.integer ? 'a whole number' : 'a number';
  const lo = r.min === undefined ? undefined : `${r.minOpen ? '(' : '['}${r.min}`;
  const hi = r.max === undefined ? undefined : `${r.max}${r.maxOpen ? ')' : ']'}`;
  if (lo && hi) return `${what} in ${lo}, ${hi}`;
  if (lo) return `${what} ${r.minOpen ? '>' : '>='} ${r.min}`;
  if (hi) return `${what} ${r.maxOpen ? '<' : '<='} ${r.max}`;
  return what;
}

/** A commander argument parser for a number within `range`; a bad value is a usage error naming the flag. */
export function parseNumberFlag(flag: string, range: NumberRange = {}) {
  return (v: string): number => {
    const n = Number(v);
    const ok =
      v.trim() !== '' &&
      Number.isFinite(n) &&
      (!range.integer || Number.isInteger(n)) &&
      (range.min === undefined || (range.minOpen ? n > range.min : n >= range.min)) &&
      (range.max === undefined || (range.maxOpen ? n < range.max : n <= range.max));
    if (!ok) throw new InvalidArgumentError(`${flag} must be ${describeRange(range)}, got "${v}"`);
    return n;
  };
}

/** What a long command needs to stop cleanly on Ctrl-C (or on a test hook) and say so. */
export interface InterruptibleOptions {
  /** Printed on the first Ctrl-C: what happens now, and that a second one quits at once. */
  onInterrupt: string;
  /** Test hook: an environment variable; when set to n, act as if Ctrl-C came after n `shouldStop` calls. */
  stopAfterEnv: string;
  /** The error the stage throws when it stopped on request; it is reported and exits with 130. */
  interrupted: abstract new (...args: never[]) => Error;
  log: (line: string) => void;
}

/**
 * Runs a resumable stage that polls `shouldStop` between units of work (steps, shards): the first
 * Ctrl-C asks it to stop after the current unit and save what it has, a second one quits at once.
 * A stop on request ends the command with exit code 130 and the stage's message.
 */
export async function runInterruptible(opts: InterruptibleOptions, run: (shouldStop: () => boolean) => Promise<void>): Promise<void> {
  let stopRequested = false;
  const onSigint = () => {
    if (stopRequested) process.exit(130);
    stopRequested = true;
    opts.log(`interrupt: ${opts.onInterrupt}`);
  };
  process.on('SIGINT', onSigint);
  const raw = process.env[opts.stopAfterEnv];
  const stopAfter = raw ? Number(raw) : undefined;
  let calls = 0;
  try {
    await run(() => stopRequested || (stopAfter !== undefined && ++calls >= stopAfter));
  } catch (err) {
    if (err instanceof opts.interrupted) {
      opts.log(`sbp: ${err.message}`);
      process.exitCode = 130;
      return;
    }
    throw err;
  } finally {
    process.off('SIGINT', onSigint);
  }
}

/** Resolves the config from file + command-specific overrides + --set, saves it into the run directory. */
export function loadCommandConfig(flags: CommonFlags, overrides: Record<string, unknown> = {}, opts: { save?: boolean } = {}): { cfg: RunConfig; runDir: string } {
  const top: Record<string, unknown> = {};
  if (flags.run !== undefined) top.name = flags.run;
  if (flags.runsDir !== undefined) top.runsDir = flags.runsDir;
  if (flags.threads !== undefined) top.threads = flags.threads;
  const cfg = resolveConfig({ file: flags.config, overrides: [top, overrides], sets: flags.set });
  if (opts.save !== false) saveResolvedConfig(cfg); // a dry run writes nothing
  return { cfg, runDir: runDirOf(cfg) };
}
