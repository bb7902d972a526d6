import { join } from 'node:path';
import { writeJsonAtomic } from '../common/fs-atomic.js';
import type { TokenizeConfig } from '../config/schema.js';
import { inputHash, runStage, stageDir, type StageResult } from '../stage/stage.js';
import { SHARD_VERSION } from './shard-format.js';
import { tokenizeCorpus, type TokenizeStats } from './tokenize-corpus.js';
import type { StageTestHooks } from '../stage/test-hooks.js';

export interface TokenizeStageOptions {
  runDir: string;
  config: TokenizeConfig;
  threads?: number;
  force?: boolean;
  quiet?: boolean;
  /** Test hooks (failAfterUnits: token shards finished in this attempt) to simulate a kill. */
  testHooks?: StageTestHooks;
}

export const TOKENS_STAGE = 'tokens';

/**
 * The `tokens` stage: corpus/ + tokenizer/ → tokens/{split}-NNNNN.tok, one per corpus shard, plus
 * tokens/stats.json. Skipped when corpus, tokenizer and config are unchanged; resumes per shard.
 */
export async function runTokenizeStage(opts: TokenizeStageOptions): Promise<StageResult<TokenizeStats>> {
  const inputs = {
    corpus: inputHash(opts.runDir, 'corpus', 'sbp prepare'),
    tokenizer: inputHash(opts.runDir, 'tokenizer', 'sbp tokenizer train'),
  };
  return runStage<TokenizeStats>({
    stage: TOKENS_STAGE,
    runDir: opts.runDir,
    // The format version is part of the identity: a newer shard layout redoes the stage.
    config: { ...opts.config, shardVersion: SHARD_VERSION },
    inputs,
    force: opts.force,
    run: async (ctx) => {
      const stats = await tokenizeCorpus({
        corpusDir: stageDir(opts.runDir, 'corpus'),
        tokenizerPath: join(stageDir(opts.runDir, 'tokenizer'), 'tokenizer.json'),
        outDir: ctx.dir,
        splits: opts.config.splits,
        threads: opts.threads,
        tracker: ctx,
        quiet: opts.quiet,
        testHooks: opts.testHooks,
      });
      writeJsonAtomic(join(ctx.dir, 'stats.json'), stats);
      return stats;
    },
  });
}
