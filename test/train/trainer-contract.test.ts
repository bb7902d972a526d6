// The trainer contract without Python: batch files, job.json, the `command` engine with a stand-in
// trainer written in JS, the errors a user gets. The PyTorch side is tested in test/pystack/.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../../src/common/errors.js';
import { resolveConfig } from '../../src/config/load.js';
import { RefBackend } from '../../src/engine/ref-backend.js';
import { resolveModelConfig } from '../../src/model/config.js';
import { LlamaModel } from '../../src/model/llama.js';
import type { Batch } from '../../src/model/types.js';
import { BatchFileWriter, readBatch, readBatchFileHeader } from '../../src/train/batch-file.js';
import { torchCommand } from '../../src/train/external-trainer.js';
import { PackedBatchSource } from '../../src/train/packed-batch-source.js';
import { trainIntoStage } from '../../src/train/train-stage.js';
import type { TrainerConfig } from '../../src/train/trainer.js';
import type { TrainerJob } from '../../src/train/trainer-job.js';
import { repoRoot, tempDir } from '../helpers.js';

function randomBatch(B: number, T: number, vocab: number, withMask: boolean, seed: number): Batch {
  let x = seed;
  const r = (n: number) => ((x = (Math.imul(x, 1103515245) + 12345) >>> 0) >>> 8) % n;
  return {
    B, T,
    tokens: Int32Array.from({ length: B * T }, () => r(vocab)),
    targets: Int32Array.from({ length: B * T }, () => r(vocab)),
    mask: withMask ? Float32Array.from({ length: B * T }, () => r(2)) : null,
  };
}

test('batch file: batches round-trip with u16 and i32 ids, with and without masks; the header is checked', () => {
  const dir = tempDir();
  for (const [vocab, withMask, width] of [[300, false, 2], [70_000, true, 4]] as const) {
    const path = join(dir, `b-${vocab}.batches`);
    const w = new BatchFileWriter(path, { B: 3, T: 5, hasMask: withMask, vocabSize: vocab });
    const batches = Array.from({ length: 7 }, (_, i) => randomBatch(3, 5, vocab, withMask, i + 1));
    for (const b of batches) w.add(b);
    w.finish();
    const h = readBatchFileHeader(path);
    assert.deepEqual([h.B, h.T, h.numBatches, h.hasMask, h.tokenBytes, h.vocabSize], [3, 5, 7, withMask, width, vocab]);
    batches.forEach((b, i) => assert.deepEqual(readBatch(path, h, i), { ...b, mask: b.mask ? Float32Array.from(b.mask) : null }));
    truncateSync(path, 64 + 10);
    assert.throws(() => readBatchFileHeader(path), (e) => e instanceof UserError && /the header implies/.test(e.message));
  }
  const w = new BatchFileWriter(join(dir, 'bad.batches'), { B: 1, T: 2, hasMask: false, vocabSize: 10 });
  assert.throws(() => w.add({ B: 1, T: 2, tokens: Int32Array.from([1, 10]), targets: Int32Array.from([1, 2]), mask: null }), /outside \[0, 10\)/);
  assert.throws(() => w.add({ B: 1, T: 2, tokens: Int32Array.from([1, 2]), targets: Int32Array.from([1, 2]), mask: Float32Array.from([1, 0]) }), /with a loss mask in a file without/);
  w.abort();
});

test('config: train.engine reaches synthesizer tuning unless tune names its own engine', () => {
  const a = resolveConfig({ sets: ['train.engine=torch', 'train.torch.nprocPerNode=4'] });
  assert.equal(a.tune.engine, 'torch');
  assert.equal(a.tune.torch?.nprocPerNode, 4);
  const b = resolveConfig({ sets: ['train.engine=torch', 'tune.engine=sbp'] });
  assert.equal(b.tune.engine, 'sbp');
  assert.equal(resolveConfig({}).train.engine, undefined, 'unset means sbp, and keeps the stage hashes of configs written before engines existed');
  assert.throws(() => resolveConfig({ sets: ['train.engine=jax'] }), /train\.engine: got "jax"; one of "sbp", "torch", "command"/);
});

