import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The experiment at a toy size for tests: a ~20k-parameter model on a generated corpus of short
 * documents on a few topics; one run of the whole graph takes seconds.
 */
const TOPICS = [
  'river boat water bank fish current bridge flood stream shore',
  'garden flower seed soil rain root leaf spring bloom green',
  'music song piano rhythm note choir melody band drum tune',
  'market price trade money bank coin sell buy merchant goods',
  'school teacher lesson book pupil class chalk exam reading desk',
  'winter snow ice cold frost sled fire coat storm white',
];
const GLUE = 'the a of and to in was with on for at by from that it'.split(' ');

export function writeToyCorpus(path: string): void {
  let x = 12345;
  const rand = (n: number) => ((x = (Math.imul(x, 1103515245) + 12345) >>> 0) >>> 8) % n;
  const lines: string[] = [];
  for (let d = 0; d < 160; d++) {
    const topic = TOPICS[d % TOPICS.length]!.split(' ');
    const words: string[] = [];
    const n = 30 + rand(40);
    for (let i = 0; i < n; i++) words.push(i % 2 === 0 ? topic[rand(topic.length)]! : GLUE[rand(GLUE.length)]!);
    lines.push(JSON.stringify({ id: `doc-${d}`, text: `${words.join(' ')}.` }));
  }
  writeFileSync(path, `${lines.join('\n')}\n`);
}

/**
 * Writes the corpus and a config file of the toy experiment into `dir`; `experiment` fields are merged
 * over the toy's. The toy is the plain three-arm experiment: no controls and no baseline search unless
 * `experiment` asks for them.
 */
export function writeToyConfig(dir: string, experiment: Record<string, unknown> = {}): string {
  const corpus = join(dir, 'corpus.jsonl');
  writeToyCorpus(corpus);
  const cfg = {
    name: 'toy',
    runsDir: join(dir, 'runs'),
    seed: 7,
    threads: 1,
    prepare: { sources: [{ kind: 'jsonl', path: corpus }], minChars: 20, heldOutFraction: 0.1, docsPerShard: 40 },
    tokenizer: { vocabSize: 300 },
    experiment: { uniqueTokens: 1500, budgetTokens: 3072, syntheticShare: 0.375, oracleFactor: 20, probeSteps: 0, controls: [], baselineSearch: { weightDecay: [] }, ...experiment },
    model: { preset: 'tiny', hiddenSize: 32, numLayers: 1, numHeads: 2, numKVHeads: 1, headDim: 16, intermediateSize: 64, maxSeqLen: 64 },
    train: { batchSize: 4, seqLen: 32, evalEvery: 0, evalTokens: 256, checkpointEvery: 4 },
    embed: { embedder: 'lm', maxTokens: 32 },
    pair: { k: 3, search: 'exact', alphaQuantile: 0.5, recallSample: 0, samples: 4 },
    tune: { batchSize: 4, seqLen: 32, steps: 8, evalEvery: 0, evalPairs: 8, checkpointEvery: 4 },
    synthesize: { seedsPerShard: 16, batchSize: 16, filters: { minTokens: 4, cutOff: 'keep' }, quality: { samples: 20 } },
    eval: { maxDocs: 20, cloze: { passages: 10, minContextWords: 5 }, bootstrap: { samples: 50 } },
  };
  const path = join(dir, 'toy.json');
  writeFileSync(path, JSON.stringify(cfg, null, 2));
  return path;
}
