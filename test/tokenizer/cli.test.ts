import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runStage } from '../../src/stage/stage.js';
import { Tokenizer } from '../../src/tokenizer/tokenizer.js';
import { runCli, tempDir } from '../helpers.js';
import { brownTexts } from './texts.js';

/** A finished `corpus` stage in the format `sbp prepare` writes: {split}-NNNNN.jsonl, one {"id","text","meta"} per line. */
async function fixtureRun(): Promise<{ runsDir: string; runDir: string }> {
  const runsDir = tempDir();
  const runDir = join(runsDir, 'fx');
  const docs = brownTexts(6);
  await runStage({
    stage: 'corpus',
    runDir,
    config: { fixture: 1 },
    run: async (ctx) => {
      const line = (text: string, i: number) => JSON.stringify({ id: `brown:${i}`, text, meta: { source: 'brown' } });
      writeFileSync(join(ctx.dir, 'train-00000.jsonl'), docs.slice(0, 5).map(line).join('\n') + '\n');
      writeFileSync(join(ctx.dir, 'heldout-00000.jsonl'), line(docs[5]!, 5) + '\n');
      return { docs: docs.length };
    },
  });
  return { runsDir, runDir };
}

test('sbp tokenizer train / encode / decode end to end on a fixture corpus', async () => {
  const { runsDir, runDir } = await fixtureRun();
  const common = ['--run', 'fx', '--runs-dir', runsDir];
  const r = runCli(['tokenizer', 'train', ...common, '--quiet', '--set', 'tokenizer.vocabSize=600', '--set', 'tokenizer.reservedTokens=2']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /vocabulary 600 \(\d+ merges; bos 594, eos 595, sep 596, pad 597\)/);
  const dir = join(runDir, 'tokenizer');
  for (const f of ['tokenizer.json', 'stats.json', 'manifest.json']) assert.ok(existsSync(join(dir, f)), f);
  const stats = JSON.parse(readFileSync(join(dir, 'stats.json'), 'utf8'));
  const trainBytes = brownTexts(5).reduce((n, t) => n + Buffer.byteLength(t), 0);
  assert.equal(stats.vocabSize, 600);
  assert.equal(stats.bytesTrained, trainBytes);
  assert.equal(stats.docsTrained, 5);
  assert.equal(stats.heldout.docs, 1);
  assert.ok(stats.heldout.bytesPerToken > 1.5 && stats.heldout.bytesPerToken < 8, String(stats.heldout.bytesPerToken));
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
  assert.equal(manifest.stage, 'tokenizer');
  assert.ok(manifest.inputHashes.corpus);

  const again = runCli(['tokenizer', 'train', ...common, '--quiet', '--set', 'tokenizer.vocabSize=600', '--set', 'tokenizer.reservedTokens=2']);
  assert.equal(again.status, 0, again.stderr);
  assert.match(again.stdout, /already trained/);

  const text = 'The jury said <|eos|> 1234!';
  const enc = runCli(['tokenizer', 'encode', ...common, '--text', text]);
  assert.equal(enc.status, 0, enc.stderr);
  const ids = enc.stdout.trim().split(' ').map(Number);
  assert.deepEqual(ids, Array.from(Tokenizer.load(join(dir, 'tokenizer.json')).encode(text)));
  const dec = runCli(['tokenizer', 'decode', ...common, ...ids.map(String)]);
  assert.equal(dec.status, 0, dec.stderr);
  assert.equal(dec.stdout, `${text}\n`);
});

test('sbp tokenizer: clear errors for a missing corpus, a bad id and a malformed tokenizer file', () => {
  const runsDir = tempDir();
  const r = runCli(['tokenizer', 'train', '--run', 'empty', '--runs-dir', runsDir, '--quiet']);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--run empty: no run folder .*empty.*sbp prepare/); // a run that was never started is named, not created
  const bad = join(runsDir, 'bad.json');
  writeFileSync(bad, JSON.stringify({ model: { type: 'Unigram' } }));
  const e = runCli(['tokenizer', 'encode', '--tokenizer', bad, '--text', 'x']);
  assert.equal(e.status, 2);
  assert.match(e.stderr, /bad\.json: model\.type is "Unigram"/);
  const missing = runCli(['tokenizer', 'decode', '--run', 'empty', '--runs-dir', runsDir, '1']);
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /no tokenizer; run `sbp tokenizer train` first/);
});
