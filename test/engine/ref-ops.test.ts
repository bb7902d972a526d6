import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RefBackend } from '../../src/engine/ref-backend.js';
import type { Tensor } from '../../src/engine/backend.js';
import { Mulberry32 } from '../../src/common/mulberry32.js';

// Finite-difference checks of every backward op of the `ref` backend, plus forward checks against
// naive float64 formulas written independently here. Each backward op is checked as the gradient of
// L = Σ r ⊙ forward(inputs) for a random r; central differences with step h on float32 storage give
// an error around 1e-4, so the tolerance is |analytic - numeric| <= 3e-3 + 3e-2 · |numeric|.

const be = new RefBackend();
const H_STEP = 1e-2;
const ATOL = 3e-3;
const RTOL = 3e-2;

function tensor(data: Float32Array | Int32Array, shape: number[]): Tensor {
  const t = be.alloc(shape, data instanceof Int32Array ? 'i32' : 'f32');
  be.upload(t, data);
  return t;
}

function dot(t: Tensor, r: Float32Array): number {
  const a = be.download(t);
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * r[i]!;
  return s;
}

/**
 * Checks `analytic` (the gradient w.r.t. `input`) against central differences of `loss()` at up to
 * `samples` random coordinates of `input`. Returns the worst absolute difference.
 */
function fdCheck(name: string, input: Tensor, analytic: Float32Array, loss: () => number, rng: Mulberry32, samples = 24): number {
  const host = be.download(input) as Float32Array;
  let worst = 0;
  const idx = input.size <= samples ? [...Array(input.size).keys()] : Array.from({ length: samples }, () => rng.int(input.size));
  for (const i of idx) {
    const orig = host[i]!;
    host[i] = orig + H_STEP;
    be.upload(input, host);
    const lp = loss();
    host[i] = orig - H_STEP;
    be.upload(input, host);
    const lm = loss();
    host[i] = orig;
    be.upload(input, host);
    const numeric = (lp - lm) / (2 * H_STEP);
    const diff = Math.abs(analytic[i]! - numeric);
    worst = Math.max(worst, diff);
    assert.ok(diff <= ATOL + RTOL * Math.abs(numeric), `${name}[${i}]: analytic ${analytic[i]} vs numeric ${numeric}`);
  }
  return worst;
}

test('matmul: all transpose combinations, alpha and beta, against a float64 triple loop', () => {
  const rng = new Mulberry32(1);
  const M = 5, K = 7, N = 3;
  const a = rng.normalArray(M * K);
  const b = rng.normalArray(K * N);
  const c0 = rng.normalArray(M * N);
  const expect = (alpha: number, beta: number) => {
    const e = new Float64Array(M * N);
    for (let i = 0; i < M; i++)
      for (let j = 0; j < N; j++) {
        let s = 0;
        for (let k = 0; k < K; k++) s += a[i * K + k]! * b[k * N + j]!;
        e[i * N + j] = alpha * s + beta * c0[i * N + j]!;
      }
    return e;
  };
  const transpose = (x: Float32Array, r: number, c: number) => {
    const y = new Float32Array(r * c);
    for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) y[j * r + i] = x[i * c + j]!;
    return y;
  };
  const cases = [
    { transA: false, transB: false, alpha: 1, beta: 0 },
    { transA: true, transB: false, alpha: 0.5, beta: 1 },
    { transA: false, transB: true, alpha: 2, beta: 0.25 },
    { transA: true, transB: true, alpha: -1, beta: 1 },
  ];
  for (const c of cases) {
    const A = c.transA ? tensor(transpose(a, M, K), [K, M]) : tensor(a, [M, K]);
    const B = c.transB ? tensor(transpose(b, K, N), [N, K]) : tensor(b, [K, N]);
    const out = tensor(c0, [M, N]);
    be.matmul(out, A, B, c);
    const got = be.download(out);
    const e = expect(c.alpha, c.beta);
    for (let i = 0; i < e.length; i++) assert.ok(Math.abs(got[i]! - e[i]!) < 1e-5, `${JSON.stringify(c)} [${i}]: ${got[i]} vs ${e[i]}`);
  }
  // beta = 0 ignores NaN already in out
  const out = tensor(new Float32Array(M * N).fill(NaN), [M, N]);
  be.matmul(out, tensor(a, [M, K]), tensor(b, [K, N]));
  assert.ok(be.download(out).every((x) => Number.isFinite(x)));
  // a (B, T, C) activation is read as (B*T, C)
  const out3 = be.alloc([1, M, N]);
  be.matmul(out3, tensor(a, [1, M, K]), tensor(b, [K, N]));
  assert.deepEqual(be.download(out3), be.download(out));
  assert.throws(() => be.matmul(be.alloc([M, N]), tensor(a, [M, K]), tensor(b, [N, K])), RangeError);
  assert.throws(() => be.matmul(be.alloc([M, M]), tensor(a, [M, K]), tensor(b, [K, N])), RangeError);
});