test('torch engine launch: plain python for one process, torchrun beyond or with rendezvous arguments', () => {
  const t = { nprocPerNode: 1, torchrunArgs: [] as string[], fsdp: false, device: 'auto' as const, dtype: 'auto' as const, compile: false };
  assert.deepEqual(torchCommand('py', t, '/j.json'), ['py', '-m', 'sbp_trainer', '/j.json']);
  assert.deepEqual(torchCommand('py', { ...t, nprocPerNode: 8 }, '/j.json'), ['py', '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node=8', '-m', 'sbp_trainer', '/j.json']);
  assert.deepEqual(torchCommand('py', { ...t, torchrunArgs: ['--nnodes=2', '--rdzv-endpoint=h:29400'] }, '/j.json').slice(3, 6), ['--nnodes=2', '--rdzv-endpoint=h:29400', '--nproc_per_node=1']);
});

// A stand-in trainer honouring the contract: it "trains" by adding 0.5 to every weight of the init
// folder (safetensors header + f32 data copied with the data shifted), writes metrics rows, prints
// progress lines and the result file.
const FAKE_TRAINER = String.raw`
import { readFileSync, writeFileSync, appendFileSync, mkdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
const jobPath = process.argv[2];
const job = JSON.parse(readFileSync(jobPath, 'utf8'));
const dir = dirname(jobPath);
const out = join(dir, job.out);
const st = readFileSync(join(dir, job.model.init, 'model.safetensors'));
const n = Number(st.readBigUInt64LE(0));
const data = new Float32Array(st.buffer.slice(st.byteOffset + 8 + n, st.byteOffset + st.length));
for (let i = 0; i < data.length; i++) data[i] += 0.5;
const header = st.subarray(0, 8 + n);
writeFileSync(join(out, 'model.safetensors'), Buffer.concat([header, Buffer.from(data.buffer)]));
writeFileSync(join(out, 'config.json'), JSON.stringify(job.model.config));
writeFileSync(join(out, 'metrics.jsonl'), '');
console.log('a line that is not JSON');
for (let s = 1; s <= job.steps; s++) {
  const row = { kind: 'step', step: s, tokens: s * job.tokensPerStep, lr: 0.01, loss: 5 - s / 10, gradNorm: 1, skipped: false, tokensPerSec: 100 };
  appendFileSync(join(out, 'metrics.jsonl'), JSON.stringify(row) + '\n');
  console.log(JSON.stringify(row));
}
if (process.env.FAIL) { console.error('out of memory (pretend)'); process.exit(1); }
writeFileSync(join(out, 'trainer-result.json'), JSON.stringify({ format: 'sbp-trainer-result', status: 'finished', resumedFrom: null, step: job.steps,
  tokens: job.steps * job.tokensPerStep, skippedSteps: 0, lastLoss: 5 - job.steps / 10, heldout: null, seconds: 0.1, tokensPerSec: 100 }));
`;

function cfg(over: Partial<TrainerConfig>): TrainerConfig {
  return {
    steps: 4, gradAccumSteps: 2, lr: 0.01, lrFloor: 0.001, warmupFraction: 0.25, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1,
    decayEmbeddings: false, noDecay: [], clip: 1, evalEvery: 0, checkpointEvery: 0, logEvery: 1, maxBadSteps: 3, ...over,
  };
}

/** A real tokenizer (the model folder's tokenizer files are written from it); the model's vocabulary matches it. */
const TOKENIZER_FIXTURE = join(repoRoot, 'test', 'tokenizer', 'fixtures', 'brown-700.tokenizer.json');

const docs = Array.from({ length: 20 }, (_, i) => Array.from({ length: 3 + (i % 5) }, (_, j) => 3 + ((i + j) % 20)));
const corpus = { numDocs: docs.length, doc: (i: number) => docs[i]! };
const modelConfig = resolveModelConfig({ preset: 'tiny', vocabSize: 700, hiddenSize: 16, numLayers: 1, numHeads: 2, numKVHeads: 1, headDim: 8, intermediateSize: 32, maxSeqLen: 16 });

