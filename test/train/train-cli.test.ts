import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RefBackend } from '../../src/engine/ref-backend.js';
import { loadModelFolder } from '../../src/model/hf-folder.js';
import { TokenDataset } from '../../src/tokens/token-dataset.js';
import { heldoutBatches } from '../../src/train/heldout-batches.js';
import { heldoutLoss } from '../../src/train/trainer.js';
import { Tokenizer } from '../../src/tokenizer/tokenizer.js';
import { repoRoot, runCli, tempDir } from '../helpers.js';
import { makeTokenizedRun } from './fixture-run.js';

// A small real corpus: 40 Brown samples (~490 KB of text) for training, 4 from other genres held out.
const runsDir = tempDir();
const runDir = join(runsDir, 'brown');
await makeTokenizedRun(runDir, { trainDocs: 40, heldoutDocs: 4, vocabSize: 384 });

const modelFlags = ['--set', 'model.hiddenSize=32', '--set', 'model.numLayers=2', '--set', 'model.numHeads=4', '--set', 'model.numKVHeads=2', '--set', 'model.headDim=8', '--set', 'model.intermediateSize=64', '--set', 'model.maxSeqLen=64'];
const trainFlags = ['--runs-dir', runsDir, '--run', 'brown', '--backend', 'ref', '--batch-size', '8', '--seq-len', '32', '--lr', '0.01', '-q', ...modelFlags, '--set', 'train.evalTokens=2048', '--set', 'train.warmupFraction=0.1'];

const readMetrics = (dir: string) => readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));

test('sbp train on real text: loss falls, held-out perplexity improves, the folder loads; a rerun is skipped', () => {
  const r = runCli(['train', '--model', 'base', '--steps', '40', '--set', 'train.evalEvery=20', ...trainFlags]);
  assert.equal(r.status, 0, r.stderr);
  const dir = join(runDir, 'models/base');
  assert.match(r.stdout, /held-out loss [\d.]+, perplexity/);
  const rows = readMetrics(dir);
  const steps = rows.filter((x) => x.kind === 'step');
  const evals = rows.filter((x) => x.kind === 'eval');
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const early = mean(steps.slice(0, 5).map((x) => x.loss));
  const late = mean(steps.slice(-5).map((x) => x.loss));
  console.log(`# brown: train loss ${early.toFixed(3)} → ${late.toFixed(3)}; held-out ppl ${evals.map((e) => e.heldoutPpl.toFixed(1)).join(' → ')}`);
  assert.ok(late < early - 0.6, `training loss ${early} → ${late}`);
  assert.deepEqual(evals.map((e) => e.step), [0, 20, 40]);
  assert.ok(evals[2].heldoutPpl < 0.5 * evals[0].heldoutPpl, 'held-out perplexity improves');
  for (const f of ['config.json', 'model.safetensors', 'tokenizer.json', 'generation_config.json', 'manifest.json', 'checkpoint/trainer-state.json', 'checkpoint/optimizer.bin']) assert.ok(existsSync(join(dir, f)), f);
  // The saved folder evaluates to the logged final held-out loss.
  const model = loadModelFolder(dir, new RefBackend());
  const tok = Tokenizer.load(join(dir, 'tokenizer.json'));
  assert.equal(model.config.eosTokenId, tok.special.eos);
  const ds = TokenDataset.open(join(runDir, 'tokens'), 'heldout');
  const h = heldoutLoss(model, heldoutBatches(ds, 8, 32, { bos: tok.special.bos, eos: tok.special.eos }, 2048));
  ds.close();
  assert.ok(Math.abs(h.heldoutLoss - evals[2].heldoutLoss) < 1e-6);

  const again = runCli(['train', '--model', 'base', '--steps', '40', '--set', 'train.evalEvery=20', ...trainFlags]);
  assert.equal(again.status, 0, again.stderr);
  assert.match(again.stdout, /already trained/);

  // sampling from the run model: reproducible, JSONL, n per prompt
  const sampleArgs = ['sample', '--runs-dir', runsDir, '--run', 'brown', '--model', 'base', '--backend', 'ref', '--prompt', 'The jury said', '--prompt', '', '-n', '2', '--max-tokens', '12', '--seed', '5', '-q'];
  const s1 = runCli(sampleArgs);
  assert.equal(s1.status, 0, s1.stderr);
  const recs = s1.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(recs.length, 4);
  assert.deepEqual(recs.map((x) => [x.prompt, x.sample]), [['The jury said', 0], ['The jury said', 1], ['', 0], ['', 1]]);
  for (const x of recs) assert.ok(x.tokens > 0 && x.tokens <= 12 && typeof x.text === 'string');
  assert.equal(runCli(sampleArgs).stdout, s1.stdout, 'same seed, same samples');
  const bad = runCli(['sample', '--runs-dir', runsDir, '--run', 'brown', '--model', 'nope', '-q']);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /"nope" is neither a model folder nor a finished model/);
});

