import type { AdamWParams, Backend, DType, Tensor } from './backend.js';
import { allocHostTensor, viewHostTensor, expectSize, formatShape as fmt } from './host-tensor.js';
import {
  adamwShape, attentionBackwardShape, attentionDecodeShape, attentionForwardShape, crossEntropyShape, embeddingShape, expectSizes,
  kvCacheWriteShape, matmulShape, rmsnormShape, ropeShape, uploadShape,
} from './op-shapes.js';

/**
 * The `ref` backend: every op of the engine contract in plain TypeScript, written to be obviously
 * right rather than fast. Reductions accumulate in float64; attention materialises one row of scores
 * at a time. Every faster backend is tested against this one, so clarity wins over speed here.
 *
 * Shape rule for 2-D ops (matmul, rows of rmsnorm / embedding / swiglu / cross-entropy): a tensor of
 * any rank is read as (rows, lastDim), rows = size / lastDim — so (B, T, C) activations are (N, C).
 */

/** The elements of a float tensor as a Float32Array view (no copy). */
function f32(t: Tensor, what: string): Float32Array {
  if (t.dtype !== 'f32' || !(t.storage instanceof Float32Array)) throw new RangeError(`${what}: expected an f32 tensor of the ref backend, got ${t.dtype}`);
  return t.storage.subarray(t.offset, t.offset + t.size);
}

/** The elements of an integer tensor as an Int32Array view (no copy). */
function i32(t: Tensor, what: string): Int32Array {
  if (t.dtype !== 'i32' || !(t.storage instanceof Int32Array)) throw new RangeError(`${what}: expected an i32 tensor of the ref backend, got ${t.dtype}`);
  return t.storage.subarray(t.offset, t.offset + t.size);
}

