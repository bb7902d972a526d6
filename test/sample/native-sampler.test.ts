// The native host sampler (CpuBackend.sampleLogits) against the TypeScript LogitsSampler, its
// reference: the same token for every row, option combination and uniform draw, including ties,
// greedy settings, very peaked and very flat rows; bad arguments are clear errors.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CpuBackend } from '../../src/engine/cpu-backend.js';
import { loadNativeAddon } from '../../src/engine/native-addon.js';
import { resolveModelConfig } from '../../src/model/config.js';
import { LlamaModel } from '../../src/model/llama.js';
import { createBatchSampler } from '../../src/sample/batch-sampler.js';
import { LogitsSampler, type SamplingOptions } from '../../src/sample/logits-sampler.js';
import { Rng } from '../../src/sample/rng.js';
import { generate } from '../../src/sample/sampler.js';
import { samplingExp } from '../../src/sample/sampling-exp.js';

/** An Rng stand-in whose next float() is a given value (LogitsSampler draws exactly one per row). */
const fixedDraw = (u: number) => ({ float: () => u }) as unknown as Rng;

type RowKind = 'normal' | 'peaked' | 'flat' | 'equal' | 'quantized' | 'masked' | 'one-hot';

function makeRow(kind: RowKind, V: number, r: Rng): Float32Array {
  const x = new Float32Array(V);
  const normal = () => Math.sqrt(-2 * Math.log(1 - r.float())) * Math.cos(2 * Math.PI * r.float());
  for (let i = 0; i < V; i++) {
    switch (kind) {
      case 'normal': x[i] = 2 * normal(); break;
      case 'peaked': x[i] = 40 * normal(); break; // most probabilities underflow to exactly 0
      case 'flat': x[i] = 1e-6 * normal(); break;
      case 'equal': x[i] = 0.25; break;
      case 'quantized': x[i] = Math.round(normal() * 2) / 2; break; // many ties at every level
      case 'masked': x[i] = r.float() < 0.5 ? -Infinity : normal(); break;
      case 'one-hot': x[i] = i === (V >> 1) ? 30 : 0; break;
    }
  }
  if (kind === 'masked') x[r.int(V)] = 0; // at least one finite logit
  return x;
}

const kinds: RowKind[] = ['normal', 'peaked', 'flat', 'equal', 'quantized', 'masked', 'one-hot'];

