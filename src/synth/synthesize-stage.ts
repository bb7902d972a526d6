import type { BackendFactory } from '../engine/open-backend.js';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../common/errors.js';
import { writeJsonAtomic } from '../common/fs-atomic.js';
import { Progress } from '../common/progress.js';
import type { EmbedConfig, SynthesizeConfig, TuneConfig } from '../config/schema.js';
import { documentPrefix } from '../embed/document-prefix.js';
import { EMBED_STAGE, VECTORS_FILE } from '../embed/embed-stage.js';
import { normalizeRows } from '../embed/embedder.js';
import { VectorsReader } from '../embed/vectors-file.js';
import type { Backend } from '../engine/backend.js';
import { inputHash, readManifest, runStage, stageDir, type StageResult } from '../stage/stage.js';
import { loadModelFolder } from '../model/hf-folder.js';
import type { PairStats } from '../pairs/pair-miner.js';
import { PAIRS_FILE, PAIRS_STAGE } from '../pairs/pair-stage.js';
import { readPairsFile } from '../pairs/pairs-file.js';
import { Rng } from '../sample/rng.js';
import { Tokenizer } from '../tokenizer/tokenizer.js';
import { TokenDataset } from '../tokens/token-dataset.js';
import { resolveModelDir } from '../stage/model-dir.js';
import type { CompletionBackend, SynthRequest } from './completion-backend.js';
import { HttpCompletionBackend } from './http-completion-backend.js';
import { judgeNonFactual } from './llm-judge.js';
import { LocalCompletionBackend, mixSeed } from './local-completion-backend.js';
import { openRunEmbedder } from './run-embedder.js';
import { SynthFilter, emptyDropCounts, type SynthDropReason } from './synth-filters.js';
import { synthFraming, synthPrompt, unconditionedPrompt } from './synth-framing.js';
import { measureQuality, type QualityDoc, type QualityRates } from './synth-quality.js';
import type { TuneStageStats } from './tune-stage.js';

export const SYNTH_STAGE = 'synth';
export const SYNTH_STATS_FILE = 'stats.json';
export const SYNTH_QUALITY_FILE = 'quality.json';

export function synthShardName(index: number): string {
  return `train-${String(index).padStart(5, '0')}.jsonl`;
}

export function rejectedShardName(index: number): string {
  return `rejected-${String(index).padStart(5, '0')}.jsonl`;
}

/** `meta` of every synthetic document (kept in train-*.jsonl, dropped in rejected-*.jsonl). */
export interface SynthMeta {
  source: 'synthetic';
  seed_id: string; // id of the seed document d1
  seed_index: number; // its row in the corpus train split (= embed/vectors.bin row)
  shard: number;
  slot: number; // position of the seed within its shard's draw
  model: string;
  temperature: number;
  top_p: number;
  top_k: number;
  max_tokens: number; // the length limit this sample had
  finish_reason: 'stop' | 'length';
  tokens: number; // tokens of the text as written
  trimmed: boolean; // cut back to its last sentence end (synthesize.filters.cutOff = trim)
  reason?: SynthDropReason; // rejected documents only
  detail?: string;
}

interface SynthLine {
  id: string;
  text: string;
  meta: SynthMeta;
}

interface ShardInfo {
  seeds: number;
  kept: number;
  keptTokens: number;
  generatedTokens: number;
  drops: Record<SynthDropReason, number>;
  finish: { stop: number; length: number };
  trimmed: number;
  seconds: number; // generation time
}

export interface SynthesizeStats {
  engine: string;
  model: string;
  framing: { contextTokens: number; d1Fraction: number; d1Budget: number };
  sampling: { temperature: number; topP: number; topK: number; maxTokens: number | null };
  targetTokens: number;
  shards: number;
  shardsReused: number;
  seeds: number;
  kept: number;
  keptTokens: number;
  generatedTokens: number;
  drops: Record<SynthDropReason, number>;
  finish: { stop: number; length: number };
  trimmed: number;
  generationSeconds: number;
  tokensPerSec: number; // generated tokens per second of generation
  http?: { requests: number; retries: number };
  quality: QualityReport | null;
}

