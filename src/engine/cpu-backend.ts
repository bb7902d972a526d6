import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import type { AdamWParams, Backend, DType, Tensor } from './backend.js';
import { allocHostTensor, viewHostTensor, expectSize, formatShape as fmt } from './host-tensor.js';
import {
  adamwShape, attentionBackwardShape, attentionDecodeShape, attentionForwardShape, crossEntropyShape, embeddingShape, expectSizes,
  kvCacheWriteShape, matmulShape, rmsnormShape, ropeShape, uploadShape,
} from './op-shapes.js';
import { loadNativeAddon, type Isa, type NativeAddon, type NativeContext } from './native-addon.js';

/**
 * The `cpu` backend: host Float32Array / Int32Array storage, every op in the native addon (packed
 * AVX-512/AVX2 GEMM, flash attention, fused cross-entropy, ...) on a persistent thread pool.
 * Shapes follow the `ref` backend's rules exactly (a tensor of any rank is read as (size / lastDim,
 * lastDim) by the 2-D ops) and are validated by the shared checks of op-shapes.ts, before any work
 * crosses into C++ (RangeError).
 * Results are deterministic for a given instruction set: the thread count does not change a bit.
 */

export interface CpuBackendOptions {
  /** Worker threads including the caller; default SBP_THREADS or all available cores. */
  threads?: number;
  /** Kernel instruction set; default the best this CPU supports (SBP_CPU_ISA overrides). */
  isa?: Isa | 'auto';
  /** Record per-op wall time and call counts (default true; costs ~0.1 µs per op). */
  profile?: boolean;
}

/** Cumulative wall time and calls of one op since the last reset. */
export interface OpStat {
  ms: number;
  calls: number;
}

/** The storage of a float tensor, after checking that the view lies inside it. */
function f32(t: Tensor, what: string): Float32Array {
  const s = t.storage;
  if (t.dtype !== 'f32' || !(s instanceof Float32Array)) throw new RangeError(`${what}: expected an f32 host tensor, got ${t.dtype} ${fmt(t)}`);
  if (t.offset + t.size > s.length) throw new RangeError(`${what}: view [${t.offset}, ${t.offset + t.size}) lies outside its storage of ${s.length}`);
  return s;
}

function i32(t: Tensor, what: string): Int32Array {
  const s = t.storage;
  if (t.dtype !== 'i32' || !(s instanceof Int32Array)) throw new RangeError(`${what}: expected an i32 host tensor, got ${t.dtype} ${fmt(t)}`);
  if (t.offset + t.size > s.length) throw new RangeError(`${what}: view [${t.offset}, ${t.offset + t.size}) lies outside its storage of ${s.length}`);
  return s;
}

function expectNumber(x: number, what: string): void {
  if (typeof x !== 'number') throw new TypeError(`${what}: expected a number, got ${typeof x}`);
}

/** Largest head size the attention kernels take (head rows are padded to 32 vectors of the narrowest ISA). */
const MAX_HEAD_DIM = 128;

function expectHeadDim(D: number, what: string): void {
  if (D < 1 || D > MAX_HEAD_DIM) throw new RangeError(`${what}: head size ${D} is outside the cpu backend's range [1, ${MAX_HEAD_DIM}]`);
}

function defaultThreads(): number {
  const env = process.env['SBP_THREADS'];
  if (env !== undefined && env !== '') {
    const n = Number(env);
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`SBP_THREADS must be a positive integer, got '${env}'`);
    return n;
  }
  return availableParallelism();
}

export class CpuBackend implements Backend {
  readonly name = 'cpu';
  /** The instruction set whose kernels run (avx512, avx2 or portable). */
  readonly isa: Isa;
  private readonly addon: NativeAddon;
  private ctx: NativeContext;
  private nThreads: number;
  private readonly profile: boolean;
  private readonly stats = new Map<string, OpStat>();