test('embedding: forward gathers rows; backward accumulates repeated tokens and matches finite differences', () => {
  const rng = new Mulberry32(2);
  const V = 6, C = 4;
  const ids = new Int32Array([1, 3, 1, 5, 0]);
  const wte = tensor(rng.normalArray(V * C), [V, C]);
  const tokens = tensor(ids, [ids.length]);
  const out = be.alloc([ids.length, C]);
  be.embeddingForward(out, tokens, wte);
  const W = be.download(wte), O = be.download(out);
  for (let n = 0; n < ids.length; n++) for (let c = 0; c < C; c++) assert.equal(O[n * C + c], W[ids[n]! * C + c]);
  const r = rng.normalArray(ids.length * C);
  const dwte = be.alloc([V, C]);
  be.embeddingBackward(dwte, tensor(r, [ids.length, C]), tokens);
  const loss = () => (be.embeddingForward(out, tokens, wte), dot(out, r));
  fdCheck('dwte', wte, be.download(dwte) as Float32Array, loss, rng);
  assert.throws(() => be.embeddingForward(out, tensor(new Int32Array([0, 1, 2, 3, V]), [5]), wte), /outside the vocabulary/);
});

test('rmsnorm: forward formula; dx and dw match finite differences; backward accumulates', () => {
  const rng = new Mulberry32(3);
  const N = 4, C = 8, eps = 1e-5;
  const xh = rng.normalArray(N * C);
  const wh = rng.normalArray(C);
  const x = tensor(xh, [2, 2, C]);
  const w = tensor(wh, [C]);
  const out = be.alloc([2, 2, C]);
  const rstd = be.alloc([N]);
  be.rmsnormForward(out, rstd, x, w, eps);
  const O = be.download(out);
  for (let n = 0; n < N; n++) {
    let ss = 0;
    for (let c = 0; c < C; c++) ss += xh[n * C + c]! ** 2;
    const r = 1 / Math.sqrt(ss / C + eps);
    for (let c = 0; c < C; c++) assert.ok(Math.abs(O[n * C + c]! - xh[n * C + c]! * r * wh[c]!) < 1e-5);
  }
  const r = rng.normalArray(N * C);
  const dx = be.alloc([N, C]), dw = be.alloc([C]);
  be.rmsnormBackward(dx, dw, tensor(r, [N, C]), x, w, rstd);
  const loss = () => (be.rmsnormForward(out, rstd, x, w, eps), dot(out, r));
  fdCheck('dx', x, be.download(dx) as Float32Array, loss, rng);
  fdCheck('dw', w, be.download(dw) as Float32Array, loss, rng);
  // accumulation: a second call doubles the gradients
  const dx1 = be.download(dx);
  be.rmsnormForward(out, rstd, x, w, eps);
  be.rmsnormBackward(dx, dw, tensor(r, [N, C]), x, w, rstd);
  const dx2 = be.download(dx);
  for (let i = 0; i < dx1.length; i++) assert.ok(Math.abs(dx2[i]! - 2 * dx1[i]!) < 1e-5);
});

function ropeTables(maxPos: number, D: number, theta: number): { cos: Tensor; sin: Tensor } {
  const half = D / 2;
  const c = new Float32Array(maxPos * half), s = new Float32Array(maxPos * half);
  for (let p = 0; p < maxPos; p++)
    for (let i = 0; i < half; i++) {
      const ang = p / theta ** ((2 * i) / D);
      c[p * half + i] = Math.cos(ang);
      s[p * half + i] = Math.sin(ang);
    }
  return { cos: tensor(c, [maxPos, half]), sin: tensor(s, [maxPos, half]) };
}