async function runCommand(command: string | undefined, env: Record<string, string> = {}) {
  const dir = tempDir();
  const tok = join(dir, 'tokenizer.json');
  copyFileSync(TOKENIZER_FIXTURE, tok);
  writeFileSync(join(dir, 'fake-trainer.mjs'), FAKE_TRAINER);
  const model = new LlamaModel(modelConfig, new RefBackend(), { seed: 2 });
  const before = model.readParam('model.norm.weight').slice();
  const steps: number[] = [];
  const lines: string[] = [];
  const saved = { ...process.env };
  Object.assign(process.env, env);
  try {
    const result = await trainIntoStage({
      model,
      data: new PackedBatchSource(corpus, 2, 8, { bos: 1, eos: 2 }, 5),
      cfg: cfg({ engine: 'command', command: command?.replace('DIR', dir) }),
      dir: join(dir, 'out'),
      tokenizerPath: tok,
      quiet: true,
      log: (l) => lines.push(l),
      onStep: (m) => steps.push(m.step),
    });
    return { dir, model, before, result, steps, lines };
  } finally {
    process.env = saved;
  }
}

test('command engine: sbp writes the job, runs the command, and loads the model the trainer returns', async () => {
  const r = await runCommand(`${JSON.stringify(process.execPath)} DIR/fake-trainer.mjs {job}`);
  assert.equal(r.result.status, 'finished');
  assert.equal(r.result.step, 4);
  assert.equal(r.result.lastLoss, 4.6);
  assert.deepEqual(r.steps, [1, 2, 3, 4], 'progress lines reach onStep');
  const after = r.model.readParam('model.norm.weight');
  after.forEach((x, i) => assert.equal(x, Math.fround(r.before[i]! + 0.5)));
  const job = JSON.parse(readFileSync(join(r.dir, 'out', 'trainer-job', 'job.json'), 'utf8')) as TrainerJob;
  assert.equal(job.engine, 'command');
  assert.deepEqual([job.steps, job.gradAccumSteps, job.microBatchRows, job.seqLen, job.tokensPerStep], [4, 2, 2, 8, 32]);
  assert.deepEqual(job.schedule, { kind: 'warmup-cosine', peakLr: 0.01, floorLr: 0.001, warmupSteps: 1, totalSteps: 4 });
  assert.deepEqual(job.model.params.filter((p) => p.decay).map((p) => p.name).sort(), job.model.params.filter((p) => p.shape.length === 2 && !/embed_tokens/.test(p.name)).map((p) => p.name).sort());
  assert.equal(readBatchFileHeader(join(r.dir, 'out', 'trainer-job', 'train.batches')).numBatches, 8);
  // The stage folder is a Hugging Face folder with sbp's tokenizer next to the trainer's weights.
  const vocab = (p: string) => (JSON.parse(readFileSync(p, 'utf8')) as { model: { vocab: unknown } }).model.vocab;
  assert.deepEqual(vocab(join(r.dir, 'out', 'tokenizer.json')), vocab(TOKENIZER_FIXTURE));
});

test('command engine: a failing trainer, a missing command and a missing Python stack are user errors that say what to do', async () => {
  await assert.rejects(runCommand(`${JSON.stringify(process.execPath)} DIR/fake-trainer.mjs {job}`, { FAIL: '1' }), (e) => e instanceof UserError && /exited with code 1/.test(e.message) && /out of memory \(pretend\)/.test(e.message));
  await assert.rejects(runCommand(undefined), (e) => e instanceof UserError && /train\.command is not set/.test(e.message));
  const dir = tempDir();
  const tok = join(dir, 'tokenizer.json');
  copyFileSync(TOKENIZER_FIXTURE, tok);
  await assert.rejects(
    trainIntoStage({
      model: new LlamaModel(modelConfig, new RefBackend(), { seed: 2 }),
      data: new PackedBatchSource(corpus, 2, 8, { bos: 1, eos: 2 }, 5),
      cfg: cfg({ engine: 'torch', torch: { python: join(dir, 'no-python'), nprocPerNode: 1, torchrunArgs: [], fsdp: false, device: 'auto', dtype: 'auto', compile: false } }),
      dir: join(dir, 'out'),
      tokenizerPath: tok,
      quiet: true,
      log: () => {},
    }),
    (e) => e instanceof UserError && /cannot run .*no-python/.test(e.message) && /install-python-deps\.sh/.test(e.message),
  );
});
