import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../../src/common/errors.js';
import { parseKeyPath, resolveConfig } from '../../src/config/load.js';
import { openRunConfig } from '../../src/config/run-record.js';
import { runCli, tempDir } from '../helpers.js';

/** A corpus of a few documents and a prepared run `r` under a fresh runs folder. */
function preparedRun(): { runsDir: string; file: string; record: string } {
  const runsDir = tempDir();
  const file = join(runsDir, 'docs.jsonl');
  const docs = Array.from({ length: 30 }, (_, i) => JSON.stringify({ text: `document number ${i} talks about rivers, boats and the weather on day ${i * 7}.` }));
  writeFileSync(file, `${docs.join('\n')}\n`);
  const r = runCli(['prepare', '--source', `jsonl:${file}`, '--min-chars', '10', '--run', 'r', '--runs-dir', runsDir, '--set', 'tokenizer.vocabSize=300', '--set', 'train.lr=0.001', '--quiet']);
  assert.equal(r.status, 0, r.stderr);
  return { runsDir, file, record: join(runsDir, 'r', 'config.json') };
}

test('commands that only read a run (sample, report, serve, config show) never write its config.json nor create run folders', () => {
  const { runsDir, record } = preparedRun();
  const before = readFileSync(record, 'utf8');
  assert.equal(JSON.parse(before).tokenizer.vocabSize, 300);
  const sample = runCli(['sample', '--run', 'r', '--runs-dir', runsDir, '--model', 'baseline', '--temperature', '0']);
  assert.equal(sample.status, 2);
  assert.match(sample.stderr, /--model: "baseline" is neither a model folder nor a finished model of this run/);
  assert.equal(readFileSync(record, 'utf8'), before, 'sample left the record as it was');

  const typo = runCli(['sample', '--run', 'rr', '--runs-dir', runsDir, '--model', 'baseline']);
  assert.equal(typo.status, 2);
  assert.match(typo.stderr, /^sbp: --run rr: no run folder .*rr \(runs there: r\); check the name, or start the run with `sbp prepare` or `sbp experiment`\n$/);
  assert.equal(existsSync(join(runsDir, 'rr')), false, 'a mistyped --run creates nothing');
  for (const args of [['report', '--run', 'rr'], ['serve', '--run', 'rr', '--model', 'baseline'], ['train', '--run', 'rr']]) {
    const r = runCli([...args, '--runs-dir', runsDir]);
    assert.equal(r.status, 2, args.join(' '));
    assert.match(r.stderr, /--run rr: no run folder/, args.join(' '));
    assert.equal(existsSync(join(runsDir, 'rr')), false, args.join(' '));
  }

  const cwd = tempDir();
  const folder = runCli(['sample', '--model', join(cwd, 'no-such-model')], { cwd });
  assert.equal(folder.status, 2);
  assert.match(folder.stderr, /^sbp: --model: .*no-such-model is not a folder; give the path of a model folder/);
  assert.equal(existsSync(join(cwd, 'runs')), false, 'sample --model <folder> without --run creates no ./runs/default');
});

test('a stage records only the sections it owns; where it disagrees with another stage\'s section it says so and keeps the record', () => {
  const { runsDir, record } = preparedRun();
  const r = runCli(['tokenizer', 'train', '--run', 'r', '--runs-dir', runsDir, '--vocab-size', '290', '--set', 'train.lr=0.01', '--quiet']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /sbp: note: train\.lr = 0\.01 here, but .*config\.json records 0\.001 \(written by `sbp train`\); the record is kept — rerun that stage to change it/);
  const rec = JSON.parse(readFileSync(record, 'utf8'));
  assert.equal(rec.tokenizer.vocabSize, 290, 'the tokenizer stage records its own section');
  assert.equal(rec.train.lr, 0.001, 'and leaves the train section as recorded');
  // A later command without flags resolves on the record, not on the defaults: no note, nothing changes.
  const again = runCli(['tokenizer', 'train', '--run', 'r', '--runs-dir', runsDir, '--quiet']);
  assert.equal(again.status, 0, again.stderr);
  assert.doesNotMatch(again.stderr, /note:/);
  assert.match(again.stdout, /vocabulary 290/);
  assert.equal(JSON.parse(readFileSync(record, 'utf8')).train.lr, 0.001);
  // A command that fails leaves the record as it was: its flags do not become the run's settings.
  const before = readFileSync(record, 'utf8');
  const bad = runCli(['eval', '--run', 'r', '--runs-dir', runsDir, '--models', 'nope', '--quiet']);
  assert.equal(bad.status, 2, bad.stderr);
  assert.match(bad.stderr, /nope/);
  assert.equal(readFileSync(record, 'utf8'), before);
});

test('openRunConfig: a reader resolves on the record; a damaged record is one clear error', () => {
  const runsDir = tempDir();
  mkdirSync(join(runsDir, 'x'));
  writeFileSync(join(runsDir, 'x', 'config.json'), JSON.stringify({ ...resolveConfig(), name: 'x', runsDir, sample: { temperature: 0.5 } }));
  const { cfg } = openRunConfig({ overrides: [{ name: 'x', runsDir }] }, { mode: 'read' }, true);
  assert.equal(cfg.sample.temperature, 0.5);
  writeFileSync(join(runsDir, 'x', 'config.json'), '{"name": "x", "tok');
  assert.throws(() => openRunConfig({ overrides: [{ name: 'x', runsDir }] }, { mode: 'read' }, true), /config\.json: the run record is not valid JSON .*; restore it, or delete it to let the next stage write a new one/);
});

test('--set __proto__.x=1 (and constructor / prototype) is refused everywhere a key path is parsed; Object.prototype stays clean', () => {
  const attempts = ['__proto__.polluted=1', 'constructor.prototype.polluted=1', 'train.__proto__.polluted=1', 'prototype=1'];
  for (const s of attempts) {
    assert.throws(() => resolveConfig({ sets: [s] }), (err: unknown) => err instanceof UserError && /is not a config field \(it would change every object of the process\)/.test(err.message), s);
  }
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  assert.throws(() => parseKeyPath('a..b', '--set'), /empty key/);
  const dir = tempDir();
  const file = join(dir, 'evil.json');
  writeFileSync(file, '{"train": {"__proto__": {"polluted": 1}}}');
  assert.throws(() => resolveConfig({ file }), /"__proto__" is not a config field/);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  const cli = runCli(['config', 'show', '--set', '__proto__.polluted=1']);
  assert.equal(cli.status, 2);
  assert.equal(cli.stderr, 'sbp: --set __proto__.polluted=1: "__proto__" is not a config field (it would change every object of the process); see docs/config.md for the fields\n');
});
