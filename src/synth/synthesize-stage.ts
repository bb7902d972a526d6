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
import { inputHash, readManifest, runStage, stageDir, type StageContext, type StageResult } from '../stage/stage.js';
import type { LanguageModel } from '../model/types.js';
import { loadModelFolder } from '../model/hf-folder.js';
import type { PairStats } from '../pairs/pair-miner.js';
import { PAIRS_FILE, PAIRS_STAGE } from '../pairs/pair-stage.js';
import { readPairsFile } from '../pairs/pairs-file.js';
import { Rng } from '../sample/rng.js';
import { Tokenizer } from '../tokenizer/tokenizer.js';
import { TokenDataset } from '../tokens/token-dataset.js';
import { resolveModelDir, type ResolvedModelDir } from '../stage/model-dir.js';
import type { CompletionBackend, SynthRequest } from './completion-backend.js';
import { HttpCompletionBackend } from './http-completion-backend.js';
import { judgeNonFactual } from './llm-judge.js';
import { LocalCompletionBackend, mixSeed } from './local-completion-backend.js';
import { openRunEmbedder } from './run-embedder.js';
import { SynthFilter, emptyDropCounts, type SynthDropReason } from './synth-filters.js';
import { synthFraming, synthPrompt, unconditionedPrompt, type SynthFraming } from './synth-framing.js';
import { documentLosses, perplexityDrops } from './perplexity-filter.js';
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
  lossThreshold?: number; // the perplexity filter's loss per token threshold in this shard (nats)
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
  /** The perplexity filter (synthesize.filters.maxLossQuantile), null when off; its drops are counted in `drops.perplexity`. */
  perplexityFilter: { quantile: number; lossModel: string; meanThreshold: number | null } | null;
  quality: QualityReport | null;
  conditioning: ConditioningSummary | null;
}

/**
 * Whether the synthesizer uses its seed, in one place:
 *   conditionalGainNatsPerToken   on held-out pairs, the synthesizer's loss on d2 alone minus its loss
 *                                 on d2 given d1 (nats per d2 token; > 0 = d1 helps); null when the
 *                                 synthesizer was not tuned in this run
 *   gainOverBaselineNatsPerToken  the starting model's loss on d2 alone minus the synthesizer's on d2 given d1
 *   pairIrrelevanceRate           kept synthetic documents whose embedding's cosine with their seed is
 *                                 below `realPairSimilarityThreshold` (the quality report's threshold)
 */
export interface ConditioningSummary {
  heldoutPairs: number | null;
  conditionalGainNatsPerToken: number | null;
  gainOverBaselineNatsPerToken: number | null;
  pairIrrelevanceRate: number | null;
  generatedPairIrrelevanceRate: number | null;
  meanSeedSimilarity: number | null;
  randomPairMeanSimilarity: number | null; // the same cosine for two random train documents: the floor
  /** (mean cosine with the seed − random floor) / (mined pairs' mean cosine − random floor): 0 = as related to its seed as a random document, 1 = as related as a mined neighbour; comparable across embedders. */
  seedLift: number | null;
  realPairSimilarityThreshold: number | null;
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
  realPairs: { pairs: number; pairCopyingRate: number | null; meanSimilarity?: number };
  /** Two different train documents drawn at random, from the stored vectors: the floor a synthetic document's similarity to its seed should clear. */
  randomPairs: { pairs: number; meanSimilarity: number | null; irrelevanceRate: number | null };
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
  const { batchSize: _b, backend: _be, http: _h, quality, filters, conditioning, ...rest } = cfg;
  const { lossModel, ...rules } = filters;
  const judge = quality.judge ? { model: quality.judge.model, samples: quality.judge.samples } : null;
  // The loss model matters only when the perplexity filter is on (then its hash is an input too).
  const f = filters.maxLossQuantile !== undefined ? { ...rules, lossModel } : rules;
  // Seed conditioning is the default and was the only mode: it stays out of the identity, so earlier runs stay cached.
  return { formatVersion: 1, ...rest, ...(conditioning === 'none' ? { conditioning } : {}), filters: f, quality: { samples: quality.samples, irrelevanceThreshold: quality.irrelevanceThreshold ?? null, judge } };
}

/** What the stage decides before it runs: the synthesizer and scoring models, the inputs, the seed and the framing. */
interface SynthesisPlan {
  model: ResolvedModelDir | null; // the local synthesizer
  lossModel: ResolvedModelDir | null; // the perplexity filter's scoring model
  inputs: Record<string, string>;
  seed: number;
  T: number;
  d1Fraction: number;
  framing: SynthFraming;
  tokenizerPath: string;
}

