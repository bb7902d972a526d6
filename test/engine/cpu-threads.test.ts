// The thread count must not change a single bit of any result (reductions run in a data-determined
// order); sizes are large enough that every op really splits its work across threads.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Backend, Tensor } from '../../src/engine/backend.js';
import { CpuBackend } from '../../src/engine/cpu-backend.js';
import { randint, randn, rng } from './cpu-parity.js';

/** Runs a sequence of ops covering every kernel and returns every output, downloaded. */
function workload(be: Backend): Array<Float32Array | Int32Array | number> {
  const r = rng(11);
  const t = (shape: number[], data: Float32Array | Int32Array): Tensor => {
    const x = be.alloc(shape, data instanceof Float32Array ? 'f32' : 'i32');
    be.upload(x, data);
    return x;
  };
  const [B, T, H, KVH, D, C, V, F] = [3, 150, 4, 2, 32, 128, 500, 352];
  const N = B * T;
  const tokens = t([N], randint(N, 0, V, r));
  const wte = t([V, C], randn(V * C, r));
  const x = be.alloc([N, C]);
  be.embeddingForward(x, tokens, wte);
  const w = t([C], randn(C, r)), rstd = be.alloc([N]), xn = be.alloc([N, C]);
  be.rmsnormForward(xn, rstd, x, w, 1e-5);
  const wqkv = t([(H + 2 * KVH) * D, C], randn((H + 2 * KVH) * D * C, r, 0.1));
  const qkv = be.alloc([N, (H + 2 * KVH) * D]);
  be.matmul(qkv, xn, wqkv, { transB: true });
  const q = t([B, T, H, D], randn(N * H * D, r)), k = t([B, T, KVH, D], randn(N * KVH * D, r)), v = t([B, T, KVH, D], randn(N * KVH * D, r));
  const half = D / 2;
  const cos = t([T, half], Float32Array.from({ length: T * half }, (_, i) => Math.cos(i * 0.01)));
  const sin = t([T, half], Float32Array.from({ length: T * half }, (_, i) => Math.sin(i * 0.01)));
  const pos = t([N], Int32Array.from({ length: N }, (_, i) => i % T));
  be.ropeForward(q, q, pos, cos, sin);
  const out = be.alloc([B, T, H, D]), lse = be.alloc([B, H, T]);
  be.attentionForward(out, lse, q, k, v);
  const dout = t([B, T, H, D], randn(N * H * D, r));
  const dq = be.alloc([B, T, H, D]), dk = be.alloc([B, T, KVH, D]), dv = be.alloc([B, T, KVH, D]);
  be.attentionBackward(dq, dk, dv, dout, out, lse, q, k, v);
  const dqr = be.alloc([B, T, H, D]);
  be.ropeBackward(dqr, dq, pos, cos, sin);
  const gate = t([N, F], randn(N * F, r)), up = t([N, F], randn(N * F, r)), h = be.alloc([N, F]);
  be.swigluForward(h, gate, up);
  const dgate = be.alloc([N, F]), dup = be.alloc([N, F]);
  be.swigluBackward(dgate, dup, h, gate, up);
  const logits = be.alloc([N, V]);
  be.matmul(logits, xn, wte, { transB: true });
  const targets = t([N], randint(N, 0, V, r)), mask = t([N], Float32Array.from({ length: N }, (_, i) => i % 4 ? 1 : 0));
  const losses = be.alloc([N]), dlogits = be.alloc([N, V]);
  be.crossEntropyForward(losses, logits, targets, mask);
  be.crossEntropyBackward(dlogits, logits, targets, mask, 1 / N);
  const dwte = be.alloc([V, C]), dxn = be.alloc([N, C]);
  be.matmul(dwte, dlogits, xn, { transA: true, beta: 1 });
  be.matmul(dxn, dlogits, wte);
  be.embeddingBackward(dwte, dxn, tokens);
  const dx = be.alloc([N, C]), dw = be.alloc([C]);
  be.rmsnormBackward(dx, dw, dxn, x, w, rstd);
  const mom = be.alloc([V, C]), vel = be.alloc([V, C]);
  be.adamw(wte, dwte, mom, vel, { lr: 1e-3, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, step: 3 });
  const kc = be.alloc([B, T + 10, KVH, D]), vc = be.alloc([B, T + 10, KVH, D]);
  be.kvCacheWrite(kc, k, t([B], new Int32Array(B)));
  be.kvCacheWrite(vc, v, t([B], new Int32Array(B)));
  const qd = t([B, H, D], randn(B * H * D, r)), od = be.alloc([B, H, D]);
  be.attentionDecode(od, qd, kc, vc, t([B], Int32Array.from([T, T - 7, 1])));
  const big = t([1 << 20], randn(1 << 20, r));
  const outputs: Array<Float32Array | Int32Array | number> = [qkv, out, lse, dq, dk, dv, dqr, h, dgate, dup, logits, losses, dlogits, dwte, dxn, dx, dw, wte, mom, vel, od]
    .map((x) => be.download(x));
  outputs.push(be.sumSquares(big), be.sumSquares(dlogits));
  return outputs;
}

describe('cpu backend determinism', () => {
  it('1, 2 and 3 threads give bit-identical results for every op', () => {
    const one = workload(new CpuBackend({ threads: 1 }));
    for (const threads of [2, 3]) {
      const many = workload(new CpuBackend({ threads }));
      assert.equal(many.length, one.length);
      one.forEach((a, i) => assert.deepEqual(many[i], a, `output ${i} differs between 1 and ${threads} threads`));
    }
  });

  it('setThreads keeps results identical and a second run repeats the first', () => {
    const be = new CpuBackend({ threads: 2 });
    const first = workload(be);
    be.setThreads(1);
    assert.equal(be.threads, 1);
    const second = workload(be);
    first.forEach((a, i) => assert.deepEqual(second[i], a, `output ${i}`));
  });
});
