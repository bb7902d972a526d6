import { existsSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import type { PairConfig } from '../config/schema.js';
import { Progress } from '../common/progress.js';
import { writeFileAtomic, writeJsonAtomic } from '../common/fs-atomic.js';
import { readCorpusDocs } from '../data/corpus-reader.js';
import { EMBED_STAGE, VECTORS_FILE } from '../embed/embed-stage.js';
import { VectorsReader } from '../embed/vectors-file.js';
import { inputHash, runStage, type StageContext, type StageResult } from '../stage/stage.js';
import { AnnIndex } from './ann-index.js';
import type { Neighbours } from './neighbours.js';
import { minePairs, type MinerPhase, type PairMinerOptions, type PairStats, type SearchCheckpoint } from './pair-miner.js';
import { writePairsFile } from './pairs-file.js';
import { shouldFailAfter, type StageTestHooks } from '../stage/test-hooks.js';

/**
 * `sbp pair`: mines document pairs from `embed/vectors.bin` (texts from `corpus/train-*.jsonl` for
 * the near-duplicate filter and the examples) into `pairs/`:
 *   pairs.bin      the pairs (see pairs-file.ts)
 *   stats.json     counts, drops by reason, histograms, partners per document, recall, timings
 *   samples.jsonl  example pairs with text excerpts, for the report
 * The index and every search block are saved as they finish, so a killed run resumes from them;
 * both are deleted once the pairs are written.
 */
export const PAIRS_STAGE = 'pairs';
export const PAIRS_FILE = 'pairs.bin';
export const PAIR_STATS_FILE = 'stats.json';
export const PAIR_SAMPLES_FILE = 'samples.jsonl';
const INDEX_FILE = 'index.usearch';
const BLOCKS_DIR = 'blocks';

export interface PairStageOptions {
  runDir: string;
  config: PairConfig;
  /** The stage folder (default `pairs`; an experiment sweep keeps one per α). */
  stage?: string;
  /** Run seed (sampling of recall queries and examples). */
  seed: number;
  threads?: number;
  force?: boolean;
  quiet?: boolean;
  /** Test hooks (failAfterUnits: search blocks searched in this attempt) to simulate a kill. */
  testHooks?: StageTestHooks;
}

export type PairStageStats = PairStats;

/** The config that shapes the pairs (block size and thread count do not change them). */
export function pairIdentity(cfg: PairConfig, seed: number): Record<string, unknown> {
  const { searchBlock: _searchBlock, ...rest } = cfg;
  return { formatVersion: 1, seed, ...rest };
}

export function minerOptions(cfg: PairConfig, seed: number, threads: number): PairMinerOptions {
  return {
    k: cfg.k,
    alpha: cfg.alpha,
    alphaQuantile: cfg.alphaQuantile,
    search: cfg.search,
    ann: { quantization: cfg.quantization, connectivity: cfg.connectivity, expansionAdd: cfg.expansionAdd, expansionSearch: cfg.expansionSearch, parallelBuildFrom: cfg.parallelBuildFrom },
    nearDuplicate: { threshold: cfg.nearDuplicate ? cfg.nearDuplicateJaccard : null, shingleWords: cfg.shingleWords, permutations: cfg.minhashPermutations },
    recallSample: cfg.recallSample,
    samples: cfg.samples,
    seed,
    threads,
    searchBlock: cfg.searchBlock,
  };
}

export async function runPairStage(opts: PairStageOptions): Promise<StageResult<PairStageStats>> {
  const inputs = {
    embed: inputHash(opts.runDir, EMBED_STAGE, 'sbp embed'),
    corpus: inputHash(opts.runDir, 'corpus', 'sbp prepare'),
  };
  const threads = opts.threads ?? availableParallelism();
  return runStage<PairStageStats>({
    stage: opts.stage ?? PAIRS_STAGE,
    runDir: opts.runDir,
    config: pairIdentity(opts.config, opts.seed),
    inputs,
    force: opts.force,
    run: async (ctx) => {
      const vectorsPath = join(opts.runDir, EMBED_STAGE, VECTORS_FILE);
      const reader = VectorsReader.open(vectorsPath);
      let set;
      try {
        set = { ids: reader.ids, dim: reader.dim, vectors: reader.readAll() };
      } finally {
        reader.close();
      }
      const corpusDir = join(opts.runDir, 'corpus');
      const texts = () => readCorpusDocs(corpusDir, 'train');
      const progress = phaseProgress(opts.quiet ?? false);
      const result = await minePairs(set, texts, minerOptions(opts.config, opts.seed, threads), {
        checkpoint: stageCheckpoint(ctx, opts.config.searchBlock, opts.testHooks),
        onProgress: progress.update,
        origin: vectorsPath,
      });
      progress.finish();
      writePairsFile(join(ctx.dir, PAIRS_FILE), { documents: set.ids.length, vectorsChecksum: reader.header.checksum, pairs: result.pairs });
      writeFileAtomic(join(ctx.dir, PAIR_SAMPLES_FILE), result.samples.map((s) => JSON.stringify(s)).join('\n') + (result.samples.length > 0 ? '\n' : ''));
      writeJsonAtomic(join(ctx.dir, PAIR_STATS_FILE), result.stats);
      rmSync(join(ctx.dir, INDEX_FILE), { force: true });
      rmSync(join(ctx.dir, BLOCKS_DIR), { recursive: true, force: true });
      return result.stats;
    },
  });
}

/** Saves the index and each search block into the stage folder, each recorded by a marker. */
function stageCheckpoint(ctx: StageContext, searchBlock: number, testHooks: StageTestHooks | undefined): SearchCheckpoint {
  // Markers name the block size: blocks of another size (a changed searchBlock) are not reused.
  const marker = (b: number) => `block-${searchBlock}-${b}`;
  const indexPath = join(ctx.dir, INDEX_FILE);
  let searched = 0;
  return {
    loadIndex: (dim, params, k) => (ctx.isDone('index') && existsSync(indexPath) ? AnnIndex.load(indexPath, dim, params, k) : undefined),
    saveIndex: (index) => {
      const tmp = `${indexPath}.tmp-${process.pid}`;
      index.save(tmp);
      renameSync(tmp, indexPath);
      ctx.markDone('index');
    },
    loadBlock: (b) => {
      const path = blockPath(ctx.dir, searchBlock, b);
      return ctx.isDone(marker(b)) && existsSync(path) ? decodeBlock(readFileSync(path)) : undefined;
    },
    saveBlock: (b, result) => {
      if (shouldFailAfter(testHooks, searched)) throw new Error(`stopped after ${searched} search block(s) (test hook)`);
      writeFileAtomic(blockPath(ctx.dir, searchBlock, b), encodeBlock(result));
      ctx.markDone(marker(b));
      searched++;
    },
  };
}

function blockPath(dir: string, searchBlock: number, b: number): string {
  return join(dir, BLOCKS_DIR, `block-${searchBlock}-${String(b).padStart(5, '0')}.bin`);
}

/** A search block on disk: u32 queries, u32 k, then rows (queries, k) i32 and sims (queries, k) f32. */
function encodeBlock(nb: Neighbours): Uint8Array {
  const out = Buffer.alloc(8 + nb.rows.byteLength + nb.sims.byteLength);
  out.writeUInt32LE(nb.queries, 0);
  out.writeUInt32LE(nb.k, 4);
  Buffer.from(nb.rows.buffer, nb.rows.byteOffset, nb.rows.byteLength).copy(out, 8);
  Buffer.from(nb.sims.buffer, nb.sims.byteOffset, nb.sims.byteLength).copy(out, 8 + nb.rows.byteLength);
  return out;
}

function decodeBlock(b: Buffer): Neighbours {
  const queries = b.readUInt32LE(0);
  const k = b.readUInt32LE(4);
  const cells = queries * k;
  if (b.length !== 8 + cells * 8) throw new Error(`search block: ${b.length} bytes for ${queries} × ${k}`);
  const copy = new Uint8Array(b.subarray(8)); // aligned
  return { queries, k, rows: new Int32Array(copy.buffer, 0, cells), sims: new Float32Array(copy.buffer, cells * 4, cells) };
}

const PHASE_LABEL: Record<MinerPhase, [string, string]> = {
  index: ['pair: building index', 'docs'],
  search: ['pair: searching', 'docs'],
  recall: ['pair: measuring recall', 'queries'],
  texts: ['pair: reading texts', 'docs'],
};

/** One progress line per phase; a new phase finishes the previous one. */
function phaseProgress(quiet: boolean): { update: (phase: MinerPhase, done: number, total: number) => void; finish: () => void } {
  let current: MinerPhase | undefined;
  let bar: Progress | undefined;
  return {
    update: (phase, done, total) => {
      if (phase !== current) {
        bar?.finish();
        const [label, unit] = PHASE_LABEL[phase];
        bar = new Progress({ label, unit, total, quiet });
        current = phase;
      }
      bar!.set(done);
    },
    finish: () => bar?.finish(),
  };
}