test('rope: identity at position 0, rotates pairs (i, i + D/2) preserving their norm; dx matches finite differences', () => {
  const rng = new Mulberry32(4);
  const N = 5, NH = 3, D = 8;
  const { cos, sin } = ropeTables(16, D, 10000);
  const xh = rng.normalArray(N * NH * D);
  const x = tensor(xh, [N, NH, D]);
  const pos = tensor(new Int32Array([0, 3, 7, 15, 2]), [N]);
  const out = be.alloc([N, NH, D]);
  be.ropeForward(out, x, pos, cos, sin);
  const O = be.download(out);
  for (let i = 0; i < NH * D; i++) assert.equal(O[i], xh[i]); // row 0 is at position 0
  for (let n = 0; n < N; n++)
    for (let h = 0; h < NH; h++)
      for (let i = 0; i < D / 2; i++) {
        const b = (n * NH + h) * D;
        const before = xh[b + i]! ** 2 + xh[b + i + D / 2]! ** 2;
        const after = O[b + i]! ** 2 + O[b + i + D / 2]! ** 2;
        assert.ok(Math.abs(before - after) < 1e-5);
      }
  // in place gives the same result
  const inPlace = tensor(xh, [N, NH, D]);
  be.ropeForward(inPlace, inPlace, pos, cos, sin);
  assert.deepEqual(be.download(inPlace), O);
  const r = rng.normalArray(N * NH * D);
  const dx = be.alloc([N, NH, D]);
  be.ropeBackward(dx, tensor(r, [N, NH, D]), pos, cos, sin);
  fdCheck('dx', x, be.download(dx) as Float32Array, () => (be.ropeForward(out, x, pos, cos, sin), dot(out, r)), rng);
  assert.throws(() => be.ropeForward(out, x, tensor(new Int32Array([0, 1, 2, 3, 16]), [N]), cos, sin), /position 16/);
});

/** Naive causal attention in float64 with a full (T × T) score matrix, grouped KV. */
function naiveAttention(q: Float32Array, k: Float32Array, v: Float32Array, B: number, T: number, H: number, KVH: number, D: number): Float64Array {
  const out = new Float64Array(B * T * H * D);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++) {
      const g = Math.floor(h / (H / KVH));
      for (let t = 0; t < T; t++) {
        const s: number[] = [];
        for (let j = 0; j < T; j++) {
          if (j > t) { s.push(-Infinity); continue; }
          let d = 0;
          for (let i = 0; i < D; i++) d += q[((b * T + t) * H + h) * D + i]! * k[((b * T + j) * KVH + g) * D + i]!;
          s.push(d / Math.sqrt(D));
        }
        const m = Math.max(...s);
        const e = s.map((x) => Math.exp(x - m));
        const z = e.reduce((a, c) => a + c, 0);
        for (let i = 0; i < D; i++) {
          let acc = 0;
          for (let j = 0; j < T; j++) acc += (e[j]! / z) * v[((b * T + j) * KVH + g) * D + i]!;
          out[((b * T + t) * H + h) * D + i] = acc;
        }
      }
    }
  return out;
}

test('attention: forward equals a naive masked softmax; dq, dk, dv match finite differences (grouped KV)', () => {
  const rng = new Mulberry32(5);
  const B = 2, T = 5, H = 4, KVH = 2, D = 4;
  const qh = rng.normalArray(B * T * H * D), kh = rng.normalArray(B * T * KVH * D), vh = rng.normalArray(B * T * KVH * D);
  const q = tensor(qh, [B, T, H, D]), k = tensor(kh, [B, T, KVH, D]), v = tensor(vh, [B, T, KVH, D]);
  const out = be.alloc([B, T, H, D]), lse = be.alloc([B, H, T]);
  be.attentionForward(out, lse, q, k, v);
  const want = naiveAttention(qh, kh, vh, B, T, H, KVH, D);
  const got = be.download(out);
  for (let i = 0; i < want.length; i++) assert.ok(Math.abs(got[i]! - want[i]!) < 1e-5, `out[${i}]`);
  // position 0 attends only to itself: out = v of its KV head
  for (let h = 0; h < H; h++) for (let i = 0; i < D; i++) assert.ok(Math.abs(got[h * D + i]! - vh[Math.floor(h / 2) * D + i]!) < 1e-6);
  const r = rng.normalArray(B * T * H * D);
  const dq = be.alloc([B, T, H, D]), dk = be.alloc([B, T, KVH, D]), dv = be.alloc([B, T, KVH, D]);
  be.attentionBackward(dq, dk, dv, tensor(r, [B, T, H, D]), out, lse, q, k, v);
  const loss = () => (be.attentionForward(out, lse, q, k, v), dot(out, r));
  fdCheck('dq', q, be.download(dq) as Float32Array, loss, rng, 40);
  fdCheck('dk', k, be.download(dk) as Float32Array, loss, rng, 40);
  fdCheck('dv', v, be.download(dv) as Float32Array, loss, rng, 40);
  assert.throws(() => be.attentionForward(out, lse, q, be.alloc([B, T, 3, D]), be.alloc([B, T, 3, D])), RangeError);
});

