import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { EmbedConfigSchema, type EmbedConfig } from '../../src/config/schema.js';
import { runEmbedStage, type EmbedStats } from '../../src/embed/embed-stage.js';
import { readVectorsFile } from '../../src/embed/vectors-file.js';
import { documentPrefix } from '../../src/embed/document-prefix.js';
import { HashEmbedder } from '../../src/embed/hash-embedder.js';
import { dotRows, normalizeRows } from '../../src/embed/embedder.js';
import { StageMissingError } from '../../src/stage/stage.js';
import { fixtureRun } from './fixture-run.js';
import { serverVector, startEmbeddingServer, SERVER_DIM } from './embedding-server.js';
import { tempDir } from '../helpers.js';

const cfg = (over: Record<string, unknown>): EmbedConfig => EmbedConfigSchema.parse(over);

test('document prefix: first N tokens equal those of encoding the whole text', async () => {
  const { tokenizer, train } = await fixtureRun({ trainDocs: [12] });
  const long = train.map((d) => d.text).join(' \n ').repeat(3);
  for (const text of [...train.map((d) => d.text), long, 'short', '', 'x'.repeat(5000), 'word '.repeat(2000)]) {
    const whole = tokenizer.encode(text);
    for (const n of [1, 16, 100]) {
      const p = documentPrefix(tokenizer, text, n);
      assert.deepEqual([...p.tokens], [...whole.subarray(0, n)], `n=${n} text=${JSON.stringify(text.slice(0, 30))}`);
      assert.equal(p.truncated, whole.length > n);
      assert.equal(p.text, p.truncated ? tokenizer.decode(whole.subarray(0, n)) : text);
    }
  }
});

test('embed stage (hash): one unit row per train doc in corpus order, ids kept, stats; rerun is skipped', async () => {
  const { runDir, train, tokenizer } = await fixtureRun();
  const config = cfg({ embedder: 'hash', maxTokens: 40, docsPerShard: 16, dtype: 'f32', hash: { dim: 64, idfBuckets: 1024 } });
  const r = await runEmbedStage({ runDir, config, quiet: true });
  assert.equal(r.skipped, false);
  const v = readVectorsFile(join(runDir, 'embed', 'vectors.bin'));
  assert.deepEqual(v.ids, train.map((d) => d.id));
  assert.equal(v.dim, 64);

  // Independent recomputation: the same embedder fitted on the same prefixes, normalised by hand.
  const prefixes = train.map((d) => documentPrefix(tokenizer, d.text, 40));
  const e = new HashEmbedder({ dim: 64, ngram: 2, idfBuckets: 1024 });
  e.setFrequencies(e.fit(prefixes.map((p) => p.text)));
  const want = await e.embed(prefixes);
  normalizeRows(want, 64);
  for (let i = 0; i < want.length; i++) assert.ok(Math.abs(v.rows[i]! - want[i]!) < 1e-6);
  for (let i = 0; i < train.length; i++) assert.ok(Math.abs(dotRows(v.rows, i, v.rows, i, 64) - 1) < 1e-5, `row ${i} is not unit length`);

  const s = r.manifest.stats;
  assert.equal(s.docs, train.length);
  assert.equal(s.shards, Math.ceil(train.length / 16));
  assert.equal(s.tokens, prefixes.reduce((n, p) => n + p.tokens.length, 0));
  assert.equal(s.truncatedDocs, prefixes.filter((p) => p.truncated).length);
  assert.ok(s.truncatedDocs > 0 && s.truncatedDocs < train.length);
  assert.deepEqual(JSON.parse(readFileSync(join(runDir, 'embed', 'stats.json'), 'utf8')), s);
  assert.ok(existsSync(join(runDir, 'embed', 'hash-df.bin')));

  const again = await runEmbedStage({ runDir, config, quiet: true });
  assert.equal(again.skipped, true);
  const f16 = await runEmbedStage({ runDir, config: { ...config, dtype: 'f16' }, quiet: true });
  assert.equal(f16.skipped, false);
  const h = readVectorsFile(join(runDir, 'embed', 'vectors.bin'));
  assert.equal(h.dtype, 'f16');
  for (let i = 0; i < want.length; i++) assert.ok(Math.abs(h.rows[i]! - want[i]!) < 2 ** -11);
});