describe('native host sampler', () => {
  const isas = loadNativeAddon().availableIsas();
  // every instruction set (each has its own build of the sampler), and another thread count
  const backends = [...isas.map((isa) => new CpuBackend({ isa, threads: 2 })), new CpuBackend({ isa: isas[0], threads: 3 })];

  it('picks the same token as LogitsSampler for every row, option combination and draw', () => {
    const r = new Rng(2024);
    let compared = 0;
    let sampledDistinct = 0;
    for (const V of [1, 2, 7, 300, 4099]) {
      const B = 9;
      const logits = new Float32Array(B * V);
      for (let b = 0; b < B; b++) logits.set(makeRow(kinds[(b + V) % kinds.length]!, V, r), b * V);
      const optionSets: SamplingOptions[] = [];
      for (const temperature of [0, 0.3, 1, 2.5]) {
        for (const topK of [0, 1, 2, 5, V - 1, V, V + 3]) {
          for (const topP of [1, 0.95, 0.5, 0.1, 1e-12]) if (topK >= 0) optionSets.push({ temperature, topK, topP });
        }
      }
      for (const opts of optionSets) {
        const ts = new LogitsSampler(V, opts);
        // a shuffled subset of rows, as a decode step with finished sequences gives
        const rows = Int32Array.from(r.permutation(B)).subarray(0, 1 + r.int(B));
        const n = rows.length;
        const uniforms = Float64Array.from({ length: n }, (_, i) => (i === 0 ? 0 : i === 1 ? 1 - 2 ** -53 : r.float()));
        const want = Int32Array.from(rows, (row, i) => ts.sample(logits, row * V, fixedDraw(uniforms[i]!)));
        for (const be of backends) {
          const got = new Int32Array(n).fill(-7);
          be.sampleLogits(logits, V, rows, n, uniforms, got, opts);
          assert.deepEqual([...got], [...want], `V=${V} ${JSON.stringify(opts)} rows ${[...rows]} on ${be.isa}/${be.threads}`);
          compared += n;
        }
        if (new Set(want).size > 1) sampledDistinct++;
      }
    }
    assert.ok(compared > 2000, `compared ${compared} draws`);
    assert.ok(sampledDistinct > 50, 'the cases draw different tokens, not one constant');
  });

  it('the batch sampler draws from the same random streams as LogitsSampler', () => {
    const V = 1000;
    const B = 6;
    const r = new Rng(5);
    const be = backends[0]!;
    for (const opts of [{ temperature: 1, topK: 0, topP: 0.9 }, { temperature: 0.7, topK: 40, topP: 1 }, { temperature: 0, topK: 0, topP: 1 }]) {
      const native = createBatchSampler(be, V, opts);
      const ts = createBatchSampler(be, V, opts, 'typescript');
      assert.equal(native.kind, 'native');
      assert.equal(ts.kind, 'typescript');
      const rngsA = Array.from({ length: B }, (_, b) => new Rng([3, b]));
      const rngsB = Array.from({ length: B }, (_, b) => new Rng([3, b]));
      const rows = Int32Array.from([0, 2, 3, 5]);
      for (let step = 0; step < 20; step++) {
        const logits = Float32Array.from({ length: B * V }, () => 3 * (r.float() - 0.5));
        const a = new Int32Array(rows.length);
        const b = new Int32Array(rows.length);
        native.sample(logits, rows, rows.length, rngsA, a);
        ts.sample(logits, rows, rows.length, rngsB, b);
        assert.deepEqual([...a], [...b], `step ${step} ${JSON.stringify(opts)}`);
      }
      assert.deepEqual(rngsA.map((x) => x.state()), rngsB.map((x) => x.state()), 'the streams advanced alike');
    }
  });

  it('generate() on the cpu backend gives the same tokens with the native and the TypeScript sampler', () => {
    const config = resolveModelConfig({ preset: 'tiny', vocabSize: 96, hiddenSize: 32, numLayers: 2, numHeads: 4, numKVHeads: 2, headDim: 8, intermediateSize: 64, maxSeqLen: 48 });
    const model = new LlamaModel(config, backends[0]!, { seed: 3 });
    const prompts = [Int32Array.from([1, 40, 41]), Int32Array.from([1]), Int32Array.from([1, 7, 8, 9, 10])];
    for (const sampling of [{ temperature: 1, topK: 0, topP: 0.9 }, { temperature: 1.5, topK: 8, topP: 1 }, { temperature: 0, topK: 0, topP: 1 }]) {
      const opts = { ...sampling, maxTokens: 12, seed: 9, stopTokens: [5] };
      const native = generate(model, prompts, opts);
      const ts = generate(model, prompts, { ...opts, hostSampler: 'typescript' });
      assert.deepEqual(native.map((g) => [...g.tokens]), ts.map((g) => [...g.tokens]), JSON.stringify(sampling));
      assert.deepEqual(native.map((g) => g.finishReason), ts.map((g) => g.finishReason));
    }
  });

  it('samplingExp stays within 2 ulp of Math.exp over the sampler range', () => {
    const r = new Rng(8);
    let worst = 0;
    for (let i = 0; i < 20000; i++) {
      const d = -r.float() * (i % 2 ? 700 : 20);
      const want = Math.exp(d);
      const rel = Math.abs(samplingExp(d) - want) / want;
      if (rel > worst) worst = rel;
    }
    assert.ok(worst <= 2 * 2 ** -52, `worst relative error ${worst}`);
    assert.equal(samplingExp(0), 1);
    assert.equal(samplingExp(-Infinity), 0);
    assert.ok(Number.isNaN(samplingExp(NaN)));
  });

  it('bad arguments are clear errors', () => {
    const be = backends[0]!;
    const logits = new Float32Array(2 * 5);
    const rows = Int32Array.from([0, 1]);
    const out = new Int32Array(2);
    const u = Float64Array.from([0.5, 0.5]);
    const opts = { temperature: 1, topK: 0, topP: 1 };
    const cases: [string, () => void, ErrorConstructor, RegExp][] = [
      ['V zero', () => be.sampleLogits(logits, 0, rows, 2, u, out, opts), RangeError, /V must be a whole number >= 1/],
      ['ragged logits', () => be.sampleLogits(logits, 3, rows, 2, u, out, opts), RangeError, /not a whole number of rows of V = 3/],
      ['n beyond rows', () => be.sampleLogits(logits, 5, rows, 3, u, out, opts), RangeError, /n must be a whole number in \[0, 2\]/],
      ['out too short', () => be.sampleLogits(logits, 5, rows, 2, u, new Int32Array(1), opts), RangeError, /out holds 1 entries/],
      ['row out of range', () => be.sampleLogits(logits, 5, Int32Array.from([0, 2]), 2, u, out, opts), RangeError, /row index 2 at row 1 is outside the batch \[0, 2\)/],
      ['negative temperature', () => be.sampleLogits(logits, 5, rows, 2, u, out, { ...opts, temperature: -1 }), RangeError, /temperature must be >= 0/],
      ['fractional topK', () => be.sampleLogits(logits, 5, rows, 2, u, out, { ...opts, topK: 1.5 }), RangeError, /topK must be a whole number/],
      ['topP zero', () => be.sampleLogits(logits, 5, rows, 2, u, out, { ...opts, topP: 0 }), RangeError, /topP must be in \(0, 1\]/],
      ['no draws', () => be.sampleLogits(logits, 5, rows, 2, null, out, opts), TypeError, /uniforms must be a Float64Array/],
      ['too few draws', () => be.sampleLogits(logits, 5, rows, 2, new Float64Array(1), out, opts), RangeError, /uniforms hold 1 draws/],
      ['draw of 1', () => be.sampleLogits(logits, 5, rows, 2, Float64Array.from([0.1, 1]), out, opts), RangeError, /uniform draw 1 is 1, outside \[0, 1\)/],
      ['NaN draw', () => be.sampleLogits(logits, 5, rows, 2, Float64Array.from([NaN, 0]), out, opts), RangeError, /uniform draw 0 is NaN/],
      ['f64 logits', () => be.sampleLogits(new Float64Array(10) as unknown as Float32Array, 5, rows, 2, u, out, opts), TypeError, /logits must be a Float32Array/],
      ['batch sampler choice', () => createBatchSampler(be, 5, opts, 'gpu' as 'auto'), RangeError, /hostSampler must be 'auto' or 'typescript'/],
    ];
    for (const [name, fn, type, message] of cases) {
      assert.throws(fn, (e: unknown) => e instanceof type && message.test((e as Error).message), name);
    }
    // Non-finite logits: the same error as LogitsSampler, naming the row.
    const bad = Float32Array.from([0, 1, 2, 3, 4, 0, Infinity, 0, 0, 0]);
    assert.throws(() => be.sampleLogits(bad, 5, rows, 2, u, out, opts), /sampling from non-finite logits \(max Infinity\) in row 1/);
    assert.throws(() => new LogitsSampler(5, opts).sample(bad, 5, fixedDraw(0.5)), /sampling from non-finite logits \(max Infinity\)/);
    // Greedy needs no draws, and does not look for non-finite values (as LogitsSampler).
    be.sampleLogits(bad, 5, rows, 2, null, out, { ...opts, temperature: 0 });
    assert.deepEqual([...out], [4, 1]);
  });
});
