import { createReadStream, existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { createInterface } from 'node:readline';
import { UserError } from '../common/errors.js';
import type { CorpusStats } from '../data/corpus-stats.js';
import type { StageManifest } from '../stage/stage.js';
import type { PairSample, PairStats } from '../pairs/pair-miner.js';
import type { TokenizerStageStats } from '../tokenizer/tokenizer-stage.js';
import type { TokenizeStats } from '../tokens/tokenize-corpus.js';
import type { VariantGroup } from '../eval/variant-summary.js';
import type { SweepAlpha } from '../stage/plan-record.js';

/**
 * Everything the report shows, read from a run directory. Each part is null when its stage has not
 * run (or not written that file yet); the report then says "not run yet" for that section. Files
 * written by stages that land later (plan, synthesis, evaluation) are read by the few fields the
 * report needs, so a field added upstream does not break the report.
 */
export interface RunSnapshot {
  runDir: string;
  name: string;
  config: Record<string, unknown> | null;
  plan: Record<string, unknown> | null;
  corpus: CorpusStats | null;
  tokenizer: TokenizerStageStats | null;
  tokens: TokenizeStats | null;
  models: ModelRun[];
  pairs: { stats: PairStats; samples: PairSample[] } | null;
  synth: SynthSnapshot | null;
  eval: EvalSnapshot | null;
  /** A sweep (several shares, α or seeds): the pairs, synthesizer and synthesis shown are those of its first α. */
  sweep: { synthesizer: string; alphaNote: string | null } | null;
}

/** One `models/<name>/` folder: its metrics log and, when finished, its manifest's stats. */
export interface ModelRun {
  name: string;
  finished: boolean;
  stats: Record<string, unknown> | null;
  steps: TrainStepRow[];
  evals: TrainEvalRow[];
}

export interface TrainStepRow {
  step: number;
  tokens: number;
  loss: number | null;
}

export interface TrainEvalRow {
  step: number;
  tokens: number;
  heldoutLoss: number;
}

export interface SynthSnapshot {
  shards: number;
  stats: Record<string, unknown> | null; // synth/stats.json, else the manifest's stats
  quality: Record<string, unknown> | null; // synth/quality.json
  examples: SynthExample[];
}

/** A synthetic document next to the real seed it was sampled from. */
export interface SynthExample {
  id: string;
  text: string;
  seedId: string | null;
  seedText: string | null; // null when the seed is not in corpus/train-*.jsonl
  meta: Record<string, unknown>;
}

/** `eval/results.json` and `eval/comparison.json`, the fields the report reads. */
export interface EvalSnapshot {
  models: string[];
  metrics: Record<string, { higherIsBetter: boolean; items: number; values: Record<string, { value: number; ci: Interval | null }> }>;
  comparison: ComparisonRow[] | null; // null without baseline, sbp and oracle models
  comparisonNote: string | null;
  confidence: number | null;
  /** A sweep's variants (eval/comparison.json `groups`): each SBP variant against its seeds' baselines and oracles. */
  groups: VariantGroup[] | null;
  /** SBP − each control run of the same seed (eval/comparison.json `controls`); null without control arms. */
  controls: Array<{ control: string; run: string; metrics: Array<{ metric: string; higherIsBetter: boolean; difference: EstimateCell }> }> | null;
}

export interface Interval {
  lo: number;
  hi: number;
}

export interface EstimateCell {
  value: number;
  ci: Interval | null;
}

export interface ComparisonRow {
  metric: string;
  higherIsBetter: boolean;
  items: number;
  baseline: EstimateCell;
  sbp: EstimateCell;
  oracle: EstimateCell;
  sbpGain: EstimateCell;
  oracleGain: EstimateCell;
  fraction: { value: number | null; ci: Interval | null; note: string | null };
}

export interface SnapshotOptions {
  /** Synthetic documents shown next to their seeds (default 4). */
  examples?: number;
  /** Pair samples kept (default 8). */
  pairSamples?: number;
}

export const SYNTHESIZER_MODEL = 'synthesizer';

export async function readRunSnapshot(runDir: string, opts: SnapshotOptions = {}): Promise<RunSnapshot> {
  if (!existsSync(runDir) || !statSync(runDir).isDirectory()) {
    throw new UserError(`${runDir}: no such run directory; pass the run's name with --run (and --runs-dir if it is not under runs/)`);
  }
  const stats = <T>(stage: string, hint: string): T | null => {
    const file = readJson<T>(join(runDir, stage, 'stats.json'), hint);
    return file ?? readJson<StageManifest<T>>(join(runDir, stage, 'manifest.json'), hint)?.stats ?? null;
  };
  const plan = readJson<Record<string, unknown>>(join(runDir, 'experiment', 'plan.json'), 'sbp experiment') ?? null;
  const alphas = sweepAlphas(plan, join(runDir, 'experiment', 'plan.json'));
  const st = alphas?.[0] ?? { pairs: 'pairs', synth: 'synth', synthesizer: SYNTHESIZER_MODEL };
  const pairStats = stats<PairStats>(st.pairs, 'sbp pair --force');
  return {
    runDir,
    name: basename(runDir),
    config: readJson<Record<string, unknown>>(join(runDir, 'config.json'), 'any sbp command on this run') ?? null,
    plan,
    corpus: stats<CorpusStats>('corpus', 'sbp prepare --force'),
    tokenizer: stats<TokenizerStageStats>('tokenizer', 'sbp tokenizer train --force'),
    tokens: stats<TokenizeStats>('tokens', 'sbp tokenize --force'),
    models: readModels(runDir),
    pairs: pairStats ? { stats: pairStats, samples: readJsonLines<PairSample>(join(runDir, st.pairs, 'samples.jsonl'), 'sbp pair --force', opts.pairSamples ?? 8) } : null,
    synth: await readSynth(runDir, st.synth, opts.examples ?? 4),
    eval: readEval(runDir),
    sweep: alphas
      ? {
          synthesizer: st.synthesizer,
          alphaNote:
            alphas[0]!.value !== null
              ? `This sweep has ${alphas.length} α variants; the pairs, synthesizer and synthetic documents shown are those of the first, ${alphas[0]!.kind === 'quantile' ? 'α quantile' : 'α'} ${alphas[0]!.value} (${st.pairs}/, models/${st.synthesizer}/, ${st.synth}/).`
              : null,
        }
      : null,
  };
}

/** Reads a JSON file; undefined when it does not exist, a UserError naming it when it is corrupt. */
export function readJson<T>(path: string, hint: string): T | undefined {
  if (!existsSync(path)) return undefined;
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch (err) {
    throw new UserError(`${path}: not valid JSON (${(err as Error).message}); rerun \`${hint}\` to rewrite it`);
  }
}

/**
 * Reads up to `limit` objects of a JSONL file. A last line without its newline is a row still being
 * written by a running stage and is ignored; any other bad line is a UserError with its line number.
 */
export function readJsonLines<T>(path: string, hint: string, limit = Infinity): T[] {
  if (!existsSync(path)) return [];
  const text = readFileSync(path, 'utf8');
  const lines = text.split('\n');
  const complete = lines.length - 1; // what follows the last newline is '' or a row being written
  const out: T[] = [];
  for (let i = 0; i < complete && out.length < limit; i++) {
    const line = lines[i]!;
    if (line.trim() === '') continue;
    out.push(parseLine<T>(line, path, i + 1, hint));
  }
  return out;
}

function parseLine<T>(line: string, path: string, lineNo: number, hint: string): T {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (err) {
    throw new UserError(`${path}:${lineNo}: not valid JSON (${(err as Error).message}); rerun \`${hint}\` to rewrite it`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new UserError(`${path}:${lineNo}: expected a JSON object per line; rerun \`${hint}\` to rewrite it`);
  return value as T;
}

function readModels(runDir: string): ModelRun[] {
  const dir = join(runDir, 'models');
  if (!existsSync(dir)) return [];
  const out: ModelRun[] = [];
  for (const name of readdirSync(dir).sort()) {
    const modelDir = join(dir, name);
    if (!statSync(modelDir).isDirectory()) continue;
    const hint = `sbp train --model ${name} --force`;
    const manifest = readJson<StageManifest<Record<string, unknown>>>(join(modelDir, 'manifest.json'), hint);
    const rows = readJsonLines<Record<string, unknown>>(join(modelDir, 'metrics.jsonl'), hint);
    const steps: TrainStepRow[] = [];
    const evals: TrainEvalRow[] = [];
    for (const r of rows) {
      if (typeof r.step !== 'number' || typeof r.tokens !== 'number') continue;
      if (r.kind === 'eval' && typeof r.heldoutLoss === 'number') evals.push({ step: r.step, tokens: r.tokens, heldoutLoss: r.heldoutLoss });
      else if (r.kind === 'step') steps.push({ step: r.step, tokens: r.tokens, loss: typeof r.loss === 'number' ? r.loss : null });
    }
    if (!manifest && rows.length === 0) continue; // an empty or foreign folder
    out.push({ name, finished: manifest !== undefined, stats: manifest?.stats ?? null, steps, evals });
  }
  return out;
}

function listShards(dir: string, prefix: string): string[] {
  if (!existsSync(dir)) return [];
  const re = new RegExp(`^${prefix}-\\d{5}\\.jsonl$`);
  return readdirSync(dir).filter((n) => re.test(n)).sort().map((n) => join(dir, n));
}

async function readSynth(runDir: string, stage: string, examples: number): Promise<SynthSnapshot | null> {
  const dir = join(runDir, stage);
  const hint = 'sbp synthesize --force';
  const shards = listShards(dir, 'train');
  const stats = readJson<Record<string, unknown>>(join(dir, 'stats.json'), hint) ?? readJson<StageManifest<Record<string, unknown>>>(join(dir, 'manifest.json'), hint)?.stats ?? null;
  const quality = readJson<Record<string, unknown>>(join(dir, 'quality.json'), hint) ?? null;
  if (shards.length === 0 && !stats && !quality) return null;

  const docs: Array<{ id: string; text: string; meta: Record<string, unknown> }> = [];
  for (const shard of shards) {
    for (const d of readJsonLines<{ id?: unknown; text?: unknown; meta?: unknown }>(shard, hint, examples - docs.length)) {
      if (typeof d.text !== 'string') continue;
      const meta = d.meta && typeof d.meta === 'object' ? (d.meta as Record<string, unknown>) : {};
      docs.push({ id: String(d.id ?? ''), text: d.text, meta });
    }
    if (docs.length >= examples) break;
  }
  const seedIdOf = (meta: Record<string, unknown>): string | null => {
    const s = meta.seed_id ?? meta.seedId;
    return typeof s === 'string' ? s : null;
  };
  const seeds = await findDocuments(listShards(join(runDir, 'corpus'), 'train'), new Set(docs.map((d) => seedIdOf(d.meta)).filter((s): s is string => s !== null)));
  return {
    shards: shards.length,
    stats,
    quality,
    examples: docs.map((d) => {
      const seedId = seedIdOf(d.meta);
      return { id: d.id, text: d.text, seedId, seedText: seedId !== null ? (seeds.get(seedId) ?? null) : null, meta: d.meta };
    }),
  };
}

/** The texts of the documents with these ids, streaming the corpus shards and stopping once all are found. */
async function findDocuments(shards: string[], ids: Set<string>): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  for (const shard of shards) {
    if (found.size === ids.size) break;
    const lines = createInterface({ input: createReadStream(shard, 'utf8'), crlfDelay: Infinity });
    let lineNo = 0;
    for await (const line of lines) {
      lineNo++;
      if (line.trim() === '') continue;
      const d = parseLine<{ id?: unknown; text?: unknown }>(line, shard, lineNo, 'sbp prepare --force');
      if (typeof d.id === 'string' && ids.has(d.id) && typeof d.text === 'string') found.set(d.id, d.text);
      if (found.size === ids.size) {
        lines.close();
        break;
      }
    }
  }
  return found;
}

function readEval(runDir: string): EvalSnapshot | null {
  const dir = join(runDir, 'eval');
  const hint = 'sbp eval --force';
  const results = readJson<{ models?: Record<string, unknown>; metrics?: EvalSnapshot['metrics']; settings?: { bootstrap?: { confidence?: number } } }>(join(dir, 'results.json'), hint);
  if (!results) return null;
  const comparison = readJson<{ roles: unknown; metrics?: ComparisonRow[]; note?: string; bootstrap?: { confidence?: number }; groups?: VariantGroup[]; controls?: EvalSnapshot['controls'] }>(join(dir, 'comparison.json'), hint);
  const hasRoles = comparison !== undefined && comparison.roles !== null && Array.isArray(comparison.metrics);
  return {
    models: Object.keys(results.models ?? {}),
    metrics: results.metrics ?? {},
    comparison: hasRoles ? comparison!.metrics! : null,
    comparisonNote: comparison?.note ?? null,
    confidence: comparison?.bootstrap?.confidence ?? results.settings?.bootstrap?.confidence ?? null,
    groups: Array.isArray(comparison?.groups) ? comparison!.groups! : null,
    controls: Array.isArray(comparison?.controls) ? comparison!.controls! : null,
  };
}

/** A sweep's α variants and their folders, from its plan (experiment/plan.json `sweep`); null without a sweep. */
function sweepAlphas(plan: Record<string, unknown> | null, path: string): SweepAlpha[] | null {
  const sweep = plan?.sweep as { alphas?: unknown } | undefined;
  if (!sweep || !Array.isArray(sweep.alphas) || sweep.alphas.length === 0) return null;
  const ok = sweep.alphas.every((a) => a && typeof a === 'object' && ['pairs', 'synthesizer', 'synth'].every((k) => typeof (a as Record<string, unknown>)[k] === 'string'));
  if (!ok) throw new UserError(`${path}: sweep.alphas lacks its stage folders; rerun \`sbp experiment\` to rewrite the plan`);
  return sweep.alphas as SweepAlpha[];
}