test('attentionDecode over a cache filled by kvCacheWrite equals attentionForward row by row', () => {
  const rng = new Mulberry32(6);
  const B = 2, T = 6, H = 4, KVH = 1, D = 4, Tcap = 9;
  const qh = rng.normalArray(B * T * H * D), kh = rng.normalArray(B * T * KVH * D), vh = rng.normalArray(B * T * KVH * D);
  const out = be.alloc([B, T, H, D]), lse = be.alloc([B, H, T]);
  be.attentionForward(out, lse, tensor(qh, [B, T, H, D]), tensor(kh, [B, T, KVH, D]), tensor(vh, [B, T, KVH, D]));
  const full = be.download(out);
  const kc = be.alloc([B, Tcap, KVH, D]), vc = be.alloc([B, Tcap, KVH, D]);
  // write the first 2 rows in one call, then the rest one row at a time
  const slice = (x: Float32Array, t0: number, t1: number) => {
    const rows: number[] = [];
    for (let b = 0; b < B; b++) rows.push(...x.subarray((b * T + t0) * KVH * D, (b * T + t1) * KVH * D));
    return new Float32Array(rows);
  };
  be.kvCacheWrite(kc, tensor(slice(kh, 0, 2), [B, 2, KVH, D]), tensor(new Int32Array([0, 0]), [B]));
  be.kvCacheWrite(vc, tensor(slice(vh, 0, 2), [B, 2, KVH, D]), tensor(new Int32Array([0, 0]), [B]));
  for (let t = 2; t < T; t++) {
    be.kvCacheWrite(kc, tensor(slice(kh, t, t + 1), [B, 1, KVH, D]), tensor(new Int32Array([t, t]), [B]));
    be.kvCacheWrite(vc, tensor(slice(vh, t, t + 1), [B, 1, KVH, D]), tensor(new Int32Array([t, t]), [B]));
  }
  for (let t = 0; t < T; t++) {
    const qt = new Float32Array(B * H * D);
    for (let b = 0; b < B; b++) qt.set(qh.subarray((b * T + t) * H * D, (b * T + t + 1) * H * D), b * H * D);
    const o = be.alloc([B, H, D]);
    be.attentionDecode(o, tensor(qt, [B, H, D]), kc, vc, tensor(new Int32Array([t + 1, t + 1]), [B]));
    const got = be.download(o);
    for (let b = 0; b < B; b++)
      for (let i = 0; i < H * D; i++) assert.ok(Math.abs(got[b * H * D + i]! - full[(b * T + t) * H * D + i]!) < 1e-6, `t=${t} b=${b}`);
  }
  assert.throws(() => be.kvCacheWrite(kc, tensor(slice(kh, 0, 2), [B, 2, KVH, D]), tensor(new Int32Array([8, 0]), [B])), /do not fit/);
});

test('swiglu: forward is silu(gate) * up; dgate and dup match finite differences', () => {
  const rng = new Mulberry32(7);
  const N = 3, F = 10;
  const gh = rng.normalArray(N * F, 2), uh = rng.normalArray(N * F);
  const gate = tensor(gh, [N, F]), up = tensor(uh, [N, F]), out = be.alloc([N, F]);
  be.swigluForward(out, gate, up);
  const O = be.download(out);
  for (let i = 0; i < N * F; i++) assert.ok(Math.abs(O[i]! - (gh[i]! / (1 + Math.exp(-gh[i]!))) * uh[i]!) < 1e-6);
  const r = rng.normalArray(N * F);
  const dg = be.alloc([N, F]), du = be.alloc([N, F]);
  be.swigluBackward(dg, du, tensor(r, [N, F]), gate, up);
  const loss = () => (be.swigluForward(out, gate, up), dot(out, r));
  fdCheck('dgate', gate, be.download(dg) as Float32Array, loss, rng);
  fdCheck('dup', up, be.download(du) as Float32Array, loss, rng);
});

