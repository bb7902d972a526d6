import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RunConfigSchema, type RunConfig } from '../../src/config/schema.js';
import { runEmbedStage } from '../../src/embed/embed-stage.js';
import { openBackend } from '../../src/engine/open-backend.js';
import { runStage } from '../../src/stage/stage.js';
import { runPairStage } from '../../src/pairs/pair-stage.js';
import { trainTokenizer } from '../../src/tokenizer/tokenizer.js';
import { runTokenizeStage } from '../../src/tokens/tokenize-stage.js';
import { runTrainStage } from '../../src/train/train-stage.js';
import { tempDir } from '../helpers.js';
import { brownTexts } from '../train/fixture-run.js';

export interface SynthFixture {
  runsDir: string;
  runDir: string;
  cfg: RunConfig;
  texts: string[]; // train documents in corpus order
}

/** Brown samples cut into documents of ~`words` words: consecutive pieces of one sample share a topic (so they pair). */
export function brownPieces(files: number, piecesPerFile: number, words: number, skip = 0): string[] {
  const out: string[] = [];
  for (const t of brownTexts(files, skip)) {
    const w = t.split(/\s+/).filter((x) => x.length > 0);
    for (let p = 0; p < piecesPerFile && (p + 1) * words <= w.length; p++) out.push(w.slice(p * words, (p + 1) * words).join(' '));
  }
  return out;
}

/** Flags and config of the fixture's tiny model (~30k parameters, context 64). */
export const TINY_MODEL = { hiddenSize: 32, numLayers: 2, numHeads: 4, numKVHeads: 2, headDim: 8, intermediateSize: 64, maxSeqLen: 64 };

/**
 * A real, tiny run directory through every stage before `tune`, built with the library: 120 pieces of
 * 12 Brown samples (60 words each) as the corpus, a 384-token BPE, a baseline LM trained 30 steps,
 * hash embeddings, and pairs by exact search (each document with its 3 nearest, above the median).
 */
export async function synthFixtureRun(): Promise<SynthFixture> {
  const runsDir = tempDir('sbp-synth-');
  const runDir = join(runsDir, 'fx');
  const texts = brownPieces(12, 10, 60);
  const heldout = brownPieces(2, 2, 60, 400);
  const cfg = RunConfigSchema.parse({
    name: 'fx',
    runsDir,
    seed: 7,
    threads: 1,
    model: TINY_MODEL,
    train: { backend: 'auto', batchSize: 8, seqLen: 32, steps: 30, lr: 0.01, evalTokens: 256, evalEvery: 0, checkpointEvery: 0, warmupFraction: 0.1 },
    embed: { embedder: 'hash', hash: { dim: 256, ngram: 1, idfBuckets: 1 << 12 } },
    pair: { search: 'exact', k: 3, alphaQuantile: 0.5, recallSample: 0, samples: 0 },
    tune: { backend: 'auto', batchSize: 4, seqLen: 48, steps: 24, lr: 0.005, evalEvery: 0, checkpointEvery: 0, heldoutFraction: 0.15, evalPairs: 32 },
    synthesize: { backend: 'auto', targetTokens: 300, seedsPerShard: 8, maxTokens: 24, filters: { minTokens: 4 }, quality: { samples: 40 } },
  });
  await runStage({
    stage: 'corpus',
    runDir,
    config: { fixture: 'synth' },
    run: async (ctx) => {
      const line = (id: string, text: string) => JSON.stringify({ id, text, meta: { source: 'brown' } }) + '\n';
      writeFileSync(join(ctx.dir, 'train-00000.jsonl'), texts.slice(0, 60).map((t, i) => line(`b:${i}`, t)).join(''));
      writeFileSync(join(ctx.dir, 'train-00001.jsonl'), texts.slice(60).map((t, i) => line(`b:${i + 60}`, t)).join(''));
      writeFileSync(join(ctx.dir, 'heldout-00000.jsonl'), heldout.map((t, i) => line(`h:${i}`, t)).join(''));
      return {};
    },
  });
  const tokenizer = await trainTokenizer(texts, { vocabSize: 384, minFrequency: 2, maxTrainBytes: 1e8, reservedTokens: 0 }, { threads: 1 });
  await runStage({
    stage: 'tokenizer',
    runDir,
    config: { fixture: 'synth' },
    run: async (ctx) => {
      tokenizer.save(join(ctx.dir, 'tokenizer.json'));
      return {};
    },
  });
  await runTokenizeStage({ runDir, config: cfg.tokenize, threads: 1, quiet: true });
  await runTrainStage({ cfg, runDir, modelName: 'baseline', createBackend: (kind, threads) => openBackend(kind, threads), quiet: true, log: () => {} });
  await runEmbedStage({ runDir, config: cfg.embed, quiet: true, threads: 1 });
  await runPairStage({ runDir, config: cfg.pair, seed: cfg.seed, threads: 1, quiet: true });
  return { runsDir, runDir, cfg, texts };
}