function synthesisPlan(opts: SynthesizeStageOptions): SynthesisPlan {
  const { runDir, config: cfg } = opts;
  const local = cfg.engine === 'local' && !opts.completionBackend;
  const model = local ? resolveModelDir(runDir, cfg.model, 'synthesize.model') : null;
  const lossModel = cfg.filters.maxLossQuantile !== undefined ? resolveModelDir(runDir, cfg.filters.lossModel, 'synthesize.filters.lossModel') : null;
  const inputs: Record<string, string> = {
    corpus: inputHash(runDir, 'corpus', 'sbp prepare'),
    tokens: inputHash(runDir, 'tokens', 'sbp tokenize'),
  };
  if (model) inputs.model = model.inputHash;
  if (lossModel) inputs.lossModel = lossModel.inputHash;
  if (cfg.quality.samples > 0) {
    inputs.embed = inputHash(runDir, EMBED_STAGE, 'sbp embed');
    inputs.pairs = inputHash(runDir, opts.pairsStage ?? PAIRS_STAGE, 'sbp pair');
  }
  const tokenizerPath = join(stageDir(runDir, 'tokenizer'), 'tokenizer.json');
  if (!existsSync(tokenizerPath)) throw new UserError(`${tokenizerPath} is missing; run \`sbp tokenizer train\` first`);
  const framingFrom = tunedFraming(runDir, cfg.model);
  const T = cfg.contextTokens ?? framingFrom?.seqLen ?? opts.tune.seqLen;
  const d1Fraction = cfg.d1Fraction ?? framingFrom?.d1Fraction ?? opts.tune.d1Fraction;
  return { model, lossModel, inputs, seed: cfg.seed ?? opts.seed, T, d1Fraction, framing: synthFraming(T, d1Fraction), tokenizerPath };
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
 * Steps: plan (models, inputs, framing) → open the completion backend → synthesize shards → stats →
 * quality report and conditioning summary.
 */
export async function runSynthesizeStage(opts: SynthesizeStageOptions): Promise<StageResult<SynthesizeStats>> {
  const { runDir, config: cfg } = opts;
  const plan = synthesisPlan(opts);
  return runStage<SynthesizeStats>({
    stage: opts.stage ?? SYNTH_STAGE,
    runDir,
    config: { ...synthIdentity(cfg), seed: plan.seed, contextTokens: plan.T, d1Fraction: plan.d1Fraction },
    inputs: plan.inputs,
    force: opts.force,
    run: async (ctx) => {
      const tokenizer = Tokenizer.load(plan.tokenizerPath);
      const docs = TokenDataset.open(stageDir(runDir, 'tokens'), 'train', { hint: 'sbp tokenize' });
      let backend: CompletionBackend | undefined = opts.completionBackend;
      try {
        if (docs.numDocs === 0) throw new UserError(`${stageDir(runDir, 'tokens')}: the train split has no documents to draw seeds from`);
        backend ??= await openCompletionBackend(opts, plan, tokenizer);
        const lossModel = plan.lossModel ? await openLossModel(opts, plan.lossModel) : null;
        const shards: ShardRunner = { cfg, seed: plan.seed, framing: plan.framing, docs, tokenizer, backend, lossModel, dir: ctx.dir, filter: new SynthFilter(cfg.filters, (t) => tokenizer.encode(t).length) };
        const { totals, shards: n, reused, lossThresholds } = await synthesizeShards(ctx, shards, opts);
        const stats = synthesisStats(cfg, plan, backend, totals, n, reused, lossThresholds);
        if (cfg.quality.samples > 0) {
          stats.quality = await qualityReport({ ...opts, seed: plan.seed }, ctx.dir, n, docs, tokenizer);
          writeJsonAtomic(join(ctx.dir, SYNTH_QUALITY_FILE), stats.quality);
        }
        stats.conditioning = conditioningSummary(runDir, cfg.model, stats.quality);
        writeJsonAtomic(join(ctx.dir, SYNTH_STATS_FILE), stats);
        return stats;
      } finally {
        docs.close();
        if (backend && backend !== opts.completionBackend) await backend.close?.();
      }
    },
  });
}

/** The configured engine: the local sampler over the synthesizer's folder, or an OpenAI-compatible server. */
async function openCompletionBackend(opts: SynthesizeStageOptions, plan: SynthesisPlan, tokenizer: Tokenizer): Promise<CompletionBackend> {
  const cfg = opts.config;
  const sampling = { temperature: cfg.temperature, topP: cfg.topP, topK: cfg.topK };
  if (cfg.engine === 'local') {
    const be = await (opts.createBackend ?? (() => { throw new Error('runSynthesizeStage: createBackend is required for the local engine'); }))(cfg.backend, opts.threads);
    const lm = loadModelFolder(plan.model!.dir, be);
    if (plan.T > lm.config.maxSeqLen) throw new UserError(`the synthesizer context ${plan.T} (synthesize.contextTokens or its tune.seqLen) exceeds the model's maxSeqLen ${lm.config.maxSeqLen}`);
    return new LocalCompletionBackend(lm, tokenizer, sampling, cfg.batchSize);
  }
  let apiKey: string | undefined;
  if (cfg.http.apiKeyEnv !== undefined) {
    apiKey = (opts.env ?? process.env)[cfg.http.apiKeyEnv];
    if (!apiKey) throw new UserError(`synthesize.http.apiKeyEnv is "${cfg.http.apiKeyEnv}" but that environment variable is empty; export it, or remove synthesize.http.apiKeyEnv for a server without keys`);
  }
  const log = opts.log ?? (() => {});
  return new HttpCompletionBackend({
    ...cfg.http,
    ...sampling,
    apiKey,
    model: cfg.model,
    countTokens: (t) => tokenizer.encode(t).length,
    onRetry: ({ attempt, delayMs, why }) => log(`synthesize: retry ${attempt} in ${delayMs} ms (${why})`),
  });
}

/** The perplexity filter's scoring model (synthesize.filters.lossModel), on the synthesis backend kind. */
async function openLossModel(opts: SynthesizeStageOptions, dir: ResolvedModelDir): Promise<LanguageModel> {
  const create = opts.createBackend ?? (() => { throw new Error('runSynthesizeStage: createBackend is required for synthesize.filters.maxLossQuantile'); });
  return loadModelFolder(dir.dir, await create(opts.config.backend, opts.threads));
}

/** Everything one shard needs, fixed for the whole stage. */
interface ShardRunner {
  cfg: SynthesizeConfig;
  seed: number;
  framing: SynthFraming;
  docs: TokenDataset;
  tokenizer: Tokenizer;
  backend: CompletionBackend;
  lossModel: LanguageModel | null;
  filter: SynthFilter;
  dir: string;
}

/**
 * The requests of one shard: for each seed row, the prompt `[bos] d1 [sep]` and its d2 length limit,
 * or `[bos]` alone when `conditioning` is `none` (the selfdistill control; the seed rows are still
 * drawn, so both modes take the same random streams). This is where the synthesizer is conditioned;
 * keep it the one place a prompt is built.
 */
export function seedRequests(framing: SynthFraming, docs: TokenDataset, seedRows: readonly number[], special: { bos: number; sep: number }, maxTokens: number | undefined, shardSeed: number, conditioning: 'seed' | 'none' = 'seed'): SynthRequest[] {
  return seedRows.map((row, slot) => {
    const { prompt, maxD2Tokens } = conditioning === 'none' ? unconditionedPrompt(framing, special.bos) : synthPrompt(framing, docs.doc(row), special.bos, special.sep);
    return { prompt, maxTokens: Math.min(maxTokens ?? Infinity, maxD2Tokens), seed: mixSeed(shardSeed, slot) };
  });
}

/** Shards in order until the kept tokens reach the target; finished shards are reloaded, not redone. */
async function synthesizeShards(
  ctx: StageContext,
  r: ShardRunner,
  opts: SynthesizeStageOptions,
): Promise<{ totals: ShardInfo; shards: number; reused: number; lossThresholds: number[] }> {
  const cfg = r.cfg;
  const totals = emptyShardInfo(0, 0);
  const lossThresholds: number[] = [];
  const progress = new Progress({ label: 'synthesize', total: cfg.targetTokens, unit: 'tok', quiet: opts.quiet });
  let shard = 0;
  let reused = 0;
  let generatedNow = 0;
  let emptyInARow = 0;
  while (totals.keptTokens < cfg.targetTokens) {
    const name = synthShardName(shard);
    let info = ctx.isDone(name) ? ctx.doneInfo<ShardInfo>(name) : undefined;
    if (info !== undefined) {
      // The duplicate set holds every text the rules kept, the perplexity filter's drops included.
      for (const line of readShardLines(join(r.dir, name), info.kept)) r.filter.remember(line.text);
      for (const line of readShardLines(join(r.dir, rejectedShardName(shard)))) if (line.meta.reason === 'perplexity') r.filter.remember(line.text);
      reused++;
    } else {
      if (opts.failAfterShards !== undefined && generatedNow >= opts.failAfterShards) throw new Error(`synthesize: stopped after ${generatedNow} shard(s) (test hook)`);
      info = await synthesizeShard(r, shard);
      ctx.markDone(name, info);
      generatedNow++;
    }
    if (info.lossThreshold !== undefined) lossThresholds.push(info.lossThreshold);
    addInfo(totals, info);
    progress.add(info.keptTokens, `shard ${shard}: kept ${info.kept}/${info.seeds}`);
    emptyInARow = info.kept === 0 ? emptyInARow + 1 : 0;
    shard++;
    if (emptyInARow >= cfg.maxEmptyShards && totals.keptTokens < cfg.targetTokens) {
      throw new UserError(
        `synthesize: the last ${emptyInARow} shards kept no document (drops so far: ${JSON.stringify(totals.drops)}); see ${join(r.dir, 'rejected-*.jsonl')} and loosen synthesize.filters (e.g. minTokens, cutOff=keep) or train the synthesizer longer`,
      );
    }
    if (totals.keptTokens < cfg.targetTokens && opts.shouldStop?.()) throw new SynthesisInterrupted(shard);
  }
  progress.finish();
  return { totals, shards: shard, reused, lossThresholds };
}

function emptyShardInfo(seeds: number, seconds: number): ShardInfo {
  return { seeds, kept: 0, keptTokens: 0, generatedTokens: 0, drops: emptyDropCounts(), finish: { stop: 0, length: 0 }, trimmed: 0, seconds };
}

/** One shard: draw seeds, sample, filter (rules, then the perplexity filter), write both files. */
async function synthesizeShard(r: ShardRunner, index: number): Promise<ShardInfo> {
  const { cfg, docs, tokenizer } = r;
  const rng = new Rng([r.seed, index]);
  const shardSeed = rng.nextU32();
  const seedRows = Array.from({ length: cfg.seedsPerShard }, () => rng.int(docs.numDocs));
  const requests = seedRequests(r.framing, docs, seedRows, tokenizer.special, cfg.maxTokens, shardSeed, cfg.conditioning);
  const t0 = performance.now();
  const completions = await r.backend.complete(requests, shardSeed);
  const info = emptyShardInfo(requests.length, (performance.now() - t0) / 1000);
  const lines: Array<{ keep: boolean; tokens: number; trimmed: boolean; line: SynthLine }> = [];
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
    const v = r.filter.check(c, tokenizer.decode(docs.doc(row)));
    if (v.keep) lines.push({ keep: true, tokens: v.tokens, trimmed: v.trimmed, line: { id, text: v.text, meta: { ...meta, tokens: v.tokens, trimmed: v.trimmed } } });
    else lines.push({ keep: false, tokens: 0, trimmed: false, line: { id, text: c.text, meta: { ...meta, reason: v.reason, ...(v.detail ? { detail: v.detail } : {}) } } });
  });
  if (r.lossModel && cfg.filters.maxLossQuantile !== undefined) {
    const candidates = lines.filter((l) => l.keep);
    const losses = documentLosses(r.lossModel, tokenizer, candidates.map((l) => l.line.text));
    const { drop, threshold } = perplexityDrops(losses, cfg.filters.maxLossQuantile);
    info.lossThreshold = candidates.length > 0 ? threshold : undefined;
    candidates.forEach((l, i) => {
      if (!drop[i]) return;
      l.keep = false;
      l.line.meta = { ...l.line.meta, reason: 'perplexity', detail: `${losses[i]!.toFixed(3)} nats/token > ${threshold.toFixed(3)}` };
    });
  }
  const keptLines: string[] = [];
  const rejectedLines: string[] = [];
  for (const l of lines) {
    if (l.keep) {
      info.kept++;
      info.keptTokens += l.tokens;
      if (l.trimmed) info.trimmed++;
      keptLines.push(JSON.stringify(l.line));
    } else {
      info.drops[l.line.meta.reason!]++;
      rejectedLines.push(JSON.stringify(l.line));
    }
  }
  writeShard(join(r.dir, rejectedShardName(index)), rejectedLines);
  writeShard(join(r.dir, synthShardName(index)), keptLines);
  return info;
}

