import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RefBackend } from '../../src/engine/ref-backend.js';
import { loadModelFolder } from '../../src/model/hf-folder.js';
import { resolveModelConfig } from '../../src/model/config.js';
import { LlamaModel } from '../../src/model/llama.js';
import type { Batch, KVCache, LanguageModel } from '../../src/model/types.js';
import { SafetensorsFile } from '../../src/model/safetensors.js';
import type { BatchSource } from '../../src/train/batch-source.js';
import { hfModelStore } from '../../src/train/hf-model-store.js';
import { PackedBatchSource } from '../../src/train/packed-batch-source.js';
import { NonFiniteTrainingError, train, type TrainerConfig } from '../../src/train/trainer.js';
import { repoRoot, tempDir } from '../helpers.js';

const tiny = resolveModelConfig({ preset: 'tiny', vocabSize: 64, hiddenSize: 16, numLayers: 1, numHeads: 2, numKVHeads: 1, headDim: 8, intermediateSize: 32, maxSeqLen: 16 });
const docs = Array.from({ length: 24 }, (_, i) => Array.from({ length: 4 + (i % 5) }, (_, j) => 3 + ((i * 7 + j * 3) % 60)));
const corpus = { numDocs: docs.length, doc: (i: number) => docs[i]! };
const framing = { bos: 1, eos: 2 };

function cfg(over: Partial<TrainerConfig> = {}): TrainerConfig {
  return {
    steps: 8, gradAccumSteps: 2, lr: 1e-2, lrFloor: 1e-3, warmupFraction: 0.25, beta1: 0.9, beta2: 0.95, eps: 1e-8,
    weightDecay: 0.1, decayEmbeddings: true, noDecay: [], clip: 1, evalEvery: 0, checkpointEvery: 3, logEvery: 1, maxBadSteps: 2,
    ...over,
  };
}

/** Delegates to a real model and poisons the gradient (and loss) of chosen forwardBackward calls with NaN. */
class NanInjector implements LanguageModel {
  calls = 0;
  constructor(readonly inner: LlamaModel, readonly poison: (call: number) => boolean) {}
  get config() { return this.inner.config; }
  get backend() { return this.inner.backend; }
  get params() { return this.inner.params; }
  get grads() { return this.inner.grads; }
  get paramTable() { return this.inner.paramTable; }
  get numParams() { return this.inner.numParams; }
  zeroGrads() { this.inner.zeroGrads(); }
  forwardBackward(batch: Batch, opts?: { gradScale?: number }) {
    const r = this.inner.forwardBackward(batch, opts);
    if (!this.poison(++this.calls)) return r;
    this.backend.upload(this.backend.view(this.grads, 5, [1]), new Float32Array([NaN]));
    return { loss: NaN, tokens: r.tokens };
  }
  evalLoss(b: Batch) { return this.inner.evalLoss(b); }
  logits(t: Int32Array, B: number, T: number) { return this.inner.logits(t, B, T); }
  hiddenStates(t: Int32Array, B: number, T: number) { return this.inner.hiddenStates(t, B, T); }
  createKVCache(B: number, cap: number) { return this.inner.createKVCache(B, cap); }
  step(c: KVCache, t: Int32Array, T: number, a?: Uint8Array) { return this.inner.step(c, t, T, a); }
}

const hf = hfModelStore();
const unwrap = (m: LanguageModel) => (m instanceof NanInjector ? m.inner : m);

async function run(dir: string, c: TrainerConfig, opts: { stopAt?: number; poison?: (call: number) => boolean } = {}) {
  const inner = new LlamaModel(tiny, new RefBackend(), { seed: 5 });
  const model = opts.poison ? new NanInjector(inner, opts.poison) : inner;
  const losses: Array<number | null> = [];
  const result = await train({
    model,
    data: new PackedBatchSource(corpus, 2, 8, framing, 3),
    cfg: c,
    dir,
    models: { save: (d, m) => hf.save(d, unwrap(m)), loadInto: (d, m) => hf.loadInto(d, unwrap(m)) },
    quiet: true,
    log: () => {},
    shouldStop: opts.stopAt === undefined ? undefined : (s) => s >= opts.stopAt!,
    onStep: (m) => losses.push(m.loss),
  });
  return { model: inner, losses, result };
}

test('Llama: interrupt + resume through Hugging Face checkpoints gives the same float trajectory', async () => {
  const whole = await run(tempDir(), cfg());
  const dir = tempDir();
  const a = await run(dir, cfg(), { stopAt: 4 });
  assert.equal(a.result.status, 'interrupted');
  assert.ok(existsSync(join(dir, 'checkpoint', 'model.safetensors')) && existsSync(join(dir, 'checkpoint', 'optimizer.bin')));
  const b = await run(dir, cfg());
  assert.equal(b.result.resumedFrom, 4);
  assert.deepEqual([...a.losses, ...b.losses], whole.losses);
  assert.ok(whole.losses.every((l) => l !== null && Number.isFinite(l)));
  assert.deepEqual(b.model.backend.download(b.model.params), whole.model.backend.download(whole.model.params));
});

