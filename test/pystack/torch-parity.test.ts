// Parity of the torch engine with sbp's own trainer: the same initial weights and the same batches give
// the same losses step by step (fp32, CPU), for plain LM training and for synthesizer tuning with the d2
// loss mask; 2-process DDP (gloo) gives the same losses as 1 process at the same global batch; an
// interrupted torch run resumes to the same losses. Needs the Python stack (scripts/install-python-deps.sh).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createBackend } from '../../src/engine/open-backend.js';
import { resolveModelConfig } from '../../src/model/config.js';
import { loadModelFolder } from '../../src/model/hf-folder.js';
import { LlamaModel } from '../../src/model/llama.js';
import type { Batch } from '../../src/model/types.js';
import { synthFraming } from '../../src/synth/synth-framing.js';
import { pairBatches } from '../../src/synth/pair-rows.js';
import { SynthesizerBatchSource } from '../../src/synth/synthesizer-batch-source.js';
import { readBatch, readBatchFileHeader } from '../../src/train/batch-file.js';
import type { BatchSource } from '../../src/train/batch-source.js';
import { readMetricsRows } from '../../src/train/external-trainer.js';
import { heldoutBatches } from '../../src/train/heldout-batches.js';
import { PackedBatchSource } from '../../src/train/packed-batch-source.js';
import { TrainingInterrupted, trainIntoStage } from '../../src/train/train-stage.js';
import type { TrainerConfig } from '../../src/train/trainer.js';
import { TRAINER_JOB_DIR } from '../../src/train/trainer-job.js';
import { repoRoot, tempDir } from '../helpers.js';

// The vocabulary of the real tokenizer the model folders are saved with (test/tokenizer/fixtures/brown-700).
const V = 700;
// Two layers, GQA, QK-norm and tied embeddings (Qwen3ForCausalLM in transformers); untied plain Llama below.
const qwenish = () => resolveModelConfig({ preset: 'tiny', vocabSize: V, hiddenSize: 32, numLayers: 2, numHeads: 4, numKVHeads: 2, headDim: 8, intermediateSize: 64, maxSeqLen: 32 });
const llamaish = () => ({ ...qwenish(), qkNorm: false, tieEmbeddings: false });
const framing = { bos: 1, eos: 2, sep: 3, pad: 0 };
// Token ids 4..47 only: every id of the data is seen often, as in a real corpus.
const DATA_V = 48;
const docs = Array.from({ length: 60 }, (_, i) => Array.from({ length: 4 + ((i * 7) % 13) }, (_, j) => 4 + ((i * 3 + j * (1 + (i % 5))) % (DATA_V - 4))));
const corpus = { numDocs: docs.length, doc: (i: number) => docs[i]! };
// trainIntoStage writes the tokenizer files into the model folder from a real tokenizer.json.
const tokenizerPath = join(repoRoot, 'test', 'tokenizer', 'fixtures', 'brown-700.tokenizer.json');

function cfg(over: Partial<TrainerConfig> = {}): TrainerConfig {
  return {
    steps: 10, gradAccumSteps: 2, lr: 0.02, lrFloor: 0.002, warmupFraction: 0.2, beta1: 0.9, beta2: 0.95, eps: 1e-8,
    weightDecay: 0.1, decayEmbeddings: false, noDecay: ['q_norm'], clip: 0.5, evalEvery: 5, checkpointEvery: 4, logEvery: 1, maxBadSteps: 3,
    ...over,
  };
}

interface Run {
  losses: number[];
  heldout: number[];
  model: LlamaModel;
  dir: string;
}

async function run(engine: 'sbp' | 'torch', mk: { model: () => LlamaModel; data: () => BatchSource; heldout: Batch[] }, c: TrainerConfig, stopAt?: number, dir = tempDir('sbp-parity-')): Promise<Run> {
  const model = mk.model();
  const opts = {
    model,
    data: mk.data(),
    heldout: mk.heldout,
    cfg: { ...c, engine },
    dir,
    tokenizerPath,
    quiet: true,
    log: () => {},
    shouldStop: stopAt === undefined ? undefined : (step: number) => step >= stopAt,
  };
  await trainIntoStage(opts);
  const rows = readMetricsRows(dir);
  return {
    losses: rows.filter((r) => r.kind === 'step').map((r) => r.loss as number),
    heldout: rows.filter((r) => r.kind === 'eval').map((r) => r.heldoutLoss as number),
    model,
    dir,
  };
}

