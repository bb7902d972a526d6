import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { UserError } from '../common/errors.js';
import { writeJsonAtomic } from '../common/fs-atomic.js';
import { resolveConfig, runDirOf, type ConfigSources } from './load.js';
import type { RunConfig } from './schema.js';

/**
 * The run record: `runs/<name>/config.json`, the resolved config of a run. It is the base every
 * later command resolves on (defaults ← record ← --config ← flags ← --set), so a command without a
 * config file sees the run's settings, not the defaults. Each section is written only by the stage
 * that owns it; a command that only reads the run writes nothing, and a command that disagrees with
 * a section it does not own says so and leaves the record as it is.
 */
export const RUN_RECORD_FILE = 'config.json';

export type ConfigSection = Exclude<keyof RunConfig, 'name' | 'runsDir' | 'threads'>;

/** Sections that only steer one command invocation (never what a stage wrote); not compared. */
const EPHEMERAL: ReadonlySet<string> = new Set(['name', 'runsDir', 'threads', 'sample', 'serve']);

/** Which stage records each section (for the message that names who to rerun). */
const OWNER: Record<ConfigSection, string> = {
  seed: 'sbp prepare',
  prepare: 'sbp prepare',
  tokenizer: 'sbp tokenizer train',
  tokenize: 'sbp tokenize',
  model: 'sbp train',
  train: 'sbp train',
  sample: 'sbp sample',
  embed: 'sbp embed',
  pair: 'sbp pair',
  tune: 'sbp tune',
  synthesize: 'sbp synthesize',
  eval: 'sbp eval',
  serve: 'sbp serve',
  experiment: 'sbp experiment',
};

export type RunAccess =
  /** Reads the run (sample, serve, report): writes nothing, creates nothing. */
  | { mode: 'read' }
  /** A stage: records the sections it owns; `creates` = may start a new run folder (prepare, experiment). */
  | { mode: 'write'; owns: readonly ConfigSection[] | 'all'; creates?: boolean };

export interface RunConfigResult {
  cfg: RunConfig;
  runDir: string;
  /** Lines the command should show: where it disagrees with the record (the record is kept). */
  notes: string[];
  /**
   * Writes the record (the sections this command owns); a no-op for readers. Called once the command
   * has done its work (or stopped resumably), so the flags of a command that failed are not recorded.
   */
  commit: () => void;
}

