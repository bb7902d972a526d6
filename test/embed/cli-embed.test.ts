import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from '../helpers.js';
import { readVectorsFile } from '../../src/embed/vectors-file.js';
import { fixtureRun } from './fixture-run.js';
import { closedPort } from './embedding-server.js';

test('sbp embed --embedder hash: end to end on a fixture run, resumed after a crash, then skipped', async () => {
  const { runsDir, train } = await fixtureRun();
  const args = ['embed', '--run', 'fx', '--runs-dir', runsDir, '--embedder', 'hash', '--max-tokens', '32', '--set', 'embed.docsPerShard=20', '--set', 'embed.hash.dim=128'];

  const crashed = runCli(args, { env: { SBP_EMBED_FAIL_AFTER_SHARDS: '2' } });
  assert.equal(crashed.status, 1, crashed.stderr);
  assert.match(crashed.stderr, /stopped after 2 shard\(s\)/);

  const r = runCli(args);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /embed: .*vectors\.bin\n/);
  assert.match(r.stdout, new RegExp(`${train.length} docs × 128 f16, first 32 tokens`));
  assert.match(r.stdout, /4 shard\(s\), 2 kept from an interrupted run/);

  const v = readVectorsFile(join(runsDir, 'fx', 'embed', 'vectors.bin'));
  assert.deepEqual(v.ids, train.map((d) => d.id));
  const stats = JSON.parse(readFileSync(join(runsDir, 'fx', 'embed', 'stats.json'), 'utf8'));
  assert.equal(stats.embedder, 'hash');
  assert.equal(stats.docs, train.length);
  assert.ok(stats.docsPerSec > 0);
  const config = JSON.parse(readFileSync(join(runsDir, 'fx', 'config.json'), 'utf8'));
  assert.equal(config.embed.maxTokens, 32);

  const again = runCli(args);
  assert.equal(again.status, 0, again.stderr);
  assert.match(again.stdout, /already embedded with this corpus, tokenizer and config/);
});

test('sbp embed: user mistakes exit 2 with a message naming what to fix', async () => {
  const { runsDir } = await fixtureRun({ trainDocs: [4] });
  const base = ['embed', '--run', 'fx', '--runs-dir', runsDir, '-q'];
  const url = `http://127.0.0.1:${await closedPort()}/v1`;
  const cases: Array<[string[], RegExp]> = [
    [['--embedder', 'http', '--base-url', url, '--set', 'embed.http.maxRetries=0'], new RegExp(`${url}/embeddings: cannot connect .*gave up after 1 attempts`)],
    [['--embedder', 'lm'], /embed\.lm\.model: "baseline" is neither/],
    [['--embedder', 'hash', '--set', 'embed.hash.idfBuckets=1000'], /embed\.hash\.idfBuckets: got 1000; a power of two/],
    [['--embedder', 'hash', '--dtype', 'f64'], /argument 'f64' is invalid/],
  ];
  for (const [extra, re] of cases) {
    const r = runCli([...base, ...extra]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, re, `${extra.join(' ')}: ${r.stderr}`);
  }
  const missing = runCli(['embed', '--run', 'none', '--runs-dir', runsDir, '--embedder', 'hash']);
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /--run none: no run folder .*none \(runs there: .*\); check the name, or start the run with `sbp prepare`/);
});