export interface QualityReport {
  samples: number;
  irrelevanceThreshold: number;
  irrelevanceThresholdFrom: 'config' | 'pairs alpha' | 'default';
  embedder: string;
  /** Every synthetic document as sampled, before the filters. */
  generated: QualityRates;
  /** The synthetic corpus (documents the filters kept). */
  kept: QualityRates;
  /** Real train documents drawn uniformly; the pair measures are taken on mined pairs (d2 against d1). */
  real: QualityRates;
  realPairs: { pairs: number; pairCopyingRate: number | null };
  judge?: { model: string; samples: number; kept: number | null; real: number | null; unparsed: number };
}

export interface SynthesizeStageOptions {
  runDir: string;
  /** The stage folder (default `synth`) and the pairs folder the quality report reads (default `pairs`); an experiment sweep keeps one of each per α. */
  stage?: string;
  pairsStage?: string;
  config: SynthesizeConfig;
  tune: TuneConfig; // fallback framing when the synthesizer is not a model of this run
  embed: EmbedConfig; // the embedder of the pair-irrelevance measure
  seed: number; // run seed, used when synthesize.seed is unset
  createBackend?: BackendFactory;
  /** Replaces the configured engine (programs with their own backend, tests). */
  completionBackend?: CompletionBackend;
  threads?: number;
  force?: boolean;
  quiet?: boolean;
  env?: NodeJS.ProcessEnv;
  log?: (line: string) => void;
  /** Polled after each shard; true = stop (SIGINT). Finished shards are kept; rerunning resumes. */
  shouldStop?: () => boolean;
  /** Test hook: throw after this many shards were generated in this attempt (simulates a kill). */
  failAfterShards?: number;
}

/** Synthesis was stopped by request after a finished shard; the same command resumes. */
export class SynthesisInterrupted extends Error {
  constructor(readonly shards: number) {
    super(`synthesis interrupted after ${shards} shard(s); rerun the same command to resume`);
    this.name = 'SynthesisInterrupted';
  }
}

/** The part of the config that decides the output (not how fast or where it is computed). */
export function synthIdentity(cfg: SynthesizeConfig): Record<string, unknown> {
  const { batchSize: _b, backend: _be, http: _h, quality, conditioning, ...rest } = cfg;
  const judge = quality.judge ? { model: quality.judge.model, samples: quality.judge.samples } : null;
  // Seed conditioning is the default and was the only mode: it stays out of the identity, so earlier runs stay cached.
  return { formatVersion: 1, ...rest, ...(conditioning === 'none' ? { conditioning } : {}), quality: { samples: quality.samples, irrelevanceThreshold: quality.irrelevanceThreshold ?? null, judge } };
}

/**
 * `sbp synthesize`: the `synth/` stage. Draws seed documents uniformly from the corpus train split,
 * samples d2 ~ p(· | d1) from the synthesizer, filters, and writes shards until the kept documents
 * hold `targetTokens` tokens:
 *   train-NNNNN.jsonl     kept synthetic documents {"id","text","meta"} (the corpus format, so
 *                         `tokenizeCorpus` reads the folder unchanged)
 *   rejected-NNNNN.jsonl  dropped ones, with meta.reason
 *   stats.json, quality.json, manifest.json
 * Shard i draws its seeds and sampling seeds from the stream (seed, i) alone, and is marked done only
 * after both files are in place, so a killed run regenerates exactly the unfinished shards; the
 * exact-duplicate set is rebuilt from finished shards in order, so the rerun's output is the same.
 */
