import { readFileSync, existsSync, statSync } from 'node:fs';
import { join, extname } from 'node:path';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { UserError } from '../common/errors.js';
import { writeJsonAtomic } from '../common/fs-atomic.js';
import { RunConfigSchema, type RunConfig } from './schema.js';

/** Reads a JSON or YAML config file; syntax errors name the file and line. */
export function readConfigFile(path: string): Record<string, unknown> {
  if (!existsSync(path)) throw new UserError(`config file not found: ${path}`);
  if (statSync(path).isDirectory()) throw new UserError(`${path}: is a folder; give a config file (JSON or YAML), e.g. configs/tiny.yaml`);
  const text = readFileSync(path, 'utf8');
  const ext = extname(path).toLowerCase();
  let value: unknown;
  if (ext === '.json') {
    try {
      value = JSON.parse(text);
    } catch (err) {
      const m = /position (\d+)/.exec((err as Error).message);
      const line = m ? text.slice(0, Number(m[1])).split('\n').length : undefined;
      throw new UserError(`${path}${line ? `:${line}` : ''}: invalid JSON: ${(err as Error).message}`);
    }
  } else if (ext === '.yaml' || ext === '.yml') {
    const doc = parseDocument(text);
    if (doc.errors.length > 0) {
      const e = doc.errors[0]!;
      const line = e.linePos?.[0]?.line;
      throw new UserError(`${path}${line ? `:${line}` : ''}: invalid YAML: ${e.message.split('\n')[0]}`);
    }
    value = doc.toJS();
  } else {
    throw new UserError(`${path}: config files must end in .json, .yaml or .yml`);
  }
  if (value === null || value === undefined) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw new UserError(`${path}: the config must be an object (key: value pairs)`);
  assertNoForbiddenKeys(value, path, []);
  return value as Record<string, unknown>;
}

/** A config file's keys, at any depth, must not be `__proto__`, `constructor` or `prototype`. */
function assertNoForbiddenKeys(value: unknown, origin: string, at: string[]): void {
  if (value === null || typeof value !== 'object') return;
  for (const [k, v] of Object.entries(value)) {
    if (FORBIDDEN_SEGMENTS.has(k)) throw new UserError(`${origin}: ${[...at, k].join('.')}: "${k}" is not a config field (it would change every object of the process); see docs/config.md for the fields`);
    assertNoForbiddenKeys(v, origin, [...at, k]);
  }
}

/**
 * Key-path segments that would reach an object's prototype instead of a config field: setting
 * `__proto__.x` on a plain object changes `Object.prototype` for the whole process.
 */
const FORBIDDEN_SEGMENTS = new Set(['__proto__', 'constructor', 'prototype']);

/** Splits `a.b.c` into segments; an empty or prototype-reaching segment is a UserError naming `origin`. */
export function parseKeyPath(keyPath: string, origin: string): string[] {
  const path = keyPath.split('.');
  for (const seg of path) {
    if (seg === '') throw new UserError(`${origin}: "${keyPath}" has an empty key; write fields as section.field, e.g. tokenizer.vocabSize`);
    if (FORBIDDEN_SEGMENTS.has(seg)) throw new UserError(`${origin}: "${seg}" is not a config field (it would change every object of the process); see docs/config.md for the fields`);
  }
  return path;
}

/** Parses a `--set a.b.c=value` override; the value is JSON when it parses as JSON, else a string. */
export function parseOverride(spec: string): [string[], unknown] {
  const eq = spec.indexOf('=');
  if (eq <= 0) throw new UserError(`--set ${spec}: expected key.path=value, e.g. --set tokenizer.vocabSize=8192`);
  const path = parseKeyPath(spec.slice(0, eq), `--set ${spec}`);
  const raw = spec.slice(eq + 1);
  let value: unknown = raw;
  try {
    value = JSON.parse(raw);
  } catch {
    value = raw;
  }
  return [path, value];
}

export function setPath(obj: Record<string, unknown>, path: string[], value: unknown): void {
  for (const key of path) if (FORBIDDEN_SEGMENTS.has(key)) throw new UserError(`"${path.join('.')}": "${key}" is not a config field`);
  let cur: Record<string, unknown> = obj;
  for (const key of path.slice(0, -1)) {
    const next = cur[key];
    if (next === undefined || next === null || typeof next !== 'object' || Array.isArray(next)) cur[key] = {};
    cur = cur[key] as Record<string, unknown>;
  }
  cur[path[path.length - 1]!] = value;
}