test('sbp train: interrupted (test hook) and resumed equals uninterrupted; fine-tuning starts from a run model', () => {
  const flags = [...trainFlags, '--steps', '6', '--set', 'train.evalEvery=0', '--set', 'train.checkpointEvery=0'];
  assert.equal(runCli(['train', '--model', 'whole', ...flags]).status, 0);
  const cut = runCli(['train', '--model', 'cut', ...flags], { env: { SBP_TRAIN_STOP_AFTER_STEPS: '4' } });
  assert.equal(cut.status, 130, cut.stderr);
  assert.match(cut.stderr, /interrupted after step 4; checkpoint in .*rerun the same command to resume/);
  assert.ok(!existsSync(join(runDir, 'models/cut/manifest.json')));
  const rest = runCli(['train', '--model', 'cut', ...flags]);
  assert.equal(rest.status, 0, rest.stderr);
  const losses = (m: string) => readMetrics(join(runDir, 'models', m)).filter((x) => x.kind === 'step').map((x) => x.loss);
  assert.deepEqual(losses('cut'), losses('whole'));
  assert.deepEqual(readFileSync(join(runDir, 'models/cut/model.safetensors')), readFileSync(join(runDir, 'models/whole/model.safetensors')));

  const tune = runCli(['train', '--model', 'tuned', '--init-from', 'whole', ...flags, '--steps', '2']);
  assert.equal(tune.status, 0, tune.stderr);
  const first = readMetrics(join(runDir, 'models/tuned')).find((x) => x.kind === 'step');
  assert.ok(first.loss < losses('whole')[0] - 0.3, 'fine-tuning starts from the trained weights, not from scratch');
  const manifest = JSON.parse(readFileSync(join(runDir, 'models/tuned/manifest.json'), 'utf8'));
  assert.ok(manifest.inputHashes.initFrom);
});

test('sbp train: a real SIGINT finishes the step, checkpoints, exits 130; the rerun resumes', async () => {
  const flags = [...trainFlags, '--steps', '20', '--set', 'train.evalEvery=0', '--set', 'train.checkpointEvery=0'];
  const child = spawn(process.execPath, [join(repoRoot, 'bin/sbp.js'), 'train', '--model', 'sig', ...flags], { cwd: repoRoot });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const metrics = join(runDir, 'models/sig/metrics.jsonl');
  // wait until a few steps are logged, then press Ctrl-C
  for (let i = 0; i < 600 && !(existsSync(metrics) && readFileSync(metrics, 'utf8').split('\n').length > 3); i++) await new Promise((r) => setTimeout(r, 50));
  child.kill('SIGINT');
  const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
  assert.equal(code, 130, stderr);
  assert.match(stderr, /finishing the current step/);
  const state = JSON.parse(readFileSync(join(runDir, 'models/sig/checkpoint/trainer-state.json'), 'utf8'));
  assert.ok(state.step >= 3 && state.step < 20, `stopped at step ${state.step}`);
  const logged = readMetrics(join(runDir, 'models/sig')).filter((x) => x.kind === 'step');
  assert.equal(logged[logged.length - 1].step, state.step, 'the checkpoint holds the last logged step');
  const resume = runCli(['train', '--model', 'sig', ...flags]);
  assert.equal(resume.status, 0, resume.stderr);
  assert.match(resume.stderr, new RegExp(`resuming from step ${state.step}`));
  const all = readMetrics(join(runDir, 'models/sig')).filter((x) => x.kind === 'step');
  assert.deepEqual(all.map((x) => x.step), Array.from({ length: 20 }, (_, i) => i + 1));
  assert.ok(existsSync(join(runDir, 'models/sig/manifest.json')));
});