export async function runSynthesizeStage(opts: SynthesizeStageOptions): Promise<StageResult<SynthesizeStats>> {
  const { runDir, config: cfg } = opts;
  const log = opts.log ?? (() => {});
  const local = cfg.engine === 'local' && !opts.completionBackend;
  const model = local ? resolveModelDir(runDir, cfg.model, 'synthesize.model') : null;
  const inputs: Record<string, string> = {
    corpus: inputHash(runDir, 'corpus', 'sbp prepare'),
    tokens: inputHash(runDir, 'tokens', 'sbp tokenize'),
  };
  if (model) inputs.model = model.inputHash;
  if (cfg.quality.samples > 0) {
    inputs.embed = inputHash(runDir, EMBED_STAGE, 'sbp embed');
    inputs.pairs = inputHash(runDir, opts.pairsStage ?? PAIRS_STAGE, 'sbp pair');
  }
  const tokenizerPath = join(stageDir(runDir, 'tokenizer'), 'tokenizer.json');
  if (!existsSync(tokenizerPath)) throw new UserError(`${tokenizerPath} is missing; run \`sbp tokenizer train\` first`);
  const seed = cfg.seed ?? opts.seed;
  const framingFrom = tunedFraming(runDir, cfg.model);
  const T = cfg.contextTokens ?? framingFrom?.seqLen ?? opts.tune.seqLen;
  const d1Fraction = cfg.d1Fraction ?? framingFrom?.d1Fraction ?? opts.tune.d1Fraction;
  const framing = synthFraming(T, d1Fraction);

  return runStage<SynthesizeStats>({
    stage: opts.stage ?? SYNTH_STAGE,
    runDir,
    config: { ...synthIdentity(cfg), seed, contextTokens: T, d1Fraction },
    inputs,
    force: opts.force,
    run: async (ctx) => {
      const tokenizer = Tokenizer.load(tokenizerPath);
      const { bos, sep } = tokenizer.special;
      const docs = TokenDataset.open(stageDir(runDir, 'tokens'), 'train', { hint: 'sbp tokenize' });
      let backend: CompletionBackend | undefined = opts.completionBackend;
      try {
        if (docs.numDocs === 0) throw new UserError(`${stageDir(runDir, 'tokens')}: the train split has no documents to draw seeds from`);
        const sampling = { temperature: cfg.temperature, topP: cfg.topP, topK: cfg.topK };
        if (!backend) {
          if (cfg.engine === 'local') {
            const be = await (opts.createBackend ?? (() => { throw new Error('runSynthesizeStage: createBackend is required for the local engine'); }))(cfg.backend, opts.threads);
            const lm = loadModelFolder(model!.dir, be);
            if (T > lm.config.maxSeqLen) throw new UserError(`the synthesizer context ${T} (synthesize.contextTokens or its tune.seqLen) exceeds the model's maxSeqLen ${lm.config.maxSeqLen}`);
            backend = new LocalCompletionBackend(lm, tokenizer, sampling, cfg.batchSize);
          } else {
            let apiKey: string | undefined;
            if (cfg.http.apiKeyEnv !== undefined) {
              apiKey = (opts.env ?? process.env)[cfg.http.apiKeyEnv];
              if (!apiKey) throw new UserError(`synthesize.http.apiKeyEnv is "${cfg.http.apiKeyEnv}" but that environment variable is empty; export it, or remove synthesize.http.apiKeyEnv for a server without keys`);
            }
            backend = new HttpCompletionBackend({
              ...cfg.http,
              ...sampling,
              apiKey,
              model: cfg.model,
              countTokens: (t) => tokenizer.encode(t).length,
              onRetry: ({ attempt, delayMs, why }) => log(`synthesize: retry ${attempt} in ${delayMs} ms (${why})`),
            });
          }
        }

        const filter = new SynthFilter(cfg.filters, (t) => tokenizer.encode(t).length);
        const totals: ShardInfo = { seeds: 0, kept: 0, keptTokens: 0, generatedTokens: 0, drops: emptyDropCounts(), finish: { stop: 0, length: 0 }, trimmed: 0, seconds: 0 };
        const progress = new Progress({ label: 'synthesize', total: cfg.targetTokens, unit: 'tok', quiet: opts.quiet });
        let shard = 0;
        let reused = 0;
        let generatedNow = 0;
        let emptyInARow = 0;
        while (totals.keptTokens < cfg.targetTokens) {
          const name = synthShardName(shard);
          let info = ctx.isDone(name) ? ctx.doneInfo<ShardInfo>(name) : undefined;
          if (info !== undefined) {
            for (const line of readShardLines(join(ctx.dir, name), info.kept)) filter.remember(line.text);
            reused++;
          } else {
            if (opts.failAfterShards !== undefined && generatedNow >= opts.failAfterShards) throw new Error(`synthesize: stopped after ${generatedNow} shard(s) (test hook)`);
            info = await synthesizeShard(shard);
            generatedNow++;
          }
          addInfo(totals, info);
          progress.add(info.keptTokens, `shard ${shard}: kept ${info.kept}/${info.seeds}`);
          emptyInARow = info.kept === 0 ? emptyInARow + 1 : 0;
          shard++;
          if (emptyInARow >= cfg.maxEmptyShards && totals.keptTokens < cfg.targetTokens) {
            throw new UserError(
              `synthesize: the last ${emptyInARow} shards kept no document (drops so far: ${JSON.stringify(totals.drops)}); see ${join(ctx.dir, 'rejected-*.jsonl')} and loosen synthesize.filters (e.g. minTokens, cutOff=keep) or train the synthesizer longer`,
            );
          }
          if (totals.keptTokens < cfg.targetTokens && opts.shouldStop?.()) throw new SynthesisInterrupted(shard);
        }
        progress.finish();

        async function synthesizeShard(index: number): Promise<ShardInfo> {
          const rng = new Rng([seed, index]);
          const shardSeed = rng.nextU32();
          const seedRows = Array.from({ length: cfg.seedsPerShard }, () => rng.int(docs.numDocs));
          const requests: SynthRequest[] = seedRows.map((row, slot) => {
            const { prompt, maxD2Tokens } = cfg.conditioning === 'none' ? unconditionedPrompt(framing, bos) : synthPrompt(framing, docs.doc(row), bos, sep);
            return { prompt, maxTokens: Math.min(cfg.maxTokens ?? Infinity, maxD2Tokens), seed: mixSeed(shardSeed, slot) };
          });
          const t0 = performance.now();
          const completions = await backend!.complete(requests, shardSeed);
          const seconds = (performance.now() - t0) / 1000;
          const info: ShardInfo = { seeds: requests.length, kept: 0, keptTokens: 0, generatedTokens: 0, drops: emptyDropCounts(), finish: { stop: 0, length: 0 }, trimmed: 0, seconds };
          const keptLines: string[] = [];
          const rejectedLines: string[] = [];
          completions.forEach((c, slot) => {
            const row = seedRows[slot]!;
            info.generatedTokens += c.tokens;
            info.finish[c.finishReason]++;
            const meta: SynthMeta = {
              source: 'synthetic',
              seed_id: docs.docId(row),
              seed_index: row,
              shard: index,
              slot,
              model: cfg.model,
              temperature: cfg.temperature,
              top_p: cfg.topP,
              top_k: cfg.topK,
              max_tokens: requests[slot]!.maxTokens,
              finish_reason: c.finishReason,
              tokens: c.tokens,
              trimmed: false,
            };
            const id = `synth:${index}-${slot}`;
            const v = filter.check(c, tokenizer.decode(docs.doc(row)));
            if (v.keep) {
              info.kept++;
              info.keptTokens += v.tokens;
              if (v.trimmed) info.trimmed++;
              keptLines.push(JSON.stringify({ id, text: v.text, meta: { ...meta, tokens: v.tokens, trimmed: v.trimmed } } satisfies SynthLine));
            } else {
              info.drops[v.reason]++;
              rejectedLines.push(JSON.stringify({ id, text: c.text, meta: { ...meta, reason: v.reason, ...(v.detail ? { detail: v.detail } : {}) } } satisfies SynthLine));
            }
          });
          writeShard(join(ctx.dir, rejectedShardName(index)), rejectedLines);
          writeShard(join(ctx.dir, synthShardName(index)), keptLines);
          ctx.markDone(synthShardName(index), info);
          return info;
        }

        const stats: SynthesizeStats = {
          engine: backend.name,
          model: cfg.model,
          framing: { contextTokens: T, d1Fraction, d1Budget: framing.d1Budget },
          sampling: { temperature: cfg.temperature, topP: cfg.topP, topK: cfg.topK, maxTokens: cfg.maxTokens ?? null },
          targetTokens: cfg.targetTokens,
          shards: shard,
          shardsReused: reused,
          seeds: totals.seeds,
          kept: totals.kept,
          keptTokens: totals.keptTokens,
          generatedTokens: totals.generatedTokens,
          drops: totals.drops,
          finish: totals.finish,
          trimmed: totals.trimmed,
          generationSeconds: totals.seconds,
          tokensPerSec: totals.seconds > 0 ? totals.generatedTokens / totals.seconds : 0,
          quality: null,
        };
        if (backend instanceof HttpCompletionBackend) stats.http = { ...backend.counters };
        if (cfg.quality.samples > 0) {
          stats.quality = await qualityReport({ ...opts, seed }, ctx.dir, shard, docs, tokenizer);
          writeJsonAtomic(join(ctx.dir, SYNTH_QUALITY_FILE), stats.quality);
        }
        writeJsonAtomic(join(ctx.dir, SYNTH_STATS_FILE), stats);
        return stats;
      } finally {
        docs.close();
        if (backend && backend !== opts.completionBackend) await backend.close?.();
      }
    },
  });
}