test('embed stage (http): a run that dies mid-way resumes without re-sending finished shards', async () => {
  const { runDir, train, tokenizer } = await fixtureRun();
  let broken = true;
  // Dies (a non-retryable 400) on the first request that holds a document of the third shard.
  const third = new Set(train.slice(32, 48).map((d) => documentPrefix(tokenizer, d.text, 64).text));
  const server = await startEmbeddingServer({ fault: (_n, input) => (broken && input.some((t) => third.has(t)) ? '400' : 'ok') });
  try {
    const config = cfg({ embedder: 'http', maxTokens: 64, docsPerShard: 16, dtype: 'f32', http: { baseUrl: server.url, batchSize: 5, concurrency: 2, model: 'test-model' } });
    await assert.rejects(runEmbedStage({ runDir, config, quiet: true }), /HTTP 400/);
    assert.ok(!existsSync(join(runDir, 'embed', 'manifest.json')));
    assert.deepEqual(readdirSync(join(runDir, 'embed', '.done')).sort(), ['shard-00000', 'shard-00001']);
    const sentBefore = server.requests.length;

    broken = false;
    const r = await runEmbedStage({ runDir, config, quiet: true });
    const resent = server.requests.slice(sentBefore + 1).flat(); // after the probe
    const prefixes = train.map((d) => documentPrefix(tokenizer, d.text, 64).text);
    assert.deepEqual(resent.sort(), prefixes.slice(32).sort(), 'only shards 2.. are embedded again');
    assert.equal(r.manifest.stats.shardsReused, 2);
    assert.equal(r.manifest.stats.dim, SERVER_DIM);

    const v = readVectorsFile(join(runDir, 'embed', 'vectors.bin'));
    const want = Float32Array.from(prefixes.flatMap(serverVector));
    normalizeRows(want, SERVER_DIM);
    for (let i = 0; i < want.length; i++) assert.ok(Math.abs(v.rows[i]! - want[i]!) < 1e-6, `value ${i}`);
  } finally {
    await server.close();
  }
});

test('embed stage (use): 512-d unit rows for every train document', async () => {
  const { runDir, train } = await fixtureRun({ trainDocs: [6] });
  const r = await runEmbedStage({ runDir, config: cfg({ embedder: 'use', maxTokens: 48, dtype: 'f32' }), quiet: true });
  assert.equal(r.manifest.stats.dim, 512);
  const v = readVectorsFile(join(runDir, 'embed', 'vectors.bin'));
  assert.deepEqual(v.ids, train.map((d) => d.id));
  for (let i = 0; i < train.length; i++) assert.ok(Math.abs(dotRows(v.rows, i, v.rows, i, 512) - 1) < 1e-5);
});

test('embed stage: clear errors for a missing upstream stage and an empty API key variable', async () => {
  await assert.rejects(runEmbedStage({ runDir: tempDir(), config: cfg({ embedder: 'hash' }), quiet: true }), (e: unknown) => e instanceof StageMissingError && /sbp prepare/.test((e as Error).message));
  const { runDir } = await fixtureRun({ trainDocs: [3] });
  await assert.rejects(
    runEmbedStage({ runDir, config: cfg({ embedder: 'http', http: { apiKeyEnv: 'SBP_TEST_NO_SUCH_KEY' } }), env: {}, quiet: true }),
    /SBP_TEST_NO_SUCH_KEY.*environment variable is empty/,
  );
  await assert.rejects(runEmbedStage({ runDir, config: cfg({ embedder: 'lm' }), quiet: true }), /embed\.lm\.model: "baseline" is neither .*sbp train --model baseline/);
});

export type { EmbedStats };
