import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RefBackend } from '../../src/engine/ref-backend.js';
import { train, NonFiniteTrainingError, type TrainerConfig } from '../../src/train/trainer.js';
import { PackedBatchSource } from '../../src/train/packed-batch-source.js';
import { heldoutBatches } from '../../src/train/heldout-batches.js';
import { learningRate } from '../../src/train/lr-schedule.js';
import { AdamW, decayMask } from '../../src/train/adamw.js';
import { UserError } from '../../src/common/errors.js';
import { tempDir } from '../helpers.js';
import { TinyBigramLM, rawModelStore } from './tiny-lm.js';

const V = 16;
const framing = { bos: 0, eos: 1 };
// A corpus with strong bigram structure: each document counts up modulo 14 from a start token.
const docs = Array.from({ length: 40 }, (_, i) => Array.from({ length: 5 + (i % 7) }, (_, j) => 2 + ((i + j) % 14)));
const corpus = { numDocs: docs.length, doc: (i: number) => docs[i]! };

function config(over: Partial<TrainerConfig> = {}): TrainerConfig {
  return {
    steps: 12, gradAccumSteps: 2, lr: 0.05, lrFloor: 0.005, warmupFraction: 0.1, beta1: 0.9, beta2: 0.95, eps: 1e-8,
    weightDecay: 0.1, decayEmbeddings: false, noDecay: [], clip: 1, evalEvery: 4, checkpointEvery: 5, logEvery: 1, maxBadSteps: 3,
    ...over,
  };
}

async function run(dir: string, cfg: TrainerConfig, opts: { stopAt?: number; poison?: number[] } = {}) {
  const model = new TinyBigramLM(new RefBackend(), V, 8, 42);
  for (const p of opts.poison ?? []) model.poisonCalls.add(p);
  const losses: Array<number | null> = [];
  const result = await train({
    model,
    data: new PackedBatchSource(corpus, 4, 8, framing, 9),
    heldout: heldoutBatches(corpus, 4, 8, framing, 256),
    cfg,
    dir,
    models: rawModelStore,
    quiet: true,
    log: () => {},
    shouldStop: opts.stopAt === undefined ? undefined : (step) => step >= opts.stopAt!,
    onStep: (m) => losses.push(m.loss),
  });
  return { model, losses, result };
}

test('lr schedule: linear warm-up to the peak, cosine down to the floor', () => {
  const s = { peak: 1, floor: 0.1, warmupSteps: 4, totalSteps: 14 };
  const table: Array<[number, number]> = [[0, 0.25], [3, 1], [4, 1], [9, 0.1 + 0.45 * (1 + Math.cos(Math.PI * 5 / 9))], [13, 0.1]];
  for (const [step, want] of table) assert.ok(Math.abs(learningRate(s, step) - want) < 1e-12, `step ${step}: ${learningRate(s, step)} vs ${want}`);
  for (let k = 4; k < 13; k++) assert.ok(learningRate(s, k + 1) <= learningRate(s, k), 'monotone after warm-up');
});

test('weight decay mask: matrices only, embeddings by choice, name patterns excluded', () => {
  const model = new TinyBigramLM(new RefBackend(), 4, 2, 1);
  assert.deepEqual(decayMask(model.paramTable, { decayEmbeddings: false, noDecay: [] }), [false, true, false]);
  assert.deepEqual(decayMask(model.paramTable, { decayEmbeddings: true, noDecay: [] }), [true, true, false]);
  assert.deepEqual(decayMask(model.paramTable, { decayEmbeddings: true, noDecay: ['^lm_head'] }), [true, false, false]);
  assert.throws(() => decayMask(model.paramTable, { decayEmbeddings: true, noDecay: ['('] }), UserError);
});

test('training lowers the loss and the held-out loss; metrics rows are written', async () => {
  const dir = tempDir();
  const { losses, result } = await run(dir, config({ steps: 30, evalEvery: 10 }));
  assert.equal(result.status, 'finished');
  assert.equal(result.step, 30);
  const first = losses[0]!;
  const last = losses[losses.length - 1]!;
  assert.ok(last < 0.6 * first, `loss ${first} -> ${last}`);
  const rows = readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const evals = rows.filter((r) => r.kind === 'eval');
  assert.deepEqual(evals.map((r) => r.step), [0, 10, 20, 30]);
  assert.ok(evals[3].heldoutLoss < evals[0].heldoutLoss - 0.5);
  assert.ok(Math.abs(evals[3].heldoutPpl - Math.exp(evals[3].heldoutLoss)) < 1e-9);
  const steps = rows.filter((r) => r.kind === 'step');
  assert.equal(steps.length, 30);
  for (const k of ['step', 'tokens', 'lr', 'loss', 'gradNorm', 'tokensPerSec']) assert.equal(typeof steps[5][k], 'number', k);
  assert.equal(steps[29].tokens, 30 * 2 * 4 * 8);
  assert.ok(existsSync(join(dir, 'checkpoint', 'trainer-state.json')));
});

