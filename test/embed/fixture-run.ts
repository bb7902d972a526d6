import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runStage } from '../../src/stage/stage.js';
import { Tokenizer, trainTokenizer } from '../../src/tokenizer/tokenizer.js';
import { TokenizerConfigSchema } from '../../src/config/schema.js';
import { tempDir } from '../helpers.js';

export interface FixtureDoc {
  id: string;
  text: string;
  meta: Record<string, unknown>;
}

const TOPICS: string[][] = [
  ['bank', 'interest', 'rates', 'inflation', 'bond', 'market', 'loan', 'credit'],
  ['striker', 'goal', 'match', 'football', 'team', 'coach', 'league', 'season'],
  ['leaf', 'sunlight', 'plant', 'photosynthesis', 'water', 'root', 'soil', 'seed'],
  ['compiler', 'function', 'type', 'error', 'parser', 'module', 'code', 'test'],
];
const GLUE = ['the', 'a', 'of', 'and', 'in', 'to', 'with', 'über', '東京'];

/** Deterministic documents: doc j is about topic j % 4, of varied length; doc 5 is a single word. */
export function fixtureDocs(n: number, prefix: string): FixtureDoc[] {
  let state = [...prefix].reduce((a, c) => Math.imul(a ^ c.charCodeAt(0), 16777619) >>> 0, 2166136261);
  const draw = (m: number): number => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return (state >>> 8) % m;
  };
  return Array.from({ length: n }, (_, j) => {
    const topic = TOPICS[j % TOPICS.length]!;
    const len = 8 + draw(180);
    const words = Array.from({ length: len }, (_, k) => (k % 3 === 2 ? GLUE[draw(GLUE.length)]! : topic[draw(topic.length)]!));
    const sep = j % 4 === 3 ? '\n' : ' ';
    return { id: `${prefix}:${j}`, text: j === 5 ? prefix : words.join(sep), meta: { topic: j % TOPICS.length } };
  });
}

/**
 * A run directory holding what `sbp prepare` and `sbp tokenizer train` leave: train/heldout corpus
 * shards with a manifest, and a small trained tokenizer.json with a manifest (through the stage contract).
 */
export async function fixtureRun(opts: { trainDocs?: number[] } = {}): Promise<{ runsDir: string; runDir: string; train: FixtureDoc[]; tokenizer: Tokenizer }> {
  const runsDir = tempDir('sbp-embed-');
  const runDir = join(runsDir, 'fx');
  const sizes = opts.trainDocs ?? [37, 29];
  const shards: Record<string, FixtureDoc[]> = {};
  sizes.forEach((n, s) => (shards[`train-${String(s).padStart(5, '0')}.jsonl`] = fixtureDocs(n, `s${s}`)));
  shards['heldout-00000.jsonl'] = fixtureDocs(5, 'h');
  await runStage({
    stage: 'corpus',
    runDir,
    config: { fixture: sizes },
    run: async (ctx) => {
      mkdirSync(ctx.dir, { recursive: true });
      for (const [name, docs] of Object.entries(shards)) writeFileSync(join(ctx.dir, name), docs.map((d) => JSON.stringify(d) + '\n').join(''));
      return {};
    },
  });
  const train = Object.entries(shards)
    .filter(([name]) => name.startsWith('train'))
    .flatMap(([, d]) => d);
  const tokenizer = await trainTokenizer(
    train.map((d) => d.text),
    TokenizerConfigSchema.parse({ vocabSize: 320, minFrequency: 2 }),
    { threads: 1 },
  );
  await runStage({
    stage: 'tokenizer',
    runDir,
    config: { fixture: 1 },
    run: async (ctx) => {
      tokenizer.save(join(ctx.dir, 'tokenizer.json'));
      return {};
    },
  });
  return { runsDir, runDir, train, tokenizer };
}