export class RefBackend implements Backend {
  readonly name = 'ref';

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
    d.set(src);
  }

  download(src: Tensor): Float32Array | Int32Array {
    return src.dtype === 'f32' ? f32(src, 'download').slice() : i32(src, 'download').slice();
  }

  fill(t: Tensor, value: number): void {
    (t.dtype === 'f32' ? f32(t, 'fill') : i32(t, 'fill')).fill(value);
  }

  copy(dst: Tensor, src: Tensor): void {
    if (dst.dtype !== src.dtype) throw new RangeError(`copy: dtype mismatch ${dst.dtype} <- ${src.dtype}`);
    expectSize(dst, src.size, 'copy dst');
    if (dst.dtype === 'f32') f32(dst, 'copy').set(f32(src, 'copy'));
    else i32(dst, 'copy').set(i32(src, 'copy'));
  }

  sync(): void {}

  // ---- elementwise ----

  add(out: Tensor, a: Tensor, b: Tensor): void {
    expectSize(a, out.size, 'add a');
    expectSize(b, out.size, 'add b');
    const o = f32(out, 'add out');
    const x = f32(a, 'add a');
    const y = f32(b, 'add b');
    for (let i = 0; i < o.length; i++) o[i] = x[i]! + y[i]!;
  }

  scale(x: Tensor, s: number): void {
    const a = f32(x, 'scale');
    for (let i = 0; i < a.length; i++) a[i]! *= s;
  }

  sumSquares(x: Tensor): number {
    const a = f32(x, 'sumSquares');
    let s = 0;
    for (let i = 0; i < a.length; i++) s += a[i]! * a[i]!;
    return s;
  }

  // ---- matmul ----

  matmul(out: Tensor, a: Tensor, b: Tensor, opts: { transA?: boolean; transB?: boolean; alpha?: number; beta?: number } = {}): void {
    const { transA = false, transB = false, alpha = 1, beta = 0 } = opts;
    const { M, N, K, ac, bc } = matmulShape(out, a, b, transA, transB);
    const A = f32(a, 'matmul a');
    const Bm = f32(b, 'matmul b');
    const O = f32(out, 'matmul out');
    // op(a)[i, k] and op(b)[k, j] in row-major storage
    const aAt = transA ? (i: number, k: number) => A[k * ac + i]! : (i: number, k: number) => A[i * ac + k]!;
    const bAt = transB ? (k: number, j: number) => Bm[j * bc + k]! : (k: number, j: number) => Bm[k * bc + j]!;
    const acc = new Float64Array(N);
    for (let i = 0; i < M; i++) {
      acc.fill(0);
      for (let k = 0; k < K; k++) {
        const aik = aAt(i, k);
        if (aik === 0) continue;
        for (let j = 0; j < N; j++) acc[j]! += aik * bAt(k, j);
      }
      for (let j = 0; j < N; j++) {
        // beta = 0 ignores the old contents (BLAS semantics: garbage or NaN in `out` does not leak)
        O[i * N + j] = beta === 0 ? alpha * acc[j]! : alpha * acc[j]! + beta * O[i * N + j]!;
      }
    }
  }

  // ---- layers ----

  embeddingForward(out: Tensor, tokens: Tensor, wte: Tensor): void {
    const [N, C, V] = embeddingShape(out, tokens, wte, 'embeddingForward', 'out', 'wte');
    const ids = i32(tokens, 'embeddingForward tokens');
    const W = f32(wte, 'embeddingForward wte');
    const O = f32(out, 'embeddingForward out');
    for (let n = 0; n < N; n++) {
      const id = ids[n]!;
      if (id < 0 || id >= V) throw new RangeError(`embeddingForward: token ${id} at row ${n} is outside the vocabulary [0, ${V})`);
      O.set(W.subarray(id * C, (id + 1) * C), n * C);
    }
  }

  embeddingBackward(dwte: Tensor, dout: Tensor, tokens: Tensor): void {
    const [N, C, V] = embeddingShape(dout, tokens, dwte, 'embeddingBackward', 'dout', 'dwte');
    const ids = i32(tokens, 'embeddingBackward tokens');
    const dW = f32(dwte, 'embeddingBackward dwte');
    const dO = f32(dout, 'embeddingBackward dout');
    for (let n = 0; n < N; n++) {
      const id = ids[n]!;
      if (id < 0 || id >= V) throw new RangeError(`embeddingBackward: token ${id} at row ${n} is outside the vocabulary [0, ${V})`);
      for (let c = 0; c < C; c++) dW[id * C + c]! += dO[n * C + c]!;
    }
  }

  rmsnormForward(out: Tensor, rstd: Tensor, x: Tensor, w: Tensor, eps: number): void {
    const [N, C] = rmsnormShape(x, w, 'rmsnormForward');
    expectSize(out, x.size, 'rmsnormForward out');
    expectSize(rstd, N, 'rmsnormForward rstd');
    const X = f32(x, 'rmsnormForward x');
    const W = f32(w, 'rmsnormForward w');
    const O = f32(out, 'rmsnormForward out');
    const R = f32(rstd, 'rmsnormForward rstd');
    for (let n = 0; n < N; n++) {
      let ss = 0;
      for (let c = 0; c < C; c++) ss += X[n * C + c]! * X[n * C + c]!;
      const r = 1 / Math.sqrt(ss / C + eps);
      R[n] = r;
      for (let c = 0; c < C; c++) O[n * C + c] = X[n * C + c]! * r * W[c]!;
    }
  }

  rmsnormBackward(dx: Tensor, dw: Tensor, dout: Tensor, x: Tensor, w: Tensor, rstd: Tensor): void {
    const [N, C] = rmsnormShape(x, w, 'rmsnormBackward');
    expectSize(dx, x.size, 'rmsnormBackward dx');
    expectSize(dout, x.size, 'rmsnormBackward dout');
    expectSize(dw, C, 'rmsnormBackward dw');
    expectSize(rstd, N, 'rmsnormBackward rstd');
    const X = f32(x, 'rmsnormBackward x');
    const W = f32(w, 'rmsnormBackward w');
    const dX = f32(dx, 'rmsnormBackward dx');
    const dW = f32(dw, 'rmsnormBackward dw');
    const dO = f32(dout, 'rmsnormBackward dout');
    const R = f32(rstd, 'rmsnormBackward rstd');
    for (let n = 0; n < N; n++) {
      const r = R[n]!;
      // y_c = w_c x_c r, r = (mean x² + eps)^-1/2  =>  dx_j = r (w_j g_j - x_j r² mean_c(w_c g_c x_c))
      let dot = 0;
      for (let c = 0; c < C; c++) dot += W[c]! * dO[n * C + c]! * X[n * C + c]!;
      const k = (r * r * dot) / C;
      for (let c = 0; c < C; c++) {
        const i = n * C + c;
        dX[i]! += r * (W[c]! * dO[i]! - X[i]! * k);
        dW[c]! += dO[i]! * X[i]! * r;
      }
    }
  }

  ropeForward(out: Tensor, x: Tensor, positions: Tensor, cos: Tensor, sin: Tensor): void {
    const [N, NH, D, maxPos] = ropeShape(x, positions, cos, sin, 'ropeForward');
    expectSize(out, x.size, 'ropeForward out');
    const X = f32(x, 'ropeForward x');
    const O = f32(out, 'ropeForward out');
    const P = i32(positions, 'ropeForward positions');
    const COS = f32(cos, 'ropeForward cos');
    const SIN = f32(sin, 'ropeForward sin');
    const half = D / 2;
    for (let n = 0; n < N; n++) {
      const p = P[n]!;
      if (p < 0 || p >= maxPos) throw new RangeError(`ropeForward: position ${p} at row ${n} is outside [0, ${maxPos})`);
      for (let h = 0; h < NH; h++) {
        const base = (n * NH + h) * D;
        for (let i = 0; i < half; i++) {
          const c = COS[p * half + i]!;
          const s = SIN[p * half + i]!;
          const x1 = X[base + i]!;
          const x2 = X[base + i + half]!;
          O[base + i] = x1 * c - x2 * s;
          O[base + i + half] = x2 * c + x1 * s;
        }
      }
    }
  }

  ropeBackward(dx: Tensor, dout: Tensor, positions: Tensor, cos: Tensor, sin: Tensor): void {
    const [N, NH, D, maxPos] = ropeShape(dout, positions, cos, sin, 'ropeBackward');
    expectSize(dx, dout.size, 'ropeBackward dx');
    const dX = f32(dx, 'ropeBackward dx');
    const dO = f32(dout, 'ropeBackward dout');
    const P = i32(positions, 'ropeBackward positions');
    const COS = f32(cos, 'ropeBackward cos');
    const SIN = f32(sin, 'ropeBackward sin');
    const half = D / 2;
    for (let n = 0; n < N; n++) {
      const p = P[n]!;
      if (p < 0 || p >= maxPos) throw new RangeError(`ropeBackward: position ${p} at row ${n} is outside [0, ${maxPos})`);
      for (let h = 0; h < NH; h++) {
        const base = (n * NH + h) * D;
        for (let i = 0; i < half; i++) {
          const c = COS[p * half + i]!;
          const s = SIN[p * half + i]!;
          const g1 = dO[base + i]!;
          const g2 = dO[base + i + half]!;
          // read both before writing: dx may alias dout
          dX[base + i]! += g1 * c + g2 * s;
          dX[base + i + half]! += g2 * c - g1 * s;
        }
      }
    }
  }

  /** Scaled causal scores of query row (b, t, h) against keys 0..t, as float64 probabilities; returns lse. */
  private attentionRow(
    p: Float64Array, Q: Float32Array, K: Float32Array, qBase: number, kRow: (j: number) => number, len: number, D: number,
  ): number {
    const scale = 1 / Math.sqrt(D);
    let max = -Infinity;
    for (let j = 0; j < len; j++) {
      const kb = kRow(j);
      let s = 0;
      for (let d = 0; d < D; d++) s += Q[qBase + d]! * K[kb + d]!;
      p[j] = s * scale;
      if (p[j]! > max) max = p[j]!;
    }
    let sum = 0;
    for (let j = 0; j < len; j++) {
      p[j] = Math.exp(p[j]! - max);
      sum += p[j]!;
    }
    for (let j = 0; j < len; j++) p[j]! /= sum;
    return max + Math.log(sum);
  }

  attentionForward(out: Tensor, lse: Tensor, q: Tensor, k: Tensor, v: Tensor): void {
    const [B, T, H, KVH, D] = attentionForwardShape(out, lse, q, k, v);
    const Q = f32(q, 'attentionForward q');
    const K = f32(k, 'attentionForward k');
    const Vv = f32(v, 'attentionForward v');
    const O = f32(out, 'attentionForward out');
    const L = f32(lse, 'attentionForward lse');
    const group = H / KVH;
    const p = new Float64Array(T);
    const acc = new Float64Array(D);
    for (let b = 0; b < B; b++) {
      for (let h = 0; h < H; h++) {
        const kvh = Math.floor(h / group);
        const kRow = (j: number) => ((b * T + j) * KVH + kvh) * D;
        for (let t = 0; t < T; t++) {
          const qBase = ((b * T + t) * H + h) * D;
          L[(b * H + h) * T + t] = this.attentionRow(p, Q, K, qBase, kRow, t + 1, D);
          acc.fill(0);
          for (let j = 0; j <= t; j++) {
            const vb = kRow(j);
            for (let d = 0; d < D; d++) acc[d]! += p[j]! * Vv[vb + d]!;
          }
          for (let d = 0; d < D; d++) O[qBase + d] = acc[d]!;
        }
      }
    }
  }

  attentionBackward(dq: Tensor, dk: Tensor, dv: Tensor, dout: Tensor, out: Tensor, lse: Tensor, q: Tensor, k: Tensor, v: Tensor): void {
    const [B, T, H, KVH, D] = attentionBackwardShape(dq, dk, dv, dout, out, lse, q, k, v);
    // The oracle recomputes the probabilities in float64 from q and k instead of trusting out / lse.
    const Q = f32(q, 'attentionBackward q');
    const K = f32(k, 'attentionBackward k');
    const Vv = f32(v, 'attentionBackward v');
    const dO = f32(dout, 'attentionBackward dout');
    const dQ = f32(dq, 'attentionBackward dq');
    const dK = f32(dk, 'attentionBackward dk');
    const dV = f32(dv, 'attentionBackward dv');
    const scale = 1 / Math.sqrt(D);
    const group = H / KVH;
    const p = new Float64Array(T);
    const dp = new Float64Array(T);
    for (let b = 0; b < B; b++) {
      for (let h = 0; h < H; h++) {
        const kvh = Math.floor(h / group);
        const kRow = (j: number) => ((b * T + j) * KVH + kvh) * D;
        for (let t = 0; t < T; t++) {
          const qBase = ((b * T + t) * H + h) * D;
          this.attentionRow(p, Q, K, qBase, kRow, t + 1, D);
          // dp_j = dout · v_j ; ds_j = p_j (dp_j - Σ_i p_i dp_i)
          let pdp = 0;
          for (let j = 0; j <= t; j++) {
            const vb = kRow(j);
            let s = 0;
            for (let d = 0; d < D; d++) s += dO[qBase + d]! * Vv[vb + d]!;
            dp[j] = s;
            pdp += p[j]! * s;
          }
          for (let j = 0; j <= t; j++) {
            const kb = kRow(j);
            const ds = p[j]! * (dp[j]! - pdp) * scale;
            for (let d = 0; d < D; d++) {
              dQ[qBase + d]! += ds * K[kb + d]!;
              dK[kb + d]! += ds * Q[qBase + d]!;
              dV[kb + d]! += p[j]! * dO[qBase + d]!;
            }
          }
        }
      }
    }
  }

  attentionDecode(out: Tensor, q: Tensor, kCache: Tensor, vCache: Tensor, lens: Tensor): void {
    const [B, H, KVH, D, Tcap] = attentionDecodeShape(out, q, kCache, vCache, lens);
    const Q = f32(q, 'attentionDecode q');
    const K = f32(kCache, 'attentionDecode kCache');
    const Vv = f32(vCache, 'attentionDecode vCache');
    const O = f32(out, 'attentionDecode out');
    const LEN = i32(lens, 'attentionDecode lens');
    const group = H / KVH;
    const p = new Float64Array(Tcap);
    const acc = new Float64Array(D);
    for (let b = 0; b < B; b++) {
      const len = LEN[b]!;
      if (len < 0 || len > Tcap) throw new RangeError(`attentionDecode: lens[${b}] = ${len} is outside [0, ${Tcap}]`);
      for (let h = 0; h < H; h++) {
        const qBase = (b * H + h) * D;
        acc.fill(0);
        if (len > 0) {
          const kvh = Math.floor(h / group);
          const kRow = (j: number) => ((b * Tcap + j) * KVH + kvh) * D;
          this.attentionRow(p, Q, K, qBase, kRow, len, D);
          for (let j = 0; j < len; j++) {
            const vb = kRow(j);
            for (let d = 0; d < D; d++) acc[d]! += p[j]! * Vv[vb + d]!;
          }
        }
        // an empty cache attends to nothing: the output is zero
        for (let d = 0; d < D; d++) O[qBase + d] = acc[d]!;
      }
    }
  }

  kvCacheWrite(cache: Tensor, x: Tensor, pos: Tensor): void {
    const [B, T, Tcap, KVH, D] = kvCacheWriteShape(cache, x, pos);
    const Cc = f32(cache, 'kvCacheWrite cache');
    const X = f32(x, 'kvCacheWrite x');
    const P = i32(pos, 'kvCacheWrite pos');
    const row = KVH * D;
    for (let b = 0; b < B; b++) {
      const p0 = P[b]!;
      if (p0 < 0 || p0 + T > Tcap) throw new RangeError(`kvCacheWrite: rows [${p0}, ${p0 + T}) of sequence ${b} do not fit a cache of ${Tcap}`);
      Cc.set(X.subarray(b * T * row, (b + 1) * T * row), (b * Tcap + p0) * row);
    }
  }

  swigluForward(out: Tensor, gate: Tensor, up: Tensor): void {
    expectSizes(gate.size, 'swigluForward', [[up, 'up'], [out, 'out']]);
    const G = f32(gate, 'swigluForward gate');
    const U = f32(up, 'swigluForward up');
    const O = f32(out, 'swigluForward out');
    for (let i = 0; i < G.length; i++) {
      const g = G[i]!;
      O[i] = (g / (1 + Math.exp(-g))) * U[i]!;
    }
  }

  swigluBackward(dgate: Tensor, dup: Tensor, dout: Tensor, gate: Tensor, up: Tensor): void {
    expectSizes(gate.size, 'swigluBackward', [[dgate, 'dgate'], [dup, 'dup'], [dout, 'dout'], [up, 'up']]);
    const G = f32(gate, 'swigluBackward gate');
    const U = f32(up, 'swigluBackward up');
    const dO = f32(dout, 'swigluBackward dout');
    const dG = f32(dgate, 'swigluBackward dgate');
    const dU = f32(dup, 'swigluBackward dup');
    for (let i = 0; i < G.length; i++) {
      const g = G[i]!;
      const sig = 1 / (1 + Math.exp(-g));
      // d silu(g)/dg = σ(g) (1 + g (1 - σ(g)))
      dG[i]! += dO[i]! * U[i]! * sig * (1 + g * (1 - sig));
      dU[i]! += dO[i]! * g * sig;
    }
  }

  crossEntropyForward(losses: Tensor, logits: Tensor, targets: Tensor, mask: Tensor | null): void {
    const [N, V] = crossEntropyShape(logits, targets, mask, 'crossEntropyForward');
    expectSize(losses, N, 'crossEntropyForward losses');
    const Lg = f32(logits, 'crossEntropyForward logits');
    const Tg = i32(targets, 'crossEntropyForward targets');
    const M = mask ? f32(mask, 'crossEntropyForward mask') : null;
    const out = f32(losses, 'crossEntropyForward losses');
    for (let n = 0; n < N; n++) {
      const t = Tg[n]!;
      if (t < 0 || t >= V) throw new RangeError(`crossEntropyForward: target ${t} at row ${n} is outside the vocabulary [0, ${V})`);
      const row = n * V;
      let max = -Infinity;
      for (let i = 0; i < V; i++) if (Lg[row + i]! > max) max = Lg[row + i]!;
      let sum = 0;
      for (let i = 0; i < V; i++) sum += Math.exp(Lg[row + i]! - max);
      const nll = max + Math.log(sum) - Lg[row + t]!;
      out[n] = M ? nll * M[n]! : nll;
    }
  }

  crossEntropyBackward(dlogits: Tensor, logits: Tensor, targets: Tensor, mask: Tensor | null, scale: number): void {
    const [N, V] = crossEntropyShape(logits, targets, mask, 'crossEntropyBackward');
    expectSize(dlogits, logits.size, 'crossEntropyBackward dlogits');
    const Lg = f32(logits, 'crossEntropyBackward logits');
    const Tg = i32(targets, 'crossEntropyBackward targets');
    const M = mask ? f32(mask, 'crossEntropyBackward mask') : null;
    const dL = f32(dlogits, 'crossEntropyBackward dlogits');
    for (let n = 0; n < N; n++) {
      const t = Tg[n]!;
      if (t < 0 || t >= V) throw new RangeError(`crossEntropyBackward: target ${t} at row ${n} is outside the vocabulary [0, ${V})`);
      const row = n * V;
      const w = (M ? M[n]! : 1) * scale;
      let max = -Infinity;
      for (let i = 0; i < V; i++) if (Lg[row + i]! > max) max = Lg[row + i]!;
      let sum = 0;
      for (let i = 0; i < V; i++) sum += Math.exp(Lg[row + i]! - max);
      for (let i = 0; i < V; i++) {
        const prob = Math.exp(Lg[row + i]! - max) / sum;
        dL[row + i] = (prob - (i === t ? 1 : 0)) * w;
      }
    }
  }

  // ---- optimizer ----

  adamw(param: Tensor, grad: Tensor, m: Tensor, v: Tensor, p: AdamWParams): void {
    adamwShape(param, grad, m, v, p.step);
    const P = f32(param, 'adamw param');
    const G = f32(grad, 'adamw grad');
    const Mm = f32(m, 'adamw m');
    const Vv = f32(v, 'adamw v');
    const bc1 = 1 - Math.pow(p.beta1, p.step);
    const bc2 = 1 - Math.pow(p.beta2, p.step);
    for (let i = 0; i < P.length; i++) {
      const g = G[i]!;
      Mm[i] = p.beta1 * Mm[i]! + (1 - p.beta1) * g;
      Vv[i] = p.beta2 * Vv[i]! + (1 - p.beta2) * g * g;
      const mhat = Mm[i]! / bc1;
      const vhat = Vv[i]! / bc2;
      // decoupled weight decay, applied to the pre-update weight (torch.optim.AdamW order)
      P[i] = P[i]! * (1 - p.lr * p.weightDecay) - (p.lr * mhat) / (Math.sqrt(vhat) + p.eps);
    }
  }
}