test('Llama: an injected NaN skips one step; NaN every step stops with a message and a finite checkpoint', async () => {
  const one = await run(tempDir(), cfg(), { poison: (c) => c === 7 }); // step 4, first micro-batch
  assert.equal(one.result.status, 'finished');
  assert.equal(one.result.skippedSteps, 1);
  assert.equal(one.losses[3], null);
  assert.ok(Number.isFinite(one.model.backend.sumSquares(one.model.params)));

  const dir = tempDir();
  await assert.rejects(run(dir, cfg(), { poison: (c) => c > 8 }), (e: unknown) => e instanceof NonFiniteTrainingError && /steps 5\.\.6/.test((e as Error).message));
  const saved = loadModelFolder(join(dir, 'checkpoint'), new RefBackend());
  assert.ok(Number.isFinite(saved.backend.sumSquares(saved.params)));
  assert.equal(JSON.parse(readFileSync(join(dir, 'checkpoint', 'trainer-state.json'), 'utf8')).step, 3);
  // Resumed from that checkpoint and failing on every step since: the message must not vouch for it.
  await assert.rejects(run(dir, cfg(), { poison: () => true }), (e: unknown) => {
    const m = (e as Error).message;
    return e instanceof NonFiniteTrainingError && /Every step since resuming from .*checkpoint \(step 3\) failed, so that checkpoint may be the cause: rerun with --force/.test(m) && !/holds finite weights/.test(m);
  });
});

/** The same batch every step (overfitting, golden comparisons). */
function fixedSource(batch: Batch): BatchSource {
  return { B: batch.B, T: batch.T, tokensPerBatch: batch.B * batch.T, next: () => batch, state: () => ({ kind: 'fixed' }), restore: () => {} };
}

for (const name of ['qknorm-tied', 'plain-untied']) {
  test(`trainer reproduces the PyTorch AdamW golden (${name}): 10 losses and final weights`, async () => {
    const dir = join(repoRoot, 'test/golden', name);
    const meta = JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8'));
    const hp = meta.adamw;
    assert.equal(hp.no_decay, 'parameters whose name ends in norm.weight'); // = our rule with decayEmbeddings
    const model = loadModelFolder(join(dir, 'model'), new RefBackend());
    const batch: Batch = { B: meta.B, T: meta.T, tokens: Int32Array.from(meta.tokens), targets: Int32Array.from(meta.targets), mask: Float32Array.from(meta.mask) };
    const losses: number[] = [];
    await train({
      model,
      data: fixedSource(batch),
      // constant lr (floor = peak, no warm-up), no clipping, one micro-batch: plain torch.optim.AdamW
      cfg: cfg({ steps: hp.steps, gradAccumSteps: 1, lr: hp.lr, lrFloor: hp.lr, warmupFraction: 0, beta1: hp.beta1, beta2: hp.beta2, eps: hp.eps, weightDecay: hp.weight_decay, clip: 0, checkpointEvery: 0 }),
      dir: tempDir(),
      models: { save: () => {}, loadInto: () => {} },
      quiet: true,
      onStep: (m) => losses.push(m.loss!),
    });
    const dLoss = Math.max(...losses.map((l, i) => Math.abs(l - hp.losses[i])));
    const f = SafetensorsFile.open(join(dir, 'adamw-final.safetensors'));
    let dWeight = 0;
    for (const e of model.paramTable) {
      const want = f.read(e.name);
      const got = model.readParam(e.name);
      for (let i = 0; i < want.length; i++) dWeight = Math.max(dWeight, Math.abs(got[i]! - want[i]!));
    }
    f.close();
    console.log(`# ${name}: trainer vs torch AdamW max |Δloss| ${dLoss.toExponential(2)}, max |Δweight| ${dWeight.toExponential(2)}`);
    assert.ok(dLoss <= 1e-4, `losses ${losses} vs ${hp.losses}`);
    assert.ok(dWeight <= 3e-4, `final weights max |Δ| ${dWeight}`);
  });
}

test('one batch can be overfit', async () => {
  const model = new LlamaModel(tiny, new RefBackend(), { seed: 1 });
  const src = new PackedBatchSource(corpus, 2, 12, framing, 4);
  const batch = structuredClone(src.next());
  const losses: number[] = [];
  await train({
    model,
    data: fixedSource(batch),
    cfg: cfg({ steps: 60, gradAccumSteps: 1, lr: 3e-2, lrFloor: 3e-3, warmupFraction: 0.05, weightDecay: 0, checkpointEvery: 0 }),
    dir: tempDir(),
    models: { save: () => {}, loadInto: () => {} },
    quiet: true,
    onStep: (m) => losses.push(m.loss!),
  });
  console.log(`# overfit one batch: loss ${losses[0]!.toFixed(3)} → ${losses[losses.length - 1]!.toFixed(3)}`);
  assert.ok(losses[0]! > 3.5, 'starts near ln(64)');
  assert.ok(losses[losses.length - 1]! < 0.15, `memorised: final loss ${losses[losses.length - 1]}`);
});