/** Reads `<runDir>/config.json`, or null when the run has none; a damaged record is a UserError. */
export function readRunRecord(runDir: string): Record<string, unknown> | null {
  const path = join(runDir, RUN_RECORD_FILE);
  if (!existsSync(path)) return null;
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new UserError(`${path}: the run record is not valid JSON (${(err as Error).message}); restore it, or delete it to let the next stage write a new one`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new UserError(`${path}: the run record must be a JSON object`);
  return value as Record<string, unknown>;
}

/** The run folders under `runsDir`, for "did you mean" lines. */
function existingRuns(runsDir: string): string[] {
  try {
    return readdirSync(runsDir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort();
  } catch {
    return []; // no runs folder yet: nothing to list
  }
}

/**
 * Makes sure `dir` exists as a folder, creating missing levels one at a time. Node's recursive
 * mkdir loops forever under some virtual file systems (/proc), and fails with a raw ENOTDIR when a
 * level is a file; here each problem is a UserError naming `flag` before any work starts.
 */
export function ensureFolder(dir: string, flag: string): void {
  const missing: string[] = [];
  let cur = resolve(dir);
  for (;;) {
    if (existsSync(cur)) {
      if (!statSync(cur).isDirectory()) throw new UserError(`${flag} ${dir}: ${cur} is a file, not a folder; choose another folder`);
      break;
    }
    missing.unshift(cur);
    const up = dirname(cur);
    if (up === cur) break;
    cur = up;
  }
  for (const level of missing) {
    try {
      mkdirSync(level);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'error';
      if (code === 'EEXIST' && statSync(level).isDirectory()) continue;
      throw new UserError(`${flag} ${dir}: cannot create ${level} (${code}); choose a folder you can write, e.g. --runs-dir runs`);
    }
  }
}

/** Leaf paths where `a` and `b` differ, as "a.b.c" (arrays compare whole). */
function diffPaths(a: unknown, b: unknown, prefix: string, out: string[]): void {
  const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
  if (isObj(a) && isObj(b)) {
    for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) diffPaths(a[k], b[k], prefix ? `${prefix}.${k}` : k, out);
    return;
  }
  if (JSON.stringify(a) !== JSON.stringify(b)) out.push(prefix);
}

function valueAt(obj: unknown, path: string): string {
  let cur: unknown = obj;
  for (const k of path.split('.')) cur = cur !== null && typeof cur === 'object' ? (cur as Record<string, unknown>)[k] : undefined;
  const s = cur === undefined ? 'unset' : JSON.stringify(cur);
  return s.length > 40 ? `${s.slice(0, 37)}...` : s;
}

/**
 * Resolves a command's config on the run's record and writes the sections the command owns.
 * `explicitRun` = the user named the run (--run), so a missing run folder is a typo to report.
 */
export function openRunConfig(src: ConfigSources, access: RunAccess, explicitRun: boolean): RunConfigResult {
  // Which run: the file and flags decide the name and runs folder, then its record is the base.
  const first = resolveConfig(src);
  const runDir = runDirOf(first);
  const creates = access.mode === 'write' && access.creates === true;
  if (existsSync(first.runsDir) && !statSync(first.runsDir).isDirectory()) throw new UserError(`--runs-dir ${first.runsDir}: is a file, not a folder; choose another folder`);
  if (!existsSync(runDir)) {
    if (!creates && (explicitRun || access.mode === 'write')) {
      const others = existingRuns(first.runsDir);
      throw new UserError(
        `--run ${first.name}: no run folder ${runDir}${others.length > 0 ? ` (runs there: ${others.slice(0, 8).join(', ')})` : ''}; check the name, or start the run with \`sbp prepare\` or \`sbp experiment\``,
      );
    }
  }
  const record = existsSync(runDir) ? readRunRecord(runDir) : null;
  const recordPath = join(runDir, RUN_RECORD_FILE);
  // The record's own name and folder are where it was written; the flags say where it is now.
  const base: Record<string, unknown> | undefined = record ? { ...record, name: first.name, runsDir: first.runsDir } : undefined;
  if (base && first.threads === undefined) delete base.threads;
  const cfg = record ? resolveConfig({ ...src, base, baseOrigin: recordPath }) : first;
  const notes: string[] = [];
  if (access.mode === 'read') return { cfg, runDir, notes, commit: () => {} };

  const owned = access.owns === 'all' ? null : new Set<string>(access.owns);
  const next: Record<string, unknown> = record ? { ...record } : {};
  const all = cfg as unknown as Record<string, unknown>;
  for (const key of Object.keys(all)) {
    if (!record || owned === null || owned.has(key) || !(key in record)) {
      next[key] = all[key];
      continue;
    }
    if (EPHEMERAL.has(key)) continue;
    const diffs: string[] = [];
    diffPaths(record[key], all[key], key, diffs);
    for (const d of diffs.slice(0, 5)) {
      notes.push(
        `${d} = ${valueAt(all, d)} here, but ${recordPath} records ${valueAt(record, d)} (written by \`${OWNER[key as ConfigSection] ?? 'its stage'}\`); the record is kept — rerun that stage to change it`,
      );
    }
    if (diffs.length > 5) notes.push(`… and ${diffs.length - 5} more fields of "${key}" differ from ${recordPath}`);
  }
  next.name = cfg.name;
  next.runsDir = cfg.runsDir;
  if (cfg.threads === undefined) delete next.threads;
  else next.threads = cfg.threads;
  // The folders are made now, before any work (a runs folder that cannot be made is refused at once);
  // the record is written by commit().
  ensureFolder(cfg.runsDir, '--runs-dir');
  ensureFolder(runDir, '--run');
  return { cfg, runDir, notes, commit: () => writeJsonAtomic(recordPath, next) };
}