function synthesisStats(cfg: SynthesizeConfig, plan: SynthesisPlan, backend: CompletionBackend, totals: ShardInfo, shards: number, reused: number, lossThresholds: readonly number[]): SynthesizeStats {
  const stats: SynthesizeStats = {
    engine: backend.name,
    model: cfg.model,
    framing: { contextTokens: plan.T, d1Fraction: plan.d1Fraction, d1Budget: plan.framing.d1Budget },
    sampling: { temperature: cfg.temperature, topP: cfg.topP, topK: cfg.topK, maxTokens: cfg.maxTokens ?? null },
    targetTokens: cfg.targetTokens,
    shards,
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
    perplexityFilter:
      cfg.filters.maxLossQuantile !== undefined
        ? { quantile: cfg.filters.maxLossQuantile, lossModel: cfg.filters.lossModel, meanThreshold: lossThresholds.length > 0 ? lossThresholds.reduce((a, b) => a + b, 0) / lossThresholds.length : null }
        : null,
    quality: null,
    conditioning: null,
  };
  if (backend instanceof HttpCompletionBackend) stats.http = { ...backend.counters };
  return stats;
}

/**
 * The two numbers that say whether the synthesizer conditions on its seed: its conditional gain on
 * held-out pairs (from the tuning stage of `model`, when it is a tuned model of this run) and the
 * pair-irrelevance of what it wrote (from the quality report).
 */