  constructor(opts: CpuBackendOptions = {}) {
    this.addon = loadNativeAddon();
    const available = this.addon.availableIsas();
    const wanted = opts.isa && opts.isa !== 'auto' ? opts.isa : ((process.env['SBP_CPU_ISA'] as Isa | undefined) || available[0]!);
    if (!available.includes(wanted)) {
      throw new RangeError(`cpu backend: instruction set '${wanted}' is not available here (available: ${available.join(', ')})`);
    }
    this.isa = wanted;
    this.nThreads = opts.threads ?? defaultThreads();
    if (!Number.isInteger(this.nThreads) || this.nThreads < 1) throw new RangeError(`cpu backend: threads must be a positive integer, got ${this.nThreads}`);
    this.ctx = this.addon.createContext(this.nThreads, this.isa);
    this.profile = opts.profile ?? true;
  }

  get threads(): number {
    return this.nThreads;
  }

  setThreads(n: number): void {
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`setThreads: expected a positive integer, got ${n}`);
    if (n === this.nThreads) return;
    // the old pool's threads are joined when its context is garbage collected
    this.ctx = this.addon.createContext(n, this.isa);
    this.nThreads = n;
  }

  /** Cumulative ms and call counts per op name since construction or the last reset. */
  opStats(): Record<string, OpStat> {
    const out: Record<string, OpStat> = {};
    for (const [k, v] of this.stats) out[k] = { ...v };
    return out;
  }

  resetOpStats(): void {
    this.stats.clear();
  }

  private record(op: string, t0: number): void {
    const dt = performance.now() - t0;
    const s = this.stats.get(op);
    if (s) {
      s.ms += dt;
      s.calls++;
    } else this.stats.set(op, { ms: dt, calls: 1 });
  }

  private now(): number {
    return this.profile ? performance.now() : 0;
  }

  private done(op: string, t0: number): void {
    if (this.profile) this.record(op, t0);
  }

  // ---- memory ----

  alloc(shape: readonly number[], dtype: DType = 'f32'): Tensor {
    return allocHostTensor(shape, dtype);
  }

  view(t: Tensor, offset: number, shape: readonly number[]): Tensor {
    return viewHostTensor(t, offset, shape);
  }

  upload(dst: Tensor, src: Float32Array | Int32Array): void {
    const d = dst.dtype === 'f32' ? f32(dst, 'upload') : i32(dst, 'upload');
    uploadShape(dst, src);
    d.set(src, dst.offset);
  }

  download(src: Tensor): Float32Array | Int32Array {
    const s = src.dtype === 'f32' ? f32(src, 'download') : i32(src, 'download');
    return s.slice(src.offset, src.offset + src.size);
  }

  fill(t: Tensor, value: number): void {
    const s = t.dtype === 'f32' ? f32(t, 'fill') : i32(t, 'fill');
    expectNumber(value, 'fill value');
    const t0 = this.now();
    this.addon.fill(this.ctx, s, t.offset, t.size, value);
    this.done('fill', t0);
  }

  copy(dst: Tensor, src: Tensor): void {
    if (dst.dtype !== src.dtype) throw new RangeError(`copy: dtype mismatch ${dst.dtype} <- ${src.dtype}`);
    expectSize(dst, src.size, 'copy dst');
    const d = dst.dtype === 'f32' ? f32(dst, 'copy dst') : i32(dst, 'copy dst');
    const s = src.dtype === 'f32' ? f32(src, 'copy src') : i32(src, 'copy src');
    const t0 = this.now();
    this.addon.copy(this.ctx, d, dst.offset, s, src.offset, src.size);
    this.done('copy', t0);
  }

  sync(): void {}

  // ---- elementwise ----

  add(out: Tensor, a: Tensor, b: Tensor): void {
    expectSize(a, out.size, 'add a');
    expectSize(b, out.size, 'add b');
    const o = f32(out, 'add out'), x = f32(a, 'add a'), y = f32(b, 'add b');
    const t0 = this.now();
    this.addon.add(this.ctx, o, out.offset, x, a.offset, y, b.offset, out.size);
    this.done('add', t0);
  }

  scale(x: Tensor, s: number): void {
    const X = f32(x, 'scale');
    expectNumber(s, 'scale factor');
    const t0 = this.now();
    this.addon.scale(this.ctx, X, x.offset, s, x.size);
    this.done('scale', t0);
  }

  sumSquares(x: Tensor): number {
    const X = f32(x, 'sumSquares');
    const t0 = this.now();
    const r = this.addon.sumSquares(this.ctx, X, x.offset, x.size);
    this.done('sumSquares', t0);
    return r;
  }

  // ---- matmul ----

  matmul(out: Tensor, a: Tensor, b: Tensor, opts: { transA?: boolean; transB?: boolean; alpha?: number; beta?: number } = {}): void {
    const { transA = false, transB = false, alpha = 1, beta = 0 } = opts;
    const { M, N, K, ac, bc } = matmulShape(out, a, b, transA, transB);
    expectNumber(alpha, 'matmul alpha');
    expectNumber(beta, 'matmul beta');
    const A = f32(a, 'matmul a'), Bm = f32(b, 'matmul b'), O = f32(out, 'matmul out');
    if (O === A || O === Bm) {
      const overlaps = (t: Tensor) => t.offset < out.offset + out.size && out.offset < t.offset + t.size;
      if ((O === A && overlaps(a)) || (O === Bm && overlaps(b))) throw new RangeError('matmul: out must not overlap a or b');
    }
    const t0 = this.now();
    this.addon.matmul(this.ctx, O, out.offset, A, a.offset, Bm, b.offset, M, N, K, ac, bc, N, transA, transB, alpha, beta);
    this.done('matmul', t0);
  }

  // ---- layers ----

  embeddingForward(out: Tensor, tokens: Tensor, wte: Tensor): void {
    const [N, C, V] = embeddingShape(out, tokens, wte, 'embeddingForward', 'out', 'wte');
    const O = f32(out, 'embeddingForward out'), ids = i32(tokens, 'embeddingForward tokens'), W = f32(wte, 'embeddingForward wte');
    const t0 = this.now();
    this.addon.embeddingForward(this.ctx, O, out.offset, ids, tokens.offset, W, wte.offset, N, C, V);
    this.done('embeddingForward', t0);
  }

  embeddingBackward(dwte: Tensor, dout: Tensor, tokens: Tensor): void {
    const [N, C, V] = embeddingShape(dout, tokens, dwte, 'embeddingBackward', 'dout', 'dwte');
    const dW = f32(dwte, 'embeddingBackward dwte'), dO = f32(dout, 'embeddingBackward dout'), ids = i32(tokens, 'embeddingBackward tokens');
    const t0 = this.now();
    this.addon.embeddingBackward(this.ctx, dW, dwte.offset, dO, dout.offset, ids, tokens.offset, N, C, V);
    this.done('embeddingBackward', t0);
  }

  rmsnormForward(out: Tensor, rstd: Tensor, x: Tensor, w: Tensor, eps: number): void {
    const [N, C] = rmsnormShape(x, w, 'rmsnormForward');
    expectSize(out, x.size, 'rmsnormForward out');
    expectSize(rstd, N, 'rmsnormForward rstd');
    if (!(eps >= 0)) throw new RangeError(`rmsnormForward: eps must be >= 0, got ${eps}`);
    const O = f32(out, 'rmsnormForward out'), R = f32(rstd, 'rmsnormForward rstd');
    const X = f32(x, 'rmsnormForward x'), W = f32(w, 'rmsnormForward w');
    const t0 = this.now();
    this.addon.rmsnormForward(this.ctx, O, out.offset, R, rstd.offset, X, x.offset, W, w.offset, N, C, eps);
    this.done('rmsnormForward', t0);
  }

  rmsnormBackward(dx: Tensor, dw: Tensor, dout: Tensor, x: Tensor, w: Tensor, rstd: Tensor): void {
    const [N, C] = rmsnormShape(x, w, 'rmsnormBackward');
    expectSize(dx, x.size, 'rmsnormBackward dx');
    expectSize(dout, x.size, 'rmsnormBackward dout');
    expectSize(dw, C, 'rmsnormBackward dw');
    expectSize(rstd, N, 'rmsnormBackward rstd');
    const dX = f32(dx, 'rmsnormBackward dx'), dW = f32(dw, 'rmsnormBackward dw'), dO = f32(dout, 'rmsnormBackward dout');
    const X = f32(x, 'rmsnormBackward x'), W = f32(w, 'rmsnormBackward w'), R = f32(rstd, 'rmsnormBackward rstd');
    const t0 = this.now();
    this.addon.rmsnormBackward(this.ctx, dX, dx.offset, dW, dw.offset, dO, dout.offset, X, x.offset, W, w.offset, R, rstd.offset, N, C);
    this.done('rmsnormBackward', t0);
  }

  ropeForward(out: Tensor, x: Tensor, positions: Tensor, cos: Tensor, sin: Tensor): void {
    const [N, NH, D, maxPos] = ropeShape(x, positions, cos, sin, 'ropeForward');
    expectSize(out, x.size, 'ropeForward out');
    const O = f32(out, 'ropeForward out'), X = f32(x, 'ropeForward x'), P = i32(positions, 'ropeForward positions');
    const CS = f32(cos, 'ropeForward cos'), SN = f32(sin, 'ropeForward sin');
    const t0 = this.now();
    this.addon.ropeForward(this.ctx, O, out.offset, X, x.offset, P, positions.offset, CS, cos.offset, SN, sin.offset, N, NH, D, maxPos);
    this.done('ropeForward', t0);
  }

  ropeBackward(dx: Tensor, dout: Tensor, positions: Tensor, cos: Tensor, sin: Tensor): void {
    const [N, NH, D, maxPos] = ropeShape(dout, positions, cos, sin, 'ropeBackward');
    expectSize(dx, dout.size, 'ropeBackward dx');
    const dX = f32(dx, 'ropeBackward dx'), dO = f32(dout, 'ropeBackward dout'), P = i32(positions, 'ropeBackward positions');
    const CS = f32(cos, 'ropeBackward cos'), SN = f32(sin, 'ropeBackward sin');
    const t0 = this.now();
    this.addon.ropeBackward(this.ctx, dX, dx.offset, dO, dout.offset, P, positions.offset, CS, cos.offset, SN, sin.offset, N, NH, D, maxPos);
    this.done('ropeBackward', t0);
  }

  attentionForward(out: Tensor, lse: Tensor, q: Tensor, k: Tensor, v: Tensor): void {
    const [B, T, H, KVH, D] = attentionForwardShape(out, lse, q, k, v);
    expectHeadDim(D, 'attentionForward');
    const O = f32(out, 'attentionForward out'), L = f32(lse, 'attentionForward lse');
    const Q = f32(q, 'attentionForward q'), K = f32(k, 'attentionForward k'), Vv = f32(v, 'attentionForward v');
    const t0 = this.now();
    this.addon.attentionForward(this.ctx, O, out.offset, L, lse.offset, Q, q.offset, K, k.offset, Vv, v.offset, B, T, H, KVH, D);
    this.done('attentionForward', t0);
  }

  attentionBackward(dq: Tensor, dk: Tensor, dv: Tensor, dout: Tensor, out: Tensor, lse: Tensor, q: Tensor, k: Tensor, v: Tensor): void {
    const [B, T, H, KVH, D] = attentionBackwardShape(dq, dk, dv, dout, out, lse, q, k, v);
    expectHeadDim(D, 'attentionBackward');
    const dQ = f32(dq, 'attentionBackward dq'), dK = f32(dk, 'attentionBackward dk'), dV = f32(dv, 'attentionBackward dv');
    const dO = f32(dout, 'attentionBackward dout'), O = f32(out, 'attentionBackward out'), L = f32(lse, 'attentionBackward lse');
    const Q = f32(q, 'attentionBackward q'), K = f32(k, 'attentionBackward k'), Vv = f32(v, 'attentionBackward v');
    const t0 = this.now();
    this.addon.attentionBackward(this.ctx, dQ, dq.offset, dK, dk.offset, dV, dv.offset, dO, dout.offset, O, out.offset,
      L, lse.offset, Q, q.offset, K, k.offset, Vv, v.offset, B, T, H, KVH, D);
    this.done('attentionBackward', t0);
  }

  attentionDecode(out: Tensor, q: Tensor, kCache: Tensor, vCache: Tensor, lens: Tensor): void {
    const [B, H, KVH, D, Tcap] = attentionDecodeShape(out, q, kCache, vCache, lens);
    const O = f32(out, 'attentionDecode out'), Q = f32(q, 'attentionDecode q');
    const K = f32(kCache, 'attentionDecode kCache'), Vv = f32(vCache, 'attentionDecode vCache'), LEN = i32(lens, 'attentionDecode lens');
    const t0 = this.now();
    this.addon.attentionDecode(this.ctx, O, out.offset, Q, q.offset, K, kCache.offset, Vv, vCache.offset, LEN, lens.offset, B, H, KVH, D, Tcap);
    this.done('attentionDecode', t0);
  }

  kvCacheWrite(cache: Tensor, x: Tensor, pos: Tensor): void {
    const [B, T, Tcap, KVH, D] = kvCacheWriteShape(cache, x, pos);
    if (T > Tcap) throw new RangeError(`kvCacheWrite: ${T} new rows do not fit a cache of ${Tcap}`);
    const Cc = f32(cache, 'kvCacheWrite cache'), X = f32(x, 'kvCacheWrite x'), P = i32(pos, 'kvCacheWrite pos');
    const t0 = this.now();
    this.addon.kvCacheWrite(this.ctx, Cc, cache.offset, X, x.offset, P, pos.offset, B, T, Tcap, KVH, D);
    this.done('kvCacheWrite', t0);
  }

  swigluForward(out: Tensor, gate: Tensor, up: Tensor): void {
    expectSizes(gate.size, 'swigluForward', [[up, 'up'], [out, 'out']]);
    const O = f32(out, 'swigluForward out'), G = f32(gate, 'swigluForward gate'), U = f32(up, 'swigluForward up');
    const t0 = this.now();
    this.addon.swigluForward(this.ctx, O, out.offset, G, gate.offset, U, up.offset, gate.size);
    this.done('swigluForward', t0);
  }

  swigluBackward(dgate: Tensor, dup: Tensor, dout: Tensor, gate: Tensor, up: Tensor): void {
    expectSizes(gate.size, 'swigluBackward', [[dgate, 'dgate'], [dup, 'dup'], [dout, 'dout'], [up, 'up']]);
    const dG = f32(dgate, 'swigluBackward dgate'), dU = f32(dup, 'swigluBackward dup'), dO = f32(dout, 'swigluBackward dout');
    const G = f32(gate, 'swigluBackward gate'), U = f32(up, 'swigluBackward up');
    const t0 = this.now();
    this.addon.swigluBackward(this.ctx, dG, dgate.offset, dU, dup.offset, dO, dout.offset, G, gate.offset, U, up.offset, gate.size);
    this.done('swigluBackward', t0);
  }

  crossEntropyForward(losses: Tensor, logits: Tensor, targets: Tensor, mask: Tensor | null): void {
    const [N, V] = crossEntropyShape(logits, targets, mask, 'crossEntropyForward');
    expectSize(losses, N, 'crossEntropyForward losses');
    const Ls = f32(losses, 'crossEntropyForward losses'), Lg = f32(logits, 'crossEntropyForward logits');
    const Tg = i32(targets, 'crossEntropyForward targets'), M = mask ? f32(mask, 'crossEntropyForward mask') : null;
    const t0 = this.now();
    this.addon.crossEntropyForward(this.ctx, Ls, losses.offset, Lg, logits.offset, Tg, targets.offset, M, mask?.offset ?? 0, N, V);
    this.done('crossEntropyForward', t0);
  }

  crossEntropyBackward(dlogits: Tensor, logits: Tensor, targets: Tensor, mask: Tensor | null, scale: number): void {
    const [N, V] = crossEntropyShape(logits, targets, mask, 'crossEntropyBackward');
    expectSize(dlogits, logits.size, 'crossEntropyBackward dlogits');
    expectNumber(scale, 'crossEntropyBackward scale');
    const dL = f32(dlogits, 'crossEntropyBackward dlogits'), Lg = f32(logits, 'crossEntropyBackward logits');
    const Tg = i32(targets, 'crossEntropyBackward targets'), M = mask ? f32(mask, 'crossEntropyBackward mask') : null;
    const t0 = this.now();
    this.addon.crossEntropyBackward(this.ctx, dL, dlogits.offset, Lg, logits.offset, Tg, targets.offset, M, mask?.offset ?? 0, scale, N, V);
    this.done('crossEntropyBackward', t0);
  }

  // ---- host sampling ----

  /**
   * Draws one token per listed row of `logits` (B, V) on the thread pool, one call per decode step:
   * out[i] = the token for row rows[i], i < n, with temperature / top-k / top-p exactly as
   * `LogitsSampler.sample` given the uniform draw uniforms[i] in [0, 1) (the caller's random streams
   * stay in TypeScript; `uniforms` may be null when sampling is greedy: temperature 0 or top-k 1).
   * Same logits and draws → the same tokens as the TypeScript sampler, bit for bit.
   */
  sampleLogits(logits: Float32Array, V: number, rows: Int32Array, n: number, uniforms: Float64Array | null, out: Int32Array,
    opts: { temperature: number; topK: number; topP: number }): void {
    const { temperature, topK, topP } = opts;
    if (!(logits instanceof Float32Array)) throw new TypeError('sampleLogits: logits must be a Float32Array');
    if (!(rows instanceof Int32Array) || !(out instanceof Int32Array)) throw new TypeError('sampleLogits: rows and out must be Int32Arrays');
    if (!Number.isInteger(V) || V < 1) throw new RangeError(`sampleLogits: V must be a whole number >= 1, got ${V}`);
    if (logits.length % V !== 0) throw new RangeError(`sampleLogits: logits hold ${logits.length} values, not a whole number of rows of V = ${V}`);
    if (!Number.isInteger(n) || n < 0 || n > rows.length) throw new RangeError(`sampleLogits: n must be a whole number in [0, ${rows.length}] (rows given), got ${n}`);
    if (out.length < n) throw new RangeError(`sampleLogits: out holds ${out.length} entries, fewer than n = ${n}`);
    if (!(temperature >= 0) || !Number.isFinite(temperature)) throw new RangeError(`temperature must be >= 0, got ${temperature}`);
    if (!Number.isInteger(topK) || topK < 0) throw new RangeError(`topK must be a whole number >= 0, got ${topK}`);
    if (!(topP > 0 && topP <= 1)) throw new RangeError(`topP must be in (0, 1], got ${topP}`);
    const greedy = temperature === 0 || topK === 1;
    if (!greedy) {
      if (!(uniforms instanceof Float64Array)) throw new TypeError('sampleLogits: uniforms must be a Float64Array of draws unless sampling is greedy');
      if (uniforms.length < n) throw new RangeError(`sampleLogits: uniforms hold ${uniforms.length} draws, fewer than n = ${n}`);
      for (let i = 0; i < n; i++) {
        const u = uniforms[i]!;
        if (!(u >= 0 && u < 1)) throw new RangeError(`sampleLogits: uniform draw ${i} is ${u}, outside [0, 1)`);
      }
    }
    const t0 = this.now();
    this.addon.sampleLogits(this.ctx, logits, 0, logits.length / V, V, rows, 0, n, greedy ? null : uniforms, 0, out, 0, temperature, topK, topP);
    this.done('sampleLogits', t0);
  }

  // ---- optimizer ----

  adamw(param: Tensor, grad: Tensor, m: Tensor, v: Tensor, p: AdamWParams): void {
    adamwShape(param, grad, m, v, p.step);
    for (const key of ['lr', 'beta1', 'beta2', 'eps', 'weightDecay'] as const) expectNumber(p[key], `adamw ${key}`);
    const P = f32(param, 'adamw param'), G = f32(grad, 'adamw grad'), Mm = f32(m, 'adamw m'), Vv = f32(v, 'adamw v');
    const t0 = this.now();
    this.addon.adamw(this.ctx, P, param.offset, G, grad.offset, Mm, m.offset, Vv, v.offset, param.size, p.lr, p.beta1, p.beta2, p.eps, p.weightDecay, p.step);
    this.done('adamw', t0);
  }
}
