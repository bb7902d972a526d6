import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, writeFileSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { runStage } from '../../src/stage/stage.js';
import { Tokenizer, trainTokenizer } from '../../src/tokenizer/tokenizer.js';
import { TokenizerConfigSchema } from '../../src/config/schema.js';
import { tokenizeShard, type TokenEncoder } from '../../src/tokens/tokenize-shard.js';
import { tokenizeCorpus } from '../../src/tokens/tokenize-corpus.js';
import { TokenShardReader } from '../../src/tokens/shard-reader.js';
import { TokenDataset } from '../../src/tokens/token-dataset.js';
import { UserError } from '../../src/common/errors.js';
import { tempDir, runCli } from '../helpers.js';

type Doc = { id: string; text: string; meta: Record<string, unknown> };

const WORDS = ['pair', 'mining', 'synthetic', 'corpus', 'token', 'shard', 'the', 'of', 'a', 'bootstrapped', 'pretraining', 'über', 'naïve', '東京', '🙂'];

/** Deterministic documents of varied length and script; one is empty, to check it is kept. */
function fixtureDocs(n: number, prefix: string): Doc[] {
  return Array.from({ length: n }, (_, i) => {
    const len = i === 3 ? 0 : 5 + ((i * 37) % 60);
    const text = Array.from({ length: len }, (_, k) => WORDS[(i * 7 + k * 13) % WORDS.length]).join(k(i));
    return { id: `${prefix}:${i}`, text, meta: { i } };
  });
}
function k(i: number): string {
  return i % 4 === 0 ? '\n' : ' ';
}

function writeCorpusShard(dir: string, name: string, docs: Doc[]): string {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, name);
  writeFileSync(path, docs.map((d) => JSON.stringify(d) + '\n').join(''));
  return path;
}

/**
 * A run directory holding what `sbp prepare` and `sbp tokenizer train` leave: corpus shards with a
 * manifest, and a small trained tokenizer.json with a manifest (written through the stage contract).
 */
async function fixtureRun(): Promise<{ runsDir: string; runDir: string; docs: Record<string, Doc[]>; tokenizer: Tokenizer }> {
  const runsDir = tempDir();
  const runDir = join(runsDir, 'fx');
  const docs: Record<string, Doc[]> = {
    'train-00000.jsonl': fixtureDocs(40, 'a'),
    'train-00001.jsonl': fixtureDocs(25, 'b'),
    'train-00002.jsonl': fixtureDocs(31, 'c'),
    'heldout-00000.jsonl': fixtureDocs(9, 'h'),
  };
  await runStage({
    stage: 'corpus',
    runDir,
    config: { fixture: 1 },
    run: async (ctx) => {
      for (const [name, d] of Object.entries(docs)) writeCorpusShard(ctx.dir, name, d);
      return {};
    },
  });
  const tokenizer = await trainTokenizer(Object.values(docs).flat().map((d) => d.text), TokenizerConfigSchema.parse({ vocabSize: 300, minFrequency: 2 }), { threads: 1 });
  await runStage({
    stage: 'tokenizer',
    runDir,
    config: { fixture: 1 },
    run: async (ctx) => {
      tokenizer.save(join(ctx.dir, 'tokenizer.json'));
      return {};
    },
  });
  return { runsDir, runDir, docs, tokenizer };
}

/** UTF-8 bytes as ids: a trivial encoder independent of the BPE code. */
const byteEncoder: TokenEncoder = { vocabSize: 256, encode: (text) => Buffer.from(text, 'utf8') };

test('tokenizeShard keeps document order, ids and empty documents', async () => {
  const dir = tempDir();
  const docs = fixtureDocs(12, 'x');
  const input = writeCorpusShard(dir, 'train-00000.jsonl', docs);
  const out = join(dir, 'train-00000.tok');
  const stats = await tokenizeShard(input, out, byteEncoder);
  const r = TokenShardReader.open(out);
  assert.equal(r.numDocs, docs.length);
  docs.forEach((d, i) => {
    assert.deepEqual(Buffer.from(r.doc(i)).toString('utf8'), d.text);
    assert.equal(r.docId(i), d.id);
  });
  r.close();
  const bytes = docs.reduce((s, d) => s + Buffer.byteLength(d.text), 0);
  assert.deepEqual({ docs: stats.docs, tokens: stats.tokens, bytes: stats.bytes, emptyDocs: stats.emptyDocs, dtype: stats.dtype }, { docs: 12, tokens: bytes, bytes, emptyDocs: 1, dtype: 'u16' });
  assert.equal(stats.fileBytes, statSync(out).size);
});

