import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RefBackend } from '../../src/engine/ref-backend.js';
import { LlamaModel } from '../../src/model/llama.js';
import { Mulberry32 } from '../../src/common/mulberry32.js';
import { countParams } from '../../src/model/config.js';
import { isNormWeight } from '../../src/model/param-table.js';
import type { Batch, ModelConfig } from '../../src/model/types.js';

const TINY: ModelConfig = {
  vocabSize: 48, hiddenSize: 16, numLayers: 2, numHeads: 4, numKVHeads: 2, headDim: 4, intermediateSize: 24,
  maxSeqLen: 16, ropeTheta: 10_000, rmsNormEps: 1e-5, qkNorm: true, tieEmbeddings: true, bosTokenId: 1, eosTokenId: 2, padTokenId: 0,
};

/** A model with weights larger than the 0.02 init (and norms off 1) so every path carries signal. */
function model(config: ModelConfig, seed = 7): LlamaModel {
  const m = new LlamaModel(config, new RefBackend(), { seed });
  const rng = new Mulberry32(seed + 100);
  for (const e of m.paramTable) {
    const data = rng.normalArray(e.size, isNormWeight(e.name) ? 0.1 : 0.3);
    if (isNormWeight(e.name)) for (let i = 0; i < data.length; i++) data[i]! += 1;
    m.writeParam(e.name, data);
  }
  return m;
}

function randomBatch(config: ModelConfig, B: number, T: number, seed: number, withMask: boolean): Batch {
  const rng = new Mulberry32(seed);
  const ints = () => Int32Array.from({ length: B * T }, () => rng.int(config.vocabSize));
  const mask = withMask ? Float32Array.from({ length: B * T }, (_, i) => (i % T < 2 || rng.uniform() < 0.3 ? 0 : 1)) : null;
  return { B, T, tokens: ints(), targets: ints(), mask };
}

test('parameter table: one contiguous layout whose size equals countParams, HF names, init like HF', () => {
  for (const cfg of [TINY, { ...TINY, qkNorm: false, tieEmbeddings: false }]) {
    const m = new LlamaModel(cfg, new RefBackend(), { seed: 3 });
    assert.equal(m.numParams, countParams(cfg).total);
    let offset = 0;
    for (const e of m.paramTable) {
      assert.equal(e.offset, offset, e.name);
      offset += e.size;
    }
    assert.equal(m.paramTable.some((e) => e.name === 'lm_head.weight'), !cfg.tieEmbeddings);
    assert.equal(m.paramTable.some((e) => e.name.endsWith('q_norm.weight')), cfg.qkNorm);
    const norm = m.readParam('model.norm.weight');
    assert.ok(norm.every((x) => x === 1));
    const wq = m.readParam('model.layers.1.self_attn.q_proj.weight');
    const std = Math.sqrt(wq.reduce((a, x) => a + x * x, 0) / wq.length);
    assert.ok(Math.abs(std - 0.02) < 0.004, `init std ${std}`);
  }
});

test('finite differences of the whole model loss agree with forwardBackward (ref backend, a few entries of every tensor)', () => {
  const m = model(TINY);
  const batch = randomBatch(TINY, 2, 5, 11, true);
  m.zeroGrads();
  m.forwardBackward(batch);
  const rng = new Mulberry32(5);
  const h = 1e-2;
  let worst = 0;
  for (const e of m.paramTable) {
    const grad = m.backend.download(m.gradView(e.name)) as Float32Array;
    const w = m.readParam(e.name);
    for (let s = 0; s < 3; s++) {
      const i = rng.int(e.size);
      const orig = w[i]!;
      const lossAt = (x: number) => {
        w[i] = x;
        m.writeParam(e.name, w);
        const r = m.evalLoss(batch);
        return r.sumLoss / r.tokens;
      };
      const numeric = (lossAt(orig + h) - lossAt(orig - h)) / (2 * h);
      lossAt(orig);
      const diff = Math.abs(numeric - grad[i]!);
      worst = Math.max(worst, diff);
      assert.ok(diff <= 3e-4 + 3e-2 * Math.abs(numeric), `${e.name}[${i}]: analytic ${grad[i]} vs numeric ${numeric}`);
    }
  }
  console.log(`# finite-difference worst |Δ| ${worst.toExponential(2)}`);
});