test('interrupt + resume reproduces the uninterrupted loss trajectory exactly', async () => {
  const cfg = config();
  const whole = await run(tempDir(), cfg);
  const dir = tempDir();
  const part1 = await run(dir, cfg, { stopAt: 7 }); // not on the checkpoint schedule (every 5)
  assert.equal(part1.result.status, 'interrupted');
  assert.equal(part1.result.step, 7);
  const part2 = await run(dir, cfg);
  assert.equal(part2.result.resumedFrom, 7);
  assert.equal(part2.result.status, 'finished');
  assert.deepEqual([...part1.losses, ...part2.losses], whole.losses);
  assert.deepEqual(part2.model.backend.download(part2.model.params), whole.model.backend.download(whole.model.params));
  // metrics.jsonl tells one continuous story
  const steps = readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((r) => r.kind === 'step');
  assert.deepEqual(steps.map((r) => r.step), Array.from({ length: 12 }, (_, i) => i + 1));
});

test('a resumed checkpoint with another step count is refused', async () => {
  const dir = tempDir();
  await run(dir, config(), { stopAt: 3 });
  await assert.rejects(run(dir, config({ steps: 20 })), (e: unknown) => e instanceof UserError && /12 steps.*20/.test((e as Error).message));
});

test('a non-finite step is skipped, counted, and training continues', async () => {
  const dir = tempDir();
  // forwardBackward call 5 = step 3, first micro-batch (2 micro-batches per step)
  const { model, losses, result } = await run(dir, config(), { poison: [5] });
  assert.equal(result.status, 'finished');
  assert.equal(result.skippedSteps, 1);
  assert.equal(losses[2], null);
  assert.ok(losses.every((l, i) => i === 2 || (l !== null && Number.isFinite(l))));
  assert.ok(Number.isFinite(model.backend.sumSquares(model.params)));
  const rows = readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(rows.find((r) => r.kind === 'step' && r.step === 3).skipped, true);
});

test('repeated non-finite steps stop training with a clear message; the checkpoint stays finite', async () => {
  const dir = tempDir();
  // every call from step 6 on is poisoned; checkpoint at step 5 holds good weights
  const poison = Array.from({ length: 40 }, (_, i) => 11 + i);
  await assert.rejects(run(dir, config(), { poison }), (e: unknown) => {
    assert.ok(e instanceof NonFiniteTrainingError);
    assert.match((e as Error).message, /non-finite for 3 steps in a row \(steps 6\.\.8\)/);
    assert.match((e as Error).message, /Lower train\.lr/);
    return true;
  });
  const state = JSON.parse(readFileSync(join(dir, 'checkpoint', 'trainer-state.json'), 'utf8'));
  assert.equal(state.step, 5);
  const raw = readFileSync(join(dir, 'checkpoint', 'params.f32'));
  const p = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
  assert.ok(p.every((x) => Number.isFinite(x)));
});

test('optimizer state round-trips through its binary file; a wrong file is refused by name', () => {
  const dir = tempDir();
  const model = new TinyBigramLM(new RefBackend(), 6, 3, 5);
  const opt = new AdamW(model, { beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0 }, [true, true, false]);
  model.backend.upload(model.grads, Float32Array.from({ length: model.numParams }, (_, i) => Math.sin(i)));
  opt.update(0.01);
  opt.update(0.01);
  const path = join(dir, 'optimizer.bin');
  opt.save(path);
  const back = new AdamW(model, opt.cfg, [true, true, false]);
  back.load(path);
  assert.equal(back.step, 2);
  assert.deepEqual(model.backend.download(back.m), model.backend.download(opt.m));
  assert.deepEqual(model.backend.download(back.v), model.backend.download(opt.v));
  const bytes = readFileSync(path);
  writeFileSync(path, bytes.subarray(0, bytes.length - 4));
  assert.throws(() => back.load(path), (e: unknown) => e instanceof UserError && /optimizer\.bin: \d+ bytes, expected/.test((e as Error).message));
  bytes[0] = 0x58;
  writeFileSync(path, bytes);
  assert.throws(() => back.load(path), /not an optimizer state file/);
  const other = new AdamW(new TinyBigramLM(new RefBackend(), 7, 3, 5), opt.cfg, [true, true, false]);
  opt.save(path);
  assert.throws(() => other.load(path), /belongs to another model/);
});
