import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { readPairsFile } from '../../src/pairs/pairs-file.js';
import type { PairStats, PairSample } from '../../src/pairs/pair-miner.js';
import { runCli } from '../helpers.js';
import { pairFixtureRun, FIXTURE_GROUPS, FIXTURE_GROUP_SIZE, FIXTURE_NEAR_DUPLICATE_GROUPS } from './fixture-run.js';

const live = FIXTURE_GROUPS * FIXTURE_GROUP_SIZE; // documents with a vector
const k = FIXTURE_GROUP_SIZE - 1; // each document's neighbours are exactly its group mates
const expectedPairs = live * k - 2 * FIXTURE_NEAR_DUPLICATE_GROUPS; // near-duplicates dropped both ways

function pairSet(runDir: string): Set<string> {
  const { pairs } = readPairsFile(join(runDir, 'pairs', 'pairs.bin'));
  const out = new Set<string>();
  for (let i = 0; i < pairs.d1.length; i++) out.add(`${pairs.d1[i]}>${pairs.d2[i]}`);
  return out;
}

test('sbp pair end to end: HNSW, killed mid-search, resumed; then exact search agrees', async () => {
  const fx = await pairFixtureRun();
  const common = ['--run', 'fx', '--runs-dir', fx.runsDir, '--k', String(k), '--set', 'pair.searchBlock=16', '--set', 'pair.recallSample=60', '-q'];

  const killed = runCli(['pair', ...common], { env: { SBP_PAIR_FAIL_AFTER_BLOCKS: '2' } });
  assert.notEqual(killed.status, 0);
  assert.match(killed.stderr, /stopped after 2 search block/);
  assert.ok(!existsSync(join(fx.runDir, 'pairs', 'manifest.json')));

  const resumed = runCli(['pair', ...common]);
  assert.equal(resumed.status, 0, resumed.stderr);
  assert.match(resumed.stdout, new RegExp(`${expectedPairs} pairs of ${live * k} candidates`));
  assert.match(resumed.stdout, /resumed: index, 2\/4 blocks/);
  assert.match(resumed.stdout, /recall@2 vs exact search: 1\.0000 on 60 documents/);

  const dir = join(fx.runDir, 'pairs');
  const stats = JSON.parse(readFileSync(join(dir, 'stats.json'), 'utf8')) as PairStats;
  assert.equal(stats.documents, live + 1);
  assert.equal(stats.zeroVectors, 1);
  assert.deepEqual(stats.drops, { self: live, beyond_k: 0, below_alpha: 0, near_duplicate: 2 * FIXTURE_NEAR_DUPLICATE_GROUPS });
  assert.equal(stats.pairs, expectedPairs);
  assert.deepEqual(stats.alpha, { mode: 'absolute', quantile: null, value: 0.75 });
  assert.equal(stats.partners.shareWithPartner, live / (live + 1));
  assert.equal(stats.searchBlocksReused, 2);
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
  assert.equal(manifest.stage, 'pairs');
  assert.deepEqual(Object.keys(manifest.inputHashes).sort(), ['corpus', 'embed']);
  assert.ok(!existsSync(join(dir, 'index.usearch')) && !existsSync(join(dir, 'blocks')), 'index and blocks are removed when done');

  // The pairs: group mates only, both directions, near-duplicates absent, sorted.
  const file = readPairsFile(join(dir, 'pairs.bin'));
  assert.equal(file.documents, live + 1);
  assert.equal(file.pairs.d1.length, expectedPairs);
  const dups = new Set(fx.nearDuplicates.flatMap(([a, b]) => [`${a}>${b}`, `${b}>${a}`]));
  const got = pairSet(fx.runDir);
  for (const key of got) {
    const [a, b] = key.split('>').map(Number) as [number, number];
    assert.equal(fx.group[a], fx.group[b], `pair ${key} crosses groups`);
    assert.ok(!dups.has(key), `near-duplicate ${key} kept`);
    if (!dups.has(`${b}>${a}`)) assert.ok(got.has(`${b}>${a}`), `reverse of ${key}`);
  }
  for (let i = 1; i < file.pairs.d1.length; i++) assert.ok(file.pairs.d1[i - 1]! <= file.pairs.d1[i]!);

  const samples = readFileSync(join(dir, 'samples.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as PairSample);
  assert.ok(samples.length > 0 && samples.length <= 48);
  for (const s of samples) {
    assert.equal(s.id1, fx.ids[s.d1]);
    assert.ok(s.text2.length <= 401 && fx.texts[s.d2]!.startsWith(s.text2.replace(/…$/, '')), 'text excerpt of d2');
  }
  assert.equal(samples.filter((s) => s.dropped === 'near_duplicate').length, 2 * FIXTURE_NEAR_DUPLICATE_GROUPS);

  const again = runCli(['pair', ...common]);
  assert.equal(again.status, 0, again.stderr);
  assert.match(again.stdout, /already mined with these vectors and config/);

  const exact = runCli(['pair', ...common, '--exact']);
  assert.equal(exact.status, 0, exact.stderr);
  assert.match(exact.stdout, /exact search/);
  assert.deepEqual(pairSet(fx.runDir), got);
});

test('sbp pair: α as a quantile, near-duplicate filter off', async () => {
  const fx = await pairFixtureRun();
  const r = runCli(['pair', '--run', 'fx', '--runs-dir', fx.runsDir, '--k', '4', '--exact', '--alpha-quantile', '0.5', '--no-near-duplicate', '-q']);
  assert.equal(r.status, 0, r.stderr);
  const stats = JSON.parse(readFileSync(join(fx.runDir, 'pairs', 'stats.json'), 'utf8')) as PairStats;
  assert.equal(stats.alpha.mode, 'quantile');
  assert.equal(stats.drops.near_duplicate, 0);
  assert.equal(stats.nearDuplicate.threshold, null);
  assert.equal(stats.candidates, live * 4);
  assert.equal(stats.pairs, live * 4 / 2); // the median splits the candidates in half
  assert.match(r.stdout, /quantile 0\.5/);
});

test('sbp pair: user errors are named and exit with code 2', async () => {
  const fx = await pairFixtureRun();
  const base = ['pair', '--run', 'fx', '--runs-dir', fx.runsDir, '-q'];

  const badAlpha = runCli([...base, '--alpha', '1.5']);
  assert.notEqual(badAlpha.status, 0);
  assert.match(badAlpha.stderr, /--alpha must be a number in \[-1, 1\]/);

  const badSet = runCli([...base, '--set', 'pair.quantization="i4"']);
  assert.equal(badSet.status, 2);
  assert.match(badSet.stderr, /pair\.quantization: got "i4"; one of "f16", "i8", "f32"/);

  mkdirSync(join(fx.runsDir, 'other')); // a run without embeddings (a run that is never started is its own error)
  const noEmbed = runCli(['pair', '--run', 'other', '--runs-dir', fx.runsDir, '-q']);
  assert.equal(noEmbed.status, 2);
  assert.match(noEmbed.stderr, /embed has no manifest\.json.*Run `sbp embed` first/);

  // The corpus no longer lines up with the vectors (a document was edited after embedding).
  const shard = join(fx.runDir, 'corpus', 'train-00001.jsonl');
  writeFileSync(shard, readFileSync(shard, 'utf8').replace('"fx:12-0"', '"fx:renamed"'));
  const stale = runCli([...base, '--exact']);
  assert.equal(stale.status, 2, stale.stderr);
  assert.match(stale.stderr, /train document 36 of the corpus is "fx:renamed" but row 36 of .*vectors\.bin is "fx:12-0"; the embeddings are stale/);
});
