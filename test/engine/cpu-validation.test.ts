// Bad shapes and out-of-range indices are RangeErrors raised before any native work; the factory,
// the per-op timing and the instruction-set choice behave as documented.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createBackend } from '../../src/engine/index.js';
import { CpuBackend } from '../../src/engine/cpu-backend.js';
import { loadNativeAddon } from '../../src/engine/native-addon.js';

describe('cpu backend validation', () => {
  const be = new CpuBackend({ threads: 2 });
  const f = (...shape: number[]) => be.alloc(shape);
  const i = (...shape: number[]) => be.alloc(shape, 'i32');

  const cases: [string, () => void, RegExp][] = [
    ['matmul inner dims', () => be.matmul(f(4, 5), f(4, 3), f(4, 5)), /inner dimensions differ/],
    ['matmul out shape', () => be.matmul(f(4, 6), f(4, 3), f(3, 5)), /out \[4, 6\] should be 4x5/],
    ['matmul overlapping out', () => { const a = f(4, 4); be.matmul(a, a, f(4, 4)); }, /must not overlap/],
    ['matmul i32 operand', () => be.matmul(f(2, 2), i(2, 2), f(2, 2)), /expected an f32 host tensor/],
    ['add size', () => be.add(f(3), f(3), f(4)), /add b: expected 3 elements/],
    ['view out of range', () => be.view(f(10), 8, [3]), /does not fit/],
    ['embedding token out of vocab', () => { const t = i(2); be.upload(t, Int32Array.from([1, 9])); be.embeddingForward(f(2, 4), t, f(5, 4)); }, /token 9 at row 1 is outside the vocabulary \[0, 5\)/],
    ['rmsnorm weight size', () => be.rmsnormForward(f(2, 4), f(2), f(2, 4), f(3), 1e-5), /last dimension should be 3/],
    ['rope position out of range', () => { const p = i(2); be.upload(p, Int32Array.from([0, 8])); be.ropeForward(f(2, 1, 4), f(2, 1, 4), p, f(8, 2), f(8, 2)); }, /position 8 at row 1 is outside \[0, 8\)/],
    ['attention heads not a multiple', () => be.attentionForward(f(1, 3, 3, 4), f(1, 3, 3), f(1, 3, 3, 4), f(1, 3, 2, 4), f(1, 3, 2, 4)), /not a multiple/],
    ['attention lse shape', () => be.attentionForward(f(1, 3, 2, 4), f(1, 3, 2), f(1, 3, 2, 4), f(1, 3, 2, 4), f(1, 3, 2, 4)), /lse: expected shape \[1, 2, 3\]/],
    ['attention head size too large', () => be.attentionForward(f(1, 1, 1, 200), f(1, 1, 1), f(1, 1, 1, 200), f(1, 1, 1, 200), f(1, 1, 1, 200)), /head size 200/],
    ['decode length beyond cache', () => { const l = i(1); be.upload(l, Int32Array.from([6])); be.attentionDecode(f(1, 2, 4), f(1, 2, 4), f(1, 5, 1, 4), f(1, 5, 1, 4), l); }, /length 6 at row 0 is outside \[0, 6\)/],
    ['kv cache overflow', () => { const p = i(1); be.upload(p, Int32Array.from([4])); be.kvCacheWrite(f(1, 5, 1, 4), f(1, 2, 1, 4), p); }, /start position 4 at row 0 is outside \[0, 4\)/],
    ['cross-entropy target', () => { const t = i(2); be.upload(t, Int32Array.from([0, -1])); be.crossEntropyForward(f(2), f(2, 3), t, null); }, /target -1 at row 1/],
    ['cross-entropy mask size', () => be.crossEntropyBackward(f(2, 3), f(2, 3), i(2), f(3), 1), /mask: expected 2 elements/],
    ['adamw step', () => be.adamw(f(3), f(3), f(3), f(3), { lr: 1, beta1: 0.9, beta2: 0.9, eps: 1e-8, weightDecay: 0, step: 0 }), /step must be an integer >= 1/],
    ['setThreads', () => be.setThreads(0), /positive integer/],
  ];
  for (const [name, fn, message] of cases) {
    it(`${name} is a RangeError`, () => assert.throws(fn, (err: unknown) => err instanceof RangeError && message.test((err as Error).message)));
  }

  it('a failed op leaves its output untouched (indices are checked before work starts)', () => {
    const out = f(2, 4);
    be.fill(out, 7);
    const t = i(2);
    be.upload(t, Int32Array.from([0, 99]));
    assert.throws(() => be.embeddingForward(out, t, f(5, 4)), RangeError);
    assert.ok((be.download(out) as Float32Array).every((v) => v === 7));
  });
});

describe('cpu backend extras', () => {
  it('createBackend builds both backends and rejects unknown names', () => {
    assert.equal(createBackend('ref').name, 'ref');
    assert.equal(createBackend('cpu', { threads: 1 }).name, 'cpu');
    assert.throws(() => createBackend('gpu' as never), /unknown engine backend 'gpu'/);
  });

  it('per-op timing counts calls and time, and resets', () => {
    const be = new CpuBackend({ threads: 1 });
    const a = be.alloc([64, 64]), c = be.alloc([64, 64]);
    be.matmul(c, a, a);
    be.matmul(c, a, a);
    be.scale(c, 2);
    const s = be.opStats();
    assert.equal(s['matmul']?.calls, 2);
    assert.equal(s['scale']?.calls, 1);
    assert.ok(s['matmul']!.ms > 0);
    be.resetOpStats();
    assert.deepEqual(be.opStats(), {});
    const quiet = new CpuBackend({ threads: 1, profile: false });
    quiet.scale(quiet.alloc([4]), 2);
    assert.deepEqual(quiet.opStats(), {});
  });

  it('lists instruction sets best first, always including portable, and refuses unknown ones', () => {
    const isas = loadNativeAddon().availableIsas();
    assert.equal(isas[isas.length - 1], 'portable');
    assert.equal(new CpuBackend({ threads: 1 }).isa, isas[0]);
    assert.throws(() => new CpuBackend({ isa: 'sve' as never }), /instruction set 'sve' is not available/);
  });
});