test('masked loss is the mean over mask = 1 tokens only, recomputed from logits on the host', () => {
  const m = model(TINY);
  const batch = randomBatch(TINY, 2, 6, 12, true);
  const logits = m.logits(batch.tokens, batch.B, batch.T);
  const V = TINY.vocabSize;
  let sum = 0, count = 0;
  for (let n = 0; n < batch.B * batch.T; n++) {
    if (batch.mask![n] === 0) continue;
    const row = logits.subarray(n * V, (n + 1) * V);
    const max = Math.max(...row);
    const lse = max + Math.log(row.reduce((a, x) => a + Math.exp(x - max), 0));
    sum += lse - row[batch.targets[n]!]!;
    count++;
  }
  assert.ok(count > 0 && count < batch.B * batch.T, 'the mask should hide some tokens and keep others');
  const ev = m.evalLoss(batch);
  assert.equal(ev.tokens, count);
  assert.ok(Math.abs(ev.sumLoss - sum) < 1e-4, `${ev.sumLoss} vs ${sum}`);
  m.zeroGrads();
  const fb = m.forwardBackward(batch);
  assert.ok(Math.abs(fb.loss - sum / count) < 1e-5);
  // changing a target under mask = 0 changes nothing
  const hidden = batch.mask!.findIndex((x) => x === 0);
  const other = { ...batch, targets: batch.targets.slice() };
  other.targets[hidden] = (other.targets[hidden]! + 1) % V;
  assert.equal(m.evalLoss(other).sumLoss, ev.sumLoss);
  // a batch that counts nothing adds no gradient
  m.zeroGrads();
  assert.deepEqual(m.forwardBackward({ ...batch, mask: new Float32Array(batch.B * batch.T) }), { loss: 0, tokens: 0 });
  assert.equal(m.backend.sumSquares(m.grads), 0);
});

test('gradient accumulation: two calls with gradScale 0.5 equal one call', () => {
  const m = model(TINY);
  const batch = randomBatch(TINY, 1, 7, 13, false);
  m.zeroGrads();
  m.forwardBackward(batch);
  const once = m.backend.download(m.grads);
  m.zeroGrads();
  m.forwardBackward(batch, { gradScale: 0.5 });
  m.forwardBackward(batch, { gradScale: 0.5 });
  const twice = m.backend.download(m.grads);
  let worst = 0;
  for (let i = 0; i < once.length; i++) worst = Math.max(worst, Math.abs(once[i]! - twice[i]!));
  assert.ok(worst < 1e-6, `max |Δ| ${worst}`);
  assert.ok(m.backend.sumSquares(m.grads) > 0);
});

