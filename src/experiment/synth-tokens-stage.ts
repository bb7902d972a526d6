import { join } from 'node:path';
import { writeJsonAtomic } from '../common/fs-atomic.js';
import { SHARD_VERSION } from '../tokens/shard-format.js';
import { tokenizeCorpus, type TokenizeStats } from '../tokens/tokenize-corpus.js';
import { SYNTH_TOKENS_STAGE } from './arm-train-stage.js';
import { inputHash, runStage, stageDir, type StageResult } from '../stage/stage.js';

/**
 * `synth/ → synth-tokens/`: the kept synthetic documents (`synth/train-NNNNN.jsonl`, the corpus
 * shard format) as token shards under the run's tokenizer, one per synthetic shard, resumable per
 * shard like the tokens stage.
 */
export async function runSynthTokensStage(opts: {
  runDir: string;
  /** Its folder and the synthesis folder it reads (defaults `synth-tokens`, `synth`; a sweep has one pair per α). */
  stage?: string;
  synthStage?: string;
  threads?: number;
  force?: boolean;
  quiet?: boolean;
}): Promise<StageResult<TokenizeStats>> {
  const synthStage = opts.synthStage ?? 'synth';
  return runStage<TokenizeStats>({
    stage: opts.stage ?? SYNTH_TOKENS_STAGE,
    runDir: opts.runDir,
    config: { shardVersion: SHARD_VERSION },
    inputs: {
      synth: inputHash(opts.runDir, synthStage, 'sbp synthesize'),
      tokenizer: inputHash(opts.runDir, 'tokenizer', 'sbp tokenizer train'),
    },
    force: opts.force,
    run: async (ctx) => {
      const stats = await tokenizeCorpus({
        corpusDir: stageDir(opts.runDir, synthStage),
        tokenizerPath: join(stageDir(opts.runDir, 'tokenizer'), 'tokenizer.json'),
        outDir: ctx.dir,
        splits: ['train'],
        threads: opts.threads,
        tracker: ctx,
        quiet: opts.quiet,
      });
      writeJsonAtomic(join(ctx.dir, 'stats.json'), stats);
      return stats;
    },
  });
}
