import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { UserError } from '../common/errors.js';
import { writeJsonAtomic } from '../common/fs-atomic.js';
import { hashValue } from '../common/hash.js';
import { Progress } from '../common/progress.js';
import type { PrepareConfig } from '../config/schema.js';
import { runStage } from '../stage/stage.js';
import { corpusPipeline } from './corpus-pipeline.js';
import { newCorpusStats, type CorpusStats } from './corpus-stats.js';
import { ShardWriter } from './shard-writer.js';
import { sourceFingerprint } from './source-registry.js';
import type { StageTestHooks } from '../stage/test-hooks.js';

export const CORPUS_STAGE = 'corpus';

export interface PrepareCorpusOptions {
  /** The run directory; the corpus goes to `<runDir>/corpus/`. */
  runDir: string;
  config: PrepareConfig;
  /** Redo the stage even when its manifest matches. */
  force?: boolean;
  /** Parallel work inside sources (man-page renders); default: all cores. Does not change the output. */
  concurrency?: number;
  /** No progress line. */
  quiet?: boolean;
  /** Where warnings go (malformed records, ...); default stderr. */
  warn?: (message: string) => void;
  /** Test hooks (afterUnit: after each finished shard) to simulate an interruption. */
  testHooks?: StageTestHooks;
}

export interface PrepareCorpusResult {
  dir: string;
  /** True when a finished corpus with the same config and inputs was already there. */
  skipped: boolean;
  stats: CorpusStats;
  /** Shards this call wrote, and shards it kept from an interrupted earlier attempt. */
  shardsWritten: string[];
  shardsReused: string[];
}

/**
 * The `corpus` stage (`sbp prepare`): streams the configured sources through the corpus pipeline
 * into `train-NNNNN.jsonl` / `heldout-NNNNN.jsonl` shards, then writes `stats.json`; `manifest.json`
 * comes last (stage contract). Rerunning an interrupted run resumes from the finished shards.
 */
export async function prepareCorpus(opts: PrepareCorpusOptions): Promise<PrepareCorpusResult> {
  const config = opts.config;
  const warn = opts.warn ?? ((m: string) => process.stderr.write(`sbp prepare: ${m}\n`));
  const shardsWritten: string[] = [];
  const shardsReused: string[] = [];
  const result = await runStage<CorpusStats>({
    stage: CORPUS_STAGE,
    runDir: opts.runDir,
    config,
    inputs: { sources: hashValue(config.sources.map(sourceFingerprint)) },
    force: opts.force,
    run: async (ctx) => {
      const stats = newCorpusStats();
      const writers = {
        train: new ShardWriter(ctx, 'train', config.docsPerShard, opts.testHooks?.afterUnit),
        heldout: new ShardWriter(ctx, 'heldout', config.docsPerShard, opts.testHooks?.afterUnit),
      };
      const progress = new Progress({ label: 'prepare', unit: 'docs', quiet: opts.quiet });
      const pipeline = corpusPipeline({
        config,
        stats,
        concurrency: opts.concurrency ?? availableParallelism(),
        warn,
        onRecord: () => progress.add(1),
      });
      try {
        for await (const { doc, split, chars } of pipeline) {
          writers[split].add(JSON.stringify({ id: doc.id, text: doc.text, meta: doc.meta }), chars);
          if ((stats.docsOut & 1023) === 0) progress.add(0, `kept ${stats.docsOut}`);
        }
        writers.train.finish();
        writers.heldout.finish();
      } finally {
        writers.train.abort();
        writers.heldout.abort();
      }
      progress.finish(`kept ${stats.docsOut}`);
      if (stats.docsOut === 0) {
        const drops = Object.entries(stats.drops).filter(([, n]) => n > 0).map(([r, n]) => `${r} ${n}`).join(', ');
        throw new UserError(`no document survived the filters (${stats.docsIn} read; dropped: ${drops}); check prepare.minChars (${config.minChars}) and prepare.maxChars (${config.maxChars})`);
      }
      for (const w of [writers.train, writers.heldout]) {
        shardsWritten.push(...w.written);
        shardsReused.push(...w.reused);
      }
      stats.splits.train.shards = writers.train.shardCount;
      stats.splits.heldout.shards = writers.heldout.shardCount;
      writeJsonAtomic(join(ctx.dir, 'stats.json'), stats);
      return stats;
    },
  });
  return { dir: join(opts.runDir, CORPUS_STAGE), skipped: result.skipped, stats: result.manifest.stats, shardsWritten, shardsReused };
}