/** The framing a run's synthesizer was tuned with, when `name` is a tuned model of this run. */
function tunedFraming(runDir: string, name: string): { seqLen: number; d1Fraction: number } | undefined {
  if (!/^[A-Za-z0-9._-]+$/.test(name)) return undefined;
  const m = readManifest<Partial<TuneStageStats>>(runDir, join('models', name));
  return m?.stats?.framing;
}

function addInfo(t: ShardInfo, s: ShardInfo): void {
  t.seeds += s.seeds;
  t.kept += s.kept;
  t.keptTokens += s.keptTokens;
  t.generatedTokens += s.generatedTokens;
  for (const k of Object.keys(t.drops) as SynthDropReason[]) t.drops[k] += s.drops[k] ?? 0;
  t.finish.stop += s.finish.stop;
  t.finish.length += s.finish.length;
  t.trimmed += s.trimmed;
  t.seconds += s.seconds;
}

/** Written under a temporary name and renamed, so a shard file is either absent or whole. */
function writeShard(path: string, lines: readonly string[]): void {
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, lines.map((l) => `${l}\n`).join(''));
  renameSync(tmp, path);
}

function readShardLines(path: string, expected?: number): SynthLine[] {
  const redo = 'rerun `sbp synthesize --force` to regenerate the synthetic corpus';
  if (!existsSync(path)) throw new UserError(`${path} is missing although its shard is marked done; ${redo}`);
  const lines = readFileSync(path, 'utf8').split('\n').filter((l) => l.length > 0);
  if (expected !== undefined && lines.length !== expected) throw new UserError(`${path}: ${lines.length} documents, its completion marker says ${expected}; ${redo}`);
  return lines.map((l, i) => {
    try {
      return JSON.parse(l) as SynthLine;
    } catch (err) {
      throw new UserError(`${path}:${i + 1}: not valid JSON (${(err as Error).message}); ${redo}`);
    }
  });
}