test('a damaged corpus line fails naming file:line, and leaves no token shard', async () => {
  const dir = tempDir();
  const input = writeCorpusShard(dir, 'train-00000.jsonl', fixtureDocs(3, 'x'));
  writeFileSync(input, readFileSync(input, 'utf8') + '{"id": "broken", "text": 5, "meta": {}}\n');
  const out = join(dir, 'train-00000.tok');
  await assert.rejects(tokenizeShard(input, out, byteEncoder), (e: unknown) => e instanceof UserError && /train-00000\.jsonl:4: "text" must be a string/.test((e as Error).message));
  assert.deepEqual(readdirSync(dir), ['train-00000.jsonl']);
});

test('tokenizeCorpus: every document equals the tokenizer\'s encoding, and 1 or 2 threads write identical shards', async () => {
  const fx = await fixtureRun();
  const corpusDir = join(fx.runDir, 'corpus');
  const tokenizerPath = join(fx.runDir, 'tokenizer', 'tokenizer.json');
  const one = join(tempDir(), 'tokens');
  const two = join(tempDir(), 'tokens');
  const s1 = await tokenizeCorpus({ corpusDir, tokenizerPath, outDir: one, splits: ['train', 'heldout'], threads: 1, quiet: true });
  const s2 = await tokenizeCorpus({ corpusDir, tokenizerPath, outDir: two, splits: ['train', 'heldout'], threads: 2, quiet: true });
  assert.equal(s2.threads, 2);
  const auto = await tokenizeCorpus({ corpusDir, tokenizerPath, outDir: join(tempDir(), 'tokens'), splits: ['train'], quiet: true });
  assert.equal(auto.threads, 1, 'a corpus far below 4 MiB is not worth starting workers for');
  assert.deepEqual({ ...s1, threads: 0 }, { ...s2, threads: 0 });
  const names = readdirSync(one).sort();
  assert.deepEqual(names, ['heldout-00000.tok', 'train-00000.tok', 'train-00001.tok', 'train-00002.tok']);
  for (const n of names) assert.ok(readFileSync(join(one, n)).equals(readFileSync(join(two, n))), `${n} differs between 1 and 2 threads`);

  const ds = TokenDataset.open(two, 'train');
  const trainDocs = ['train-00000.jsonl', 'train-00001.jsonl', 'train-00002.jsonl'].flatMap((n) => fx.docs[n]!);
  assert.equal(ds.numDocs, trainDocs.length);
  assert.equal(ds.vocabSize, fx.tokenizer.vocabSize);
  trainDocs.forEach((d, i) => {
    assert.deepEqual(Array.from(ds.doc(i)), Array.from(fx.tokenizer.encode(d.text)), `doc ${d.id}`);
    assert.equal(ds.docId(i), d.id);
  });
  assert.equal(s1.splits.train!.tokens, ds.numTokens);
  assert.equal(s1.splits.train!.docs, trainDocs.length);
  assert.equal(s1.splits.train!.bytes, trainDocs.reduce((s, d) => s + Buffer.byteLength(d.text), 0));
  assert.equal(s1.splits.train!.emptyDocs, 3);
  assert.equal(s1.dtype, 'u16');
  ds.close();
});