function seedLift(q: QualityReport | null): number | null {
  const seed = q?.kept.meanSeedSimilarity;
  const floor = q?.randomPairs.meanSimilarity;
  const mined = q?.realPairs.meanSimilarity;
  if (seed == null || floor == null || mined == null || !(mined > floor)) return null;
  return (seed - floor) / (mined - floor);
}

export function conditioningSummary(runDir: string, model: string, quality: QualityReport | null): ConditioningSummary {
  const tuned = /^[A-Za-z0-9._-]+$/.test(model) ? readManifest<Partial<TuneStageStats>>(runDir, join('models', model))?.stats?.eval ?? null : null;
  return {
    heldoutPairs: tuned?.pairs ?? null,
    conditionalGainNatsPerToken: tuned?.conditioningGainNatsPerToken ?? null,
    gainOverBaselineNatsPerToken: tuned?.gainNatsPerToken ?? null,
    pairIrrelevanceRate: quality?.kept.pairIrrelevanceRate ?? null,
    generatedPairIrrelevanceRate: quality?.generated.pairIrrelevanceRate ?? null,
    meanSeedSimilarity: quality?.kept.meanSeedSimilarity ?? null,
    randomPairMeanSimilarity: quality?.randomPairs.meanSimilarity ?? null,
    seedLift: seedLift(quality),
    realPairSimilarityThreshold: quality?.irrelevanceThreshold ?? null,
  };
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
      randomPairs: randomPairSimilarity(vectors, Math.min(N, docs.numDocs), threshold, new Rng([opts.seed, 0x7a4d])),
    };
    const mined = readPairsFile(join(stageDir(opts.runDir, opts.pairsStage ?? PAIRS_STAGE), PAIRS_FILE)).pairs;
    if (mined.d1.length > 0) {
      const pick = rng.permutation(mined.d1.length).subarray(0, Math.min(N, mined.d1.length));
      const realPairs: QualityDoc[] = Array.from(pick, (p) => ({ text: seedText(mined.d2[p]!), seed: mined.d1[p]! }));
      const r = await measureQuality(realPairs, { ...common, embed: undefined });
      let sim = 0;
      for (const p of pick) sim += dot(vectors.readRows(mined.d1[p]!, 1), vectors.readRows(mined.d2[p]!, 1));
      report.realPairs = { pairs: realPairs.length, pairCopyingRate: r.pairCopyingRate, meanSimilarity: sim / pick.length };
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

/** Mean cosine and share below `threshold` of `n` random pairs of different stored vectors (unit rows). */
function randomPairSimilarity(vectors: VectorsReader, n: number, threshold: number, rng: Rng): QualityReport['randomPairs'] {
  if (vectors.count < 2 || n === 0) return { pairs: 0, meanSimilarity: null, irrelevanceRate: null };
  let sum = 0;
  let below = 0;
  for (let i = 0; i < n; i++) {
    const a = rng.int(vectors.count);
    const b = (a + 1 + rng.int(vectors.count - 1)) % vectors.count;
    const va = vectors.readRows(a, 1);
    const vb = vectors.readRows(b, 1);
    const d = dot(va, vb);
    sum += d;
    if (d < threshold) below++;
  }
  return { pairs: n, meanSimilarity: sum / n, irrelevanceRate: below / n };
}

function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let k = 0; k < a.length; k++) s += a[k]! * b[k]!;
  return s;
}