function describeValue(raw: unknown, path: (string | number)[]): string {
  let cur: unknown = raw;
  for (const k of path) {
    if (cur === null || typeof cur !== 'object') return 'missing';
    cur = (cur as Record<string | number, unknown>)[k];
  }
  if (cur === undefined) return 'missing';
  const s = JSON.stringify(cur);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

/** Turns zod issues into one message per field: the field, the value given, and what is allowed. */
export function formatConfigIssues(err: z.ZodError, raw: unknown, origin: string): string {
  const lines = err.issues.map((issue) => {
    const field = issue.path.join('.') || '(root)';
    const got = describeValue(raw, issue.path);
    let allowed = issue.message;
    if (issue.code === 'invalid_enum_value') allowed = `one of ${issue.options.map((o) => JSON.stringify(o)).join(', ')}`;
    else if (issue.code === 'invalid_union_discriminator') allowed = `"kind" must be one of ${issue.options.map((o) => JSON.stringify(o)).join(', ')}`;
    else if (issue.code === 'unrecognized_keys') return `  ${field}: unknown field(s) ${issue.keys.map((k) => JSON.stringify(k)).join(', ')} — check the spelling (see docs/config.md)`;
    return `  ${field}: got ${got}; ${allowed}`;
  });
  return `invalid configuration (${origin}):\n${lines.join('\n')}`;
}

export interface ConfigSources {
  file?: string; // path of a JSON/YAML config file
  overrides?: Record<string, unknown>[]; // objects merged over the file, in order (CLI flags)
  sets?: string[]; // --set key.path=value
  base?: Record<string, unknown>; // a run's recorded config, under the file (see run-record.ts)
  baseOrigin?: string; // where `base` came from, for error messages
}

/** Throws when the layers merged so far are invalid, naming `origin` (the layer just added). */
function checkLayer(raw: Record<string, unknown>, origin: string): void {
  const parsed = RunConfigSchema.safeParse(raw);
  if (!parsed.success) throw new UserError(formatConfigIssues(parsed.error, raw, origin));
}

function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    if (v === undefined) continue;
    if (FORBIDDEN_SEGMENTS.has(k)) throw new UserError(`"${k}" is not a config field (it would change every object of the process); see docs/config.md for the fields`);
    const b = out[k];
    if (v && typeof v === 'object' && !Array.isArray(v) && b && typeof b === 'object' && !Array.isArray(b)) {
      out[k] = deepMerge(b as Record<string, unknown>, v as Record<string, unknown>);
    } else out[k] = v;
  }
  return out;
}

/** File + flag objects + --set, validated against the schema; a wrong value is a UserError naming the field. */
export function resolveConfig(src: ConfigSources = {}): RunConfig {
  let raw: Record<string, unknown> = src.base ? structuredClone(src.base) : {};
  if (src.file) raw = deepMerge(raw, readConfigFile(src.file));
  // Each layer is checked on its own so that an error names where the wrong value came from.
  if (src.file) checkLayer(raw, src.file);
  for (const o of src.overrides ?? []) raw = deepMerge(raw, o);
  if ((src.overrides ?? []).length > 0) checkLayer(raw, 'flags');
  for (const s of src.sets ?? []) {
    const [path, value] = parseOverride(s);
    setPath(raw, path, value);
    checkLayer(raw, `--set ${s}`);
  }
  const parsed = RunConfigSchema.safeParse(raw);
  if (!parsed.success) throw new UserError(formatConfigIssues(parsed.error, raw, src.base ? (src.baseOrigin ?? 'run record') : src.file ?? 'defaults'));
  return inheritTrainEngine(parsed.data);
}

/** Synthesizer tuning trains on the engine of the `train` section unless `tune` names its own. */
export function inheritTrainEngine(cfg: RunConfig): RunConfig {
  const t = cfg.tune;
  return {
    ...cfg,
    tune: { ...t, engine: t.engine ?? cfg.train.engine, command: t.command ?? cfg.train.command, torch: t.torch ?? (cfg.train.torch ? structuredClone(cfg.train.torch) : undefined) },
  };
}

export function runDirOf(cfg: RunConfig): string {
  return join(cfg.runsDir, cfg.name);
}

/** Saves the resolved config as runs/<name>/config.json (only through run-record.ts: the stage that owns a section writes it). */
export function saveResolvedConfig(cfg: RunConfig): string {
  const path = join(runDirOf(cfg), 'config.json');
  writeJsonAtomic(path, cfg);
  return path;
}