/** Largest |a - b| / max(1, |b|) over two equal-length series. */
function maxDelta(a: number[], b: number[]): number {
  assert.equal(a.length, b.length, `series of ${a.length} and ${b.length} values`);
  return Math.max(...a.map((x, i) => Math.abs(x - b[i]!) / Math.max(1, Math.abs(b[i]!))));
}

function maxWeightDelta(a: LlamaModel, b: LlamaModel): number {
  let d = 0;
  for (const e of a.paramTable) {
    const x = a.readParam(e.name);
    const y = b.readParam(e.name);
    for (let i = 0; i < x.length; i++) d = Math.max(d, Math.abs(x[i]! - y[i]!));
  }
  return d;
}

// fp32 both sides; the engines sum in different orders (GEMM blocking, reductions in attention and the
// loss, the AdamW formula's sqrt(v/bc2) vs sqrt(v)/sqrt(bc2)), so each op differs by a few ulps
// (~1e-7 relative), and training amplifies that only mildly over 10 steps at these learning rates.
// Measured deltas are printed; 1e-4 relative leaves two orders of magnitude of headroom over them
// while still catching any real difference (a wrong weight decay, clip rule, schedule or mask moves
// the losses by 1e-3 or more within a few steps).
const TOL = 1e-4;

const packed = (model: () => LlamaModel) => ({
  model,
  data: () => new PackedBatchSource(corpus, 4, 16, framing, 7),
  heldout: heldoutBatches(corpus, 4, 16, framing, 192),
});

test('batch file: the trainer job holds exactly the batches the source yields', async () => {
  const mk = packed(() => new LlamaModel(qwenish(), createBackend('ref'), { seed: 5 }));
  const r = await run('torch', mk, cfg({ steps: 3, evalEvery: 0 }));
  const path = join(r.dir, TRAINER_JOB_DIR, 'train.batches');
  const h = readBatchFileHeader(path);
  assert.deepEqual([h.B, h.T, h.numBatches, h.hasMask, h.tokenBytes], [4, 16, 6, false, 2]);
  const src = mk.data();
  for (let i = 0; i < 6; i++) {
    const want = src.next();
    const got = readBatch(path, h, i);
    assert.deepEqual(Array.from(got.tokens), Array.from(want.tokens), `batch ${i} tokens`);
    assert.deepEqual(Array.from(got.targets), Array.from(want.targets), `batch ${i} targets`);
  }
});

for (const [name, mkConfig] of [['Qwen3 (QK-norm, tied)', qwenish], ['Llama (untied)', llamaish]] as const) {
  test(`parity, plain LM training, ${name}: torch and sbp losses agree step by step (fp32 CPU)`, async () => {
    const mk = packed(() => new LlamaModel(mkConfig(), createBackend('ref'), { seed: 11 }));
    const sbp = await run('sbp', mk, cfg());
    const torch = await run('torch', mk, cfg());
    const d = maxDelta(torch.losses, sbp.losses);
    const dh = maxDelta(torch.heldout, sbp.heldout);
    const dw = maxWeightDelta(torch.model, sbp.model);
    console.log(JSON.stringify({ parity: `lm ${name}`, steps: sbp.losses.length, maxLossDelta: d, maxHeldoutDelta: dh, maxWeightDelta: dw, firstLoss: sbp.losses[0], lastLoss: sbp.losses.at(-1) }));
    assert.equal(sbp.losses.length, 10);
    assert.ok(sbp.losses.at(-1)! < sbp.losses[0]! - 0.3, 'the model learns (otherwise parity would be vacuous)');
    assert.ok(d < TOL, `step losses differ by ${d}`);
    assert.ok(dh < TOL, `held-out losses differ by ${dh}`);
    assert.ok(dw < 1e-3, `final weights differ by ${dw}`);
    // The trainer's folder loads with sbp's loader and holds the weights copied into the model.
    const back = loadModelFolder(torch.dir, createBackend('ref'));
    assert.equal(maxWeightDelta(back, torch.model), 0);
  });
}