test('cross-entropy: forward is masked -log softmax; backward writes (not +=) the scaled gradient', () => {
  const rng = new Mulberry32(8);
  const N = 4, V = 7;
  const lh = rng.normalArray(N * V, 3);
  const logits = tensor(lh, [N, V]);
  const targets = tensor(new Int32Array([0, 6, 3, 3]), [N]);
  const mh = new Float32Array([1, 0, 1, 0.5]);
  const mask = tensor(mh, [N]);
  const losses = be.alloc([N]);
  for (const m of [null, mask]) {
    be.crossEntropyForward(losses, logits, targets, m);
    const L = be.download(losses);
    for (let n = 0; n < N; n++) {
      const row = [...lh.subarray(n * V, (n + 1) * V)];
      const lse = Math.log(row.reduce((a, x) => a + Math.exp(x), 0));
      const t = [0, 6, 3, 3][n]!;
      assert.ok(Math.abs(L[n]! - (lse - row[t]!) * (m ? mh[n]! : 1)) < 1e-5);
    }
  }
  const scale = 0.37;
  const dlogits = tensor(new Float32Array(N * V).fill(123), [N, V]); // garbage must be overwritten
  be.crossEntropyBackward(dlogits, logits, targets, mask, scale);
  const ones = new Float32Array(N).fill(scale);
  const loss = () => (be.crossEntropyForward(losses, logits, targets, mask), dot(losses, ones));
  fdCheck('dlogits', logits, be.download(dlogits) as Float32Array, loss, rng, 28);
  assert.throws(() => be.crossEntropyForward(losses, logits, tensor(new Int32Array([0, 7, 0, 0]), [N]), null), /target 7/);
});

test('adamw: two steps equal the bias-corrected decoupled-decay formula in float64', () => {
  const p0 = new Float32Array([0.5, -1, 2, 0]);
  const g1 = new Float32Array([0.1, -0.2, 0.3, 0]);
  const g2 = new Float32Array([-0.05, 0.4, 0.3, 1]);
  const hp = { lr: 0.01, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 };
  const param = tensor(p0, [4]), m = be.alloc([4]), v = be.alloc([4]);
  const want = Float64Array.from(p0);
  const mw = new Float64Array(4), vw = new Float64Array(4);
  for (const [step, g] of [[1, g1], [2, g2]] as const) {
    be.adamw(param, tensor(g, [4]), m, v, { ...hp, step });
    for (let i = 0; i < 4; i++) {
      mw[i] = hp.beta1 * mw[i]! + (1 - hp.beta1) * g[i]!;
      vw[i] = hp.beta2 * vw[i]! + (1 - hp.beta2) * g[i]! ** 2;
      const mhat = mw[i]! / (1 - hp.beta1 ** step), vhat = vw[i]! / (1 - hp.beta2 ** step);
      want[i] = want[i]! - hp.lr * hp.weightDecay * want[i]! - (hp.lr * mhat) / (Math.sqrt(vhat) + hp.eps);
    }
  }
  const got = be.download(param);
  for (let i = 0; i < 4; i++) assert.ok(Math.abs(got[i]! - want[i]!) < 1e-6, `p[${i}] ${got[i]} vs ${want[i]}`);
  assert.throws(() => be.adamw(param, be.alloc([3]), m, v, { ...hp, step: 1 }), RangeError);
});

test('memory: views share storage, upload/download copy, sizes are validated', () => {
  const t = be.alloc([10]);
  const vw = be.view(t, 4, [2, 3]);
  be.fill(vw, 2);
  assert.deepEqual([...be.download(t)], [0, 0, 0, 0, 2, 2, 2, 2, 2, 2]);
  const sub = be.view(vw, 3, [3]);
  be.upload(sub, new Float32Array([7, 8, 9]));
  assert.deepEqual([...be.download(t)].slice(4), [2, 2, 2, 7, 8, 9]);
  assert.equal(be.sumSquares(vw), 3 * 4 + 49 + 64 + 81);
  assert.throws(() => be.view(vw, 1, [6]), RangeError);
  assert.throws(() => be.upload(sub, new Float32Array(2)), RangeError);
  assert.throws(() => be.upload(sub, new Int32Array(3)), RangeError);
  const c = be.alloc([3]);
  be.copy(c, sub);
  be.scale(c, 2);
  be.add(c, c, sub);
  assert.deepEqual([...be.download(c)], [21, 24, 27]);
});
