import { join } from 'node:path';
import { writeJsonAtomic } from '../common/fs-atomic.js';
import { Progress } from '../common/progress.js';
import type { TokenizerConfig } from '../config/schema.js';
import { readCorpusDocs } from '../data/corpus-reader.js';
import { inputHash, runStage, stageDir, type StageResult } from '../stage/stage.js';
import { trainTokenizerWithStats, type TrainProgress } from './tokenizer.js';

export const TOKENIZER_STAGE = 'tokenizer';

/** Held-out text measured for bytes/token: enough for a stable figure, bounded in time. */
const HELDOUT_MAX_BYTES = 32_000_000;

export interface TokenizerStageStats {
  vocabSize: number; // including special tokens
  specialTokens: { bos: number; eos: number; sep: number; pad: number; reserved: number[] };
  bytesTrained: number; // UTF-8 bytes of train-split text used
  docsTrained: number;
  uniquePieces: number; // distinct pre-tokens in that text
  merges: number;
  trainSeconds: number; // counting + merging
  heldout: { docs: number; bytes: number; tokens: number; bytesPerToken: number | null };
}

export interface TokenizerStageOptions {
  runDir: string;
  config: TokenizerConfig;
  threads?: number;
  force?: boolean;
  quiet?: boolean;
}

/**
 * The `tokenizer` stage: corpus/train-*.jsonl → tokenizer/tokenizer.json (Hugging Face format),
 * tokenizer/stats.json and the manifest. Skipped when the corpus and config are unchanged.
 */
export async function runTokenizerStage(opts: TokenizerStageOptions): Promise<StageResult<TokenizerStageStats>> {
  const corpusDir = stageDir(opts.runDir, 'corpus');
  return runStage<TokenizerStageStats>({
    stage: TOKENIZER_STAGE,
    runDir: opts.runDir,
    config: opts.config,
    inputs: { corpus: inputHash(opts.runDir, 'corpus', 'sbp prepare') },
    force: opts.force,
    run: async (ctx) => {
      const counting = new Progress({ label: 'tokenizer: reading', unit: 'B', quiet: opts.quiet });
      const merging = new Progress({ label: 'tokenizer: merging', unit: 'merges', quiet: opts.quiet });
      const onProgress = (p: TrainProgress): void => {
        if (p.phase === 'count') counting.set(p.bytes);
        else {
          merging.setTotal(p.targetNewTokens);
          merging.set(p.newTokens);
        }
      };
      const texts = mapDocs(readCorpusDocs(corpusDir, 'train'));
      const { tokenizer, stats } = await trainTokenizerWithStats(texts, opts.config, { onProgress, threads: opts.threads });
      counting.finish();
      merging.set(stats.newTokens);
      merging.finish();
      tokenizer.save(join(ctx.dir, 'tokenizer.json'));

      const heldout = { docs: 0, bytes: 0, tokens: 0, bytesPerToken: null as number | null };
      for await (const text of mapDocs(readCorpusDocs(corpusDir, 'heldout'))) {
        if (heldout.bytes >= HELDOUT_MAX_BYTES) break;
        heldout.docs++;
        heldout.bytes += Buffer.byteLength(text, 'utf8');
        heldout.tokens += tokenizer.encode(text).length;
      }
      if (heldout.tokens > 0) heldout.bytesPerToken = heldout.bytes / heldout.tokens;

      const result: TokenizerStageStats = {
        vocabSize: tokenizer.vocabSize,
        specialTokens: tokenizer.special,
        bytesTrained: stats.bytes,
        docsTrained: stats.docs,
        uniquePieces: stats.uniquePieces,
        merges: stats.merges,
        trainSeconds: stats.countSeconds + stats.mergeSeconds,
        heldout,
      };
      writeJsonAtomic(join(ctx.dir, 'stats.json'), result);
      return result;
    },
  });
}

async function* mapDocs(docs: AsyncIterable<{ text: string }>): AsyncGenerator<string> {
  for await (const d of docs) yield d.text;
}
