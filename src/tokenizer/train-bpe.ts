import { UserError } from '../common/errors.js';
import type { TokenizerConfig } from '../config/schema.js';
import { countPieces } from './count-pieces.js';
import { learnMerges, type LearnedMerges } from './learn-merges.js';
import { SPECIAL_TEXT, reservedText } from './special-tokens.js';

export type TrainProgress =
  | { phase: 'count'; bytes: number; docs: number; maxBytes: number }
  | { phase: 'merge'; merges: number; newTokens: number; targetNewTokens: number; topCount: number };

export interface TrainOptions {
  onProgress?: (info: TrainProgress) => void;
  threads?: number; // counting threads; default: all cores
  minCharsForWorkers?: number; // smaller inputs are counted without worker threads
}

export interface TrainStats {
  bytes: number; // UTF-8 bytes of text trained on
  docs: number;
  uniquePieces: number; // distinct pre-tokens
  merges: number;
  newTokens: number; // merged tokens (fewer than merges when two merges give the same bytes)
  countSeconds: number;
  mergeSeconds: number;
}

/** Number of special tokens sbp appends: bos, eos, sep, pad and the reserved ones. */
export function specialCount(cfg: Pick<TokenizerConfig, 'reservedTokens'>): number {
  return 4 + cfg.reservedTokens;
}

/**
 * Trains byte-level BPE: counts the pre-tokens of up to cfg.maxTrainBytes of text (in worker
 * threads when the input is large), then learns merges until 256 bytes + merged tokens +
 * specials reach cfg.vocabSize, or no pair occurs cfg.minFrequency times.
 */
export async function trainBpe(
  texts: Iterable<string> | AsyncIterable<string>,
  cfg: TokenizerConfig,
  opts: TrainOptions = {},
): Promise<{ learned: LearnedMerges; stats: TrainStats }> {
  const targetNewTokens = cfg.vocabSize - 256 - specialCount(cfg);
  if (targetNewTokens < 0) {
    throw new UserError(`tokenizer.vocabSize ${cfg.vocabSize} is too small: it must hold 256 byte tokens and ${specialCount(cfg)} special tokens (set it to at least ${256 + specialCount(cfg)})`);
  }
  const t0 = performance.now();
  const counted = await countPieces(texts, {
    maxBytes: cfg.maxTrainBytes,
    threads: opts.threads,
    minCharsForWorkers: opts.minCharsForWorkers,
    onProgress: opts.onProgress && ((p) => opts.onProgress!({ phase: 'count', ...p, maxBytes: cfg.maxTrainBytes })),
  });
  const t1 = performance.now();
  const utf8 = new TextEncoder();
  const words = counted.pieces.map((p) => utf8.encode(p));
  const forbidden = new Set<string>();
  for (const t of [...Object.values(SPECIAL_TEXT), ...Array.from({ length: cfg.reservedTokens }, (_, i) => reservedText(i))]) {
    forbidden.add(Buffer.from(t, 'utf8').toString('latin1'));
  }
  const learned = learnMerges(
    words,
    counted.counts,
    targetNewTokens,
    cfg.minFrequency,
    forbidden,
    opts.onProgress && ((p) => opts.onProgress!({ phase: 'merge', ...p })),
  );
  const t2 = performance.now();
  return {
    learned,
    stats: {
      bytes: counted.bytes,
      docs: counted.docs,
      uniquePieces: words.length,
      merges: learned.left.length,
      newTokens: learned.tokens.length - 256,
      countSeconds: (t1 - t0) / 1000,
      mergeSeconds: (t2 - t1) / 1000,
    },
  };
}
