import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RefBackend } from '../../src/engine/ref-backend.js';
import { train, type TrainerConfig } from '../../src/train/trainer.js';
import { PackedBatchSource } from '../../src/train/packed-batch-source.js';
import { heldoutBatches } from '../../src/train/heldout-batches.js';
import { learningRate } from '../../src/train/lr-schedule.js';
import { AdamW, decayMask } from '../../src/train/adamw.js';
import { UserError } from '../../src/common/errors.js';
import { tempDir } from '../helpers.js';
import { LlamaModel } from '../../src/model/llama.js';
import { resolveModelConfig } from '../../src/model/config.js';
import { hfModelStore } from '../../src/train/hf-model-store.js';
import { loadModelFolder } from '../../src/model/hf-folder.js';

const V = 16;
const tinyLlama = (vocabSize = V) => resolveModelConfig({ preset: 'tiny', vocabSize, hiddenSize: 16, numLayers: 1, numHeads: 2, numKVHeads: 1, headDim: 8, intermediateSize: 32, maxSeqLen: 16 });
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

async function run(dir: string, cfg: TrainerConfig, opts: { stopAt?: number } = {}) {
  const model = new LlamaModel(tinyLlama(), new RefBackend(), { seed: 42 });
  const losses: Array<number | null> = [];
  const result = await train({
    model,
    data: new PackedBatchSource(corpus, 4, 8, framing, 9),
    heldout: heldoutBatches(corpus, 4, 8, framing, 256),
    cfg,
    dir,
    models: hfModelStore(),
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
  const model = new LlamaModel({ ...tinyLlama(), tieEmbeddings: false }, new RefBackend());
  const decayed = (rule: { decayEmbeddings: boolean; noDecay: string[] }) =>
    model.paramTable.filter((_, i) => decayMask(model.paramTable, rule)[i]).map((e) => e.name.replace('model.layers.0.', ''));
  const matrices = ['self_attn.q_proj.weight', 'self_attn.k_proj.weight', 'self_attn.v_proj.weight', 'self_attn.o_proj.weight', 'mlp.gate_proj.weight', 'mlp.up_proj.weight', 'mlp.down_proj.weight'];
  assert.deepEqual(decayed({ decayEmbeddings: true, noDecay: [] }), ['model.embed_tokens.weight', ...matrices, 'lm_head.weight']);
  assert.deepEqual(decayed({ decayEmbeddings: false, noDecay: [] }), [...matrices, 'lm_head.weight']);
  assert.deepEqual(decayed({ decayEmbeddings: false, noDecay: ['mlp\\.', '^lm_head'] }), matrices.slice(0, 4));
  // the rule agrees with the model's own table flags when embeddings are decayed
  assert.deepEqual(decayMask(model.paramTable, { decayEmbeddings: true, noDecay: [] }), model.paramTable.map((e) => e.decay));
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

test('optimizer state round-trips through its binary file; a wrong file is refused by name', () => {
  const dir = tempDir();
  const model = new LlamaModel(tinyLlama(), new RefBackend(), { seed: 5 });
  const mask = model.paramTable.map((e) => e.decay);
  const opt = new AdamW(model, { beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0 }, mask);
  model.backend.upload(model.grads, Float32Array.from({ length: model.numParams }, (_, i) => Math.sin(i)));
  opt.update(0.01);
  opt.update(0.01);
  const path = join(dir, 'optimizer.bin');
  opt.save(path);
  const back = new AdamW(model, opt.cfg, mask);
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
  const otherModel = new LlamaModel(tinyLlama(20), new RefBackend());
  const other = new AdamW(otherModel, opt.cfg, otherModel.paramTable.map((e) => e.decay));
  opt.save(path);
  assert.throws(() => other.load(path), /belongs to another model/);
});