test('a broken tokenizer or a bad corpus line inside a worker surfaces as a UserError', async () => {
  const fx = await fixtureRun();
  const corpusDir = join(fx.runDir, 'corpus');
  const bad = join(tempDir(), 'tokenizer.json');
  writeFileSync(bad, '{"model": ');
  await assert.rejects(tokenizeCorpus({ corpusDir, tokenizerPath: bad, outDir: tempDir(), splits: ['train'], quiet: true }), (e: unknown) => e instanceof UserError && /not valid JSON/.test((e as Error).message));
  writeFileSync(join(corpusDir, 'train-00001.jsonl'), 'not json\n');
  await assert.rejects(
    tokenizeCorpus({ corpusDir, tokenizerPath: join(fx.runDir, 'tokenizer', 'tokenizer.json'), outDir: tempDir(), splits: ['train'], threads: 2, quiet: true }),
    (e: unknown) => e instanceof UserError && /train-00001\.jsonl:1: not a valid UTF-8 JSON line/.test((e as Error).message),
  );
});

function shardBytes(dir: string): Record<string, string> {
  return Object.fromEntries(readdirSync(dir).filter((n) => n.endsWith('.tok')).sort().map((n) => [n, readFileSync(join(dir, n)).toString('base64')]));
}

test('sbp tokenize: end to end, skipped when up to date, and an interrupted run resumes to identical shards', async () => {
  const fx = await fixtureRun();
  const args = ['tokenize', '--runs-dir', fx.runsDir, '--run', 'fx', '--quiet'];
  const tokensDir = join(fx.runDir, 'tokens');

  // Interrupted after the first finished shard (test-only fault hook), on 2 threads.
  const cut = runCli([...args, '--threads', '2'], { env: { SBP_TOKENIZE_FAIL_AFTER_SHARDS: '1' } });
  assert.notEqual(cut.status, 0, 'the injected fault stops the stage');
  assert.match(cut.stderr, /fault injected after 1 token shard/);
  assert.ok(!existsSync(join(tokensDir, 'manifest.json')));
  const doneBefore = readdirSync(join(tokensDir, '.done'));
  assert.equal(doneBefore.length, 1);
  const keptShard = join(tokensDir, doneBefore[0]!);
  const keptMtime = statSync(keptShard).mtimeMs;

  const resumed = runCli(args);
  assert.equal(resumed.status, 0, resumed.stderr);
  assert.match(resumed.stdout, /3 shard\(s\) written, 1 kept from an interrupted run/);
  assert.equal(statSync(keptShard).mtimeMs, keptMtime, 'the finished shard is not rewritten');
  assert.deepEqual(readdirSync(tokensDir).filter((n) => n.endsWith('.tmp')), [], 'no partial files remain');

  const stats = JSON.parse(readFileSync(join(tokensDir, 'stats.json'), 'utf8'));
  const manifest = JSON.parse(readFileSync(join(tokensDir, 'manifest.json'), 'utf8'));
  assert.equal(manifest.stage, 'tokens');
  assert.deepEqual(Object.keys(manifest.inputHashes).sort(), ['corpus', 'tokenizer']);
  assert.deepEqual(manifest.stats.splits, stats.splits);
  assert.equal(stats.splits.train.docs, 96);
  assert.equal(stats.splits.heldout.docs, 9);
  assert.equal(stats.dtype, 'u16');
  assert.ok(stats.splits.train.tokensPerByte > 0 && stats.splits.train.tokensPerByte < 1);

  // A clean run of the same work elsewhere writes the same bytes.
  const clean = await fixtureRun();
  const full = runCli(['tokenize', '--runs-dir', clean.runsDir, '--run', 'fx', '--quiet', '--threads', '1']);
  assert.equal(full.status, 0, full.stderr);
  assert.deepEqual(shardBytes(tokensDir), shardBytes(join(clean.runDir, 'tokens')));

  const again = runCli(args);
  assert.equal(again.status, 0, again.stderr);
  assert.match(again.stdout, /already tokenized/);
});

test('sbp tokenize without a corpus says which command to run', () => {
  const runsDir = tempDir();
  mkdirSync(join(runsDir, 'empty')); // a run folder without a corpus (a run that is never started is its own error)
  const r = runCli(['tokenize', '--runs-dir', runsDir, '--run', 'empty', '--quiet']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /corpus has no manifest\.json: .*Run `sbp prepare` first/);
});