async function qualityReport(
  opts: SynthesizeStageOptions,
  dir: string,
  shards: number,
  docs: TokenDataset,
  tokenizer: Tokenizer,
): Promise<QualityReport> {
  const q = opts.config.quality;
  const f = opts.config.filters;
  const N = q.samples;
  // Generated documents in draw order (shard, slot), kept and rejected together; kept ones alone.
  const generated: QualityDoc[] = [];
  const kept: QualityDoc[] = [];
  for (let s = 0; s < shards && (generated.length < N || kept.length < N); s++) {
    const k = readShardLines(join(dir, synthShardName(s)));
    const r = readShardLines(join(dir, rejectedShardName(s)));
    for (const l of k) if (kept.length < N) kept.push({ text: l.text, seed: l.meta.seed_index });
    for (const l of [...k, ...r].sort((a, b) => a.meta.slot - b.meta.slot)) if (generated.length < N) generated.push({ text: l.text, seed: l.meta.seed_index });
  }
  const rng = new Rng([opts.seed, 0x9a11]);
  const realRows = rng.permutation(docs.numDocs).subarray(0, Math.min(N, docs.numDocs));
  const seedText = (row: number) => tokenizer.decode(docs.doc(row));
  const real: QualityDoc[] = Array.from(realRows, (row) => ({ text: seedText(row) }));

  const pairsStats = readManifest<PairStats>(opts.runDir, opts.pairsStage ?? PAIRS_STAGE)?.stats;
  const alpha = pairsStats?.alpha?.value ?? null;
  const threshold = q.irrelevanceThreshold ?? alpha ?? 0.5;
  const thresholdFrom: QualityReport['irrelevanceThresholdFrom'] = q.irrelevanceThreshold !== undefined ? 'config' : alpha !== null ? 'pairs alpha' : 'default';

  const vectors = VectorsReader.open(join(stageDir(opts.runDir, EMBED_STAGE), VECTORS_FILE), { verify: false });
  const embedder = await openRunEmbedder(opts.runDir, opts.embed, { threads: opts.threads, env: opts.env, note: opts.log });
  try {
    if (vectors.count !== docs.numDocs) throw new UserError(`embed/vectors.bin holds ${vectors.count} rows, tokens/train ${docs.numDocs} documents; rerun \`sbp embed\``);
    const common = {
      limits: f,
      copyNgramWords: f.copyNgramWords,
      seedText,
      irrelevanceThreshold: threshold,
      seedVector: (row: number) => vectors.readRows(row, 1),
      embed: async (texts: readonly string[]) => {
        const inputs = texts.map((t) => documentPrefix(tokenizer, t, opts.embed.maxTokens));
        const rows = await embedder.embed(inputs);
        normalizeRows(rows, embedder.dim);
        return rows;
      },
    };
    const report: QualityReport = {
      samples: N,
      irrelevanceThreshold: threshold,
      irrelevanceThresholdFrom: thresholdFrom,
      embedder: opts.embed.embedder,
      generated: await measureQuality(generated, common),
      kept: await measureQuality(kept, common),
      real: await measureQuality(real, common),
      realPairs: { pairs: 0, pairCopyingRate: null },
    };
    const mined = readPairsFile(join(stageDir(opts.runDir, opts.pairsStage ?? PAIRS_STAGE), PAIRS_FILE)).pairs;
    if (mined.d1.length > 0) {
      const pick = rng.permutation(mined.d1.length).subarray(0, Math.min(N, mined.d1.length));
      const realPairs: QualityDoc[] = Array.from(pick, (p) => ({ text: seedText(mined.d2[p]!), seed: mined.d1[p]! }));
      const r = await measureQuality(realPairs, { ...common, embed: undefined });
      report.realPairs = { pairs: realPairs.length, pairCopyingRate: r.pairCopyingRate };
    }
    if (q.judge) {
      const j = q.judge;
      let apiKey: string | undefined;
      if (j.apiKeyEnv !== undefined) {
        apiKey = (opts.env ?? process.env)[j.apiKeyEnv];
        if (!apiKey) throw new UserError(`synthesize.quality.judge.apiKeyEnv is "${j.apiKeyEnv}" but that environment variable is empty; export it`);
      }
      const judgeOpts = { ...j, apiKey };
      const onKept = await judgeNonFactual(kept.slice(0, j.samples).map((d) => d.text), judgeOpts);
      const onReal = await judgeNonFactual(real.slice(0, j.samples).map((d) => d.text), judgeOpts);
      report.kept.nonFactualRate = onKept.rate;
      report.real.nonFactualRate = onReal.rate;
      report.judge = { model: j.model, samples: j.samples, kept: onKept.rate, real: onReal.rate, unparsed: onKept.unparsed + onReal.unparsed };
    }
    return report;
  } finally {
    vectors.close();
    await embedder.close?.();
  }
}