test('parity, synthesizer tuning with the d2 loss mask: torch and sbp agree step by step', async () => {
  const f = synthFraming(24, 0.5);
  const pairs = { d1: Uint32Array.from({ length: 40 }, (_, i) => i), d2: Uint32Array.from({ length: 40 }, (_, i) => (i * 7 + 3) % 60) };
  const heldPairs = { d1: Uint32Array.from([50, 51, 52, 53, 54]), d2: Uint32Array.from([10, 20, 30, 40, 0]) };
  const tok = { bos: 1, eos: 2, sep: 3, pad: 0 };
  const mk = {
    model: () => new LlamaModel(qwenish(), createBackend('ref'), { seed: 3 }),
    data: () => new SynthesizerBatchSource(corpus, pairs, 3, f, tok, 13),
    heldout: pairBatches(corpus, heldPairs, 3, f, tok, 'conditional'),
  };
  assert.ok(mk.data().next().mask!.some((m) => m === 0), 'the rows carry a loss mask');
  const c = cfg({ gradAccumSteps: 3 });
  const sbp = await run('sbp', mk, c);
  const torch = await run('torch', mk, c);
  const d = maxDelta(torch.losses, sbp.losses);
  const dh = maxDelta(torch.heldout, sbp.heldout);
  console.log(JSON.stringify({ parity: 'tune d2 mask', steps: sbp.losses.length, maxLossDelta: d, maxHeldoutDelta: dh, maxWeightDelta: maxWeightDelta(torch.model, sbp.model) }));
  assert.ok(d < TOL, `step losses differ by ${d}`);
  assert.ok(dh < TOL, `held-out losses differ by ${dh}`);
  // The mask matters: unmasked training on the same rows gives other losses (so the test can fail).
  const unmasked = await run('torch', { ...mk, data: () => unmask(mk.data()) }, c);
  assert.ok(maxDelta(unmasked.losses, sbp.losses) > 1e-2, 'training without the mask must differ');
});

test('DDP: 2 processes (gloo) give the losses of 1 process at the same global batch', async () => {
  const mk = packed(() => new LlamaModel(qwenish(), createBackend('ref'), { seed: 11 }));
  const one = await run('torch', mk, cfg());
  const two = await run('torch', mk, cfg({ torch: { nprocPerNode: 2, torchrunArgs: [], fsdp: false, device: 'cpu', dtype: 'fp32', compile: false, microBatch: 2 } }));
  const d = maxDelta(two.losses, one.losses);
  const dh = maxDelta(two.heldout, one.heldout);
  console.log(JSON.stringify({ parity: 'ddp 2 vs 1 process', maxLossDelta: d, maxHeldoutDelta: dh, maxWeightDelta: maxWeightDelta(two.model, one.model) }));
  assert.ok(d < TOL, `step losses differ by ${d}`);
  assert.ok(dh < TOL, `held-out losses differ by ${dh}`);
});

test('FSDP: 2 processes (gloo) shard the model and still give sbp\'s losses', async () => {
  const mk = packed(() => new LlamaModel(qwenish(), createBackend('ref'), { seed: 11 }));
  const c = cfg({ steps: 6 });
  const sbp = await run('sbp', mk, c);
  const fsdp = await run('torch', mk, { ...c, torch: { nprocPerNode: 2, torchrunArgs: [], fsdp: true, device: 'cpu', dtype: 'fp32', compile: false } });
  const d = maxDelta(fsdp.losses, sbp.losses);
  console.log(JSON.stringify({ parity: 'fsdp 2 processes vs sbp', maxLossDelta: d, maxHeldoutDelta: maxDelta(fsdp.heldout, sbp.heldout), maxWeightDelta: maxWeightDelta(fsdp.model, sbp.model) }));
  assert.ok(d < TOL, `step losses differ by ${d}`);
});

test('torch engine: an interrupted run resumes from its checkpoint to the losses of an uninterrupted one', async () => {
  const mk = packed(() => new LlamaModel(qwenish(), createBackend('ref'), { seed: 11 }));
  const whole = await run('torch', mk, cfg());
  const dir = tempDir('sbp-resume-');
  await assert.rejects(run('torch', mk, cfg(), 3, dir), (err) => err instanceof TrainingInterrupted);
  const state = JSON.parse(readFileSync(join(dir, 'checkpoint', 'trainer-state.json'), 'utf8')) as { step: number };
  assert.ok(state.step >= 3 && state.step < 10, `checkpoint at step ${state.step}`);
  const resumed = await run('torch', mk, cfg(), undefined, dir);
  assert.deepEqual(resumed.losses, whole.losses);
});

function unmask(src: BatchSource): BatchSource {
  return {
    B: src.B,
    T: src.T,
    tokensPerBatch: src.tokensPerBatch,
    next: () => ({ ...src.next(), mask: null }),
    state: () => src.state(),
    restore: (s) => src.restore(s),
  };
}