test('KV-cache step() logits equal full-sequence logits at every position (prefill, token by token, chunks, inactive rows)', () => {
  for (const cfg of [TINY, { ...TINY, qkNorm: false, tieEmbeddings: false, numKVHeads: 1 }]) {
    const m = model(cfg);
    const B = 2, T = 9, V = cfg.vocabSize;
    const tokens = randomBatch(cfg, B, T, 14, false).tokens;
    const full = m.logits(tokens, B, T); // (B, T, V)
    const at = (b: number, t: number) => full.subarray((b * T + t) * V, (b * T + t + 1) * V);
    const close = (got: Float32Array, b: number, t: number, what: string) => {
      let d = 0;
      for (let i = 0; i < V; i++) d = Math.max(d, Math.abs(got[b * V + i]! - at(b, t)[i]!));
      assert.ok(d < 1e-5, `${what}: sequence ${b} position ${t}: max |Δ| ${d}`);
    };
    const cols = (t0: number, t1: number) => {
      const out = new Int32Array(B * (t1 - t0));
      for (let b = 0; b < B; b++) out.set(tokens.subarray(b * T + t0, b * T + t1), b * (t1 - t0));
      return out;
    };
    const cache = m.createKVCache(B, 12);
    // prefill 3 tokens, then one at a time, then a chunk of 2 (continuing), then one at a time
    let out = m.step(cache, cols(0, 3), 3);
    for (let b = 0; b < B; b++) close(out, b, 2, 'prefill');
    for (let t = 3; t < 5; t++) {
      out = m.step(cache, cols(t, t + 1), 1);
      for (let b = 0; b < B; b++) close(out, b, t, 'decode');
    }
    out = m.step(cache, cols(5, 7), 2);
    for (let b = 0; b < B; b++) close(out, b, 6, 'chunk');
    // sequence 1 pauses for one step: its cache and length stay as they were
    out = m.step(cache, cols(7, 8), 1, Uint8Array.from([1, 0]));
    close(out, 0, 7, 'active row');
    assert.deepEqual([...cache.lens], [8, 7]);
    assert.ok(out.subarray(V).every((x) => x === 0), 'an inactive row returns zeros');
    // catch sequence 1 up, then both advance together
    const catchUp = new Int32Array(B);
    catchUp[1] = tokens[1 * T + 7]!;
    out = m.step(cache, catchUp, 1, Uint8Array.from([0, 1]));
    close(out, 1, 7, 'catch-up row');
    out = m.step(cache, cols(8, 9), 1);
    for (let b = 0; b < B; b++) close(out, b, 8, 'after pause');
    assert.throws(() => m.step(cache, cols(0, 4), 4), /exceed the cache capacity/);
    cache.reset();
    out = m.step(cache, cols(0, 1), 1);
    for (let b = 0; b < B; b++) close(out, b, 0, 'after reset');
  }
});

test('hiddenStates are the final-norm activations: logits = hidden · embeddingᵀ when tied', () => {
  const m = model(TINY);
  const batch = randomBatch(TINY, 1, 4, 15, false);
  const hidden = m.hiddenStates(batch.tokens, 1, 4); // (1, 4, C)
  const logits = m.logits(batch.tokens, 1, 4);
  const wte = m.readParam('model.embed_tokens.weight');
  const C = TINY.hiddenSize, V = TINY.vocabSize;
  for (let t = 0; t < 4; t++)
    for (let v = 0; v < V; v++) {
      let s = 0;
      for (let c = 0; c < C; c++) s += hidden[t * C + c]! * wte[v * C + c]!;
      assert.ok(Math.abs(s - logits[t * V + v]!) < 1e-5);
    }
});

test('overfits one batch: loss goes from ~log V to near 0 in 150 AdamW steps', () => {
  const cfg: ModelConfig = { ...TINY, vocabSize: 32, hiddenSize: 32, numHeads: 4, numKVHeads: 2, headDim: 8, intermediateSize: 64 };
  const m = new LlamaModel(cfg, new RefBackend(), { seed: 1 });
  const be = m.backend;
  const batch = randomBatch(cfg, 2, 12, 16, true);
  const mom = be.alloc([m.numParams]), vel = be.alloc([m.numParams]);
  let first = 0, last = 0;
  for (let step = 1; step <= 150; step++) {
    m.zeroGrads();
    last = m.forwardBackward(batch).loss;
    if (step === 1) first = last;
    be.adamw(m.params, m.grads, mom, vel, { lr: 1e-2, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0, step });
  }
  console.log(`# overfit: loss ${first.toFixed(3)} → ${last.toFixed(4)}`);
  assert.ok(Math.abs(first - Math.log(cfg.vocabSize)) < 0.1, `initial loss ${first} should be near log V`);
  assert.ok(last < 0.05, `final loss ${last}`);
});

test('shape errors: wrong token count, out-of-vocabulary token, sequence longer than maxSeqLen', () => {
  const m = model(TINY);
  assert.throws(() => m.logits(new Int32Array(5), 1, 4), RangeError);
  assert.throws(() => m.logits(Int32Array.from([0, 1, 48, 2]), 1, 4), /outside the vocabulary/);
  assert.throws(() => m.logits(new Int32Array(17), 1, 17), /maxSeqLen/);
  assert.throws(() => m.createKVCache(1, 17), /capacity/);
});
