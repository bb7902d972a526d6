import type { Tensor } from './backend.js';
import { asMatrix, expectRank, expectShape, expectSize, formatShape as fmt, lastDim } from './host-tensor.js';

/**
 * The shape checks of every op, shared by the host backends (`ref`, `cpu`) so that both reject the
 * same inputs with the same messages before any work starts (RangeError). Each returns the named
 * dimensions its op runs on. Checks that only one backend needs (the cpu kernels' largest head size,
 * finite scalars before they cross into C++) stay in that backend.
 * Shape rule for 2-D ops: a tensor of any rank is read as (size / lastDim, lastDim).
 */

/** Checks that a host array fits a tensor: same element type, same size. */
export function uploadShape(dst: Tensor, src: Float32Array | Int32Array): void {
  if ((dst.dtype === 'f32') !== src instanceof Float32Array) throw new RangeError(`upload: host array type does not match tensor dtype ${dst.dtype}`);
  if (src.length !== dst.size) throw new RangeError(`upload: host array has ${src.length} elements, tensor ${fmt(dst)} has ${dst.size}`);
}

/** Checks matmul operands; returns the GEMM sizes op(a) (M, K) · op(b) (K, N) and the row lengths of a and b. */
export function matmulShape(
  out: Tensor, a: Tensor, b: Tensor, transA: boolean, transB: boolean,
): { M: number; N: number; K: number; ac: number; bc: number } {
  const [ar, ac] = asMatrix(a, 'matmul a');
  const [br, bc] = asMatrix(b, 'matmul b');
  const [M, K] = transA ? [ac, ar] : [ar, ac];
  const [K2, N] = transB ? [bc, br] : [br, bc];
  if (K !== K2) throw new RangeError(`matmul: inner dimensions differ: op(a) ${M}x${K}, op(b) ${K2}x${N} (a ${fmt(a)}, b ${fmt(b)})`);
  const [orows, ocols] = asMatrix(out, 'matmul out');
  if (orows !== M || ocols !== N) throw new RangeError(`matmul: out ${fmt(out)} should be ${M}x${N}`);
  return { M, N, K, ac, bc };
}

/** Checks an embedding lookup: wte (V, C), `rows` (N·C) for N tokens; returns [N, C, V]. */
export function embeddingShape(rows: Tensor, tokens: Tensor, wte: Tensor, what: string, rowsName: string, wteName: string): [number, number, number] {
  expectRank(wte, 2, `${what} ${wteName}`);
  const [V, C] = wte.shape as [number, number];
  const N = tokens.size;
  expectSize(rows, N * C, `${what} ${rowsName}`);
  return [N, C, V];
}

/** Checks that x has rows of the weight's size; returns [N, C]. */
export function rmsnormShape(x: Tensor, w: Tensor, what: string): [number, number] {
  const C = w.size;
  if (lastDim(x, `${what} x`) !== C) throw new RangeError(`${what}: x ${fmt(x)} last dimension should be ${C} (the weight size)`);
  return [C === 0 ? 0 : x.size / C, C];
}

/** Checks rope arguments: cos, sin (maxPos, D/2), x (N, NH, D) for N positions; returns [N, NH, D, maxPos]. */
export function ropeShape(x: Tensor, positions: Tensor, cos: Tensor, sin: Tensor, what: string): [number, number, number, number] {
  expectRank(cos, 2, `${what} cos`);
  expectShape(sin, cos.shape, `${what} sin`);
  const [maxPos, half] = cos.shape as [number, number];
  const D = 2 * half;
  const N = positions.size;
  if (lastDim(x, `${what} x`) !== D) throw new RangeError(`${what}: x ${fmt(x)} last dimension should be ${D} (2 × cos columns)`);
  if (N === 0 || D === 0 || x.size % (N * D) !== 0) throw new RangeError(`${what}: x ${fmt(x)} does not split into ${N} positions × heads × ${D}`);
  return [N, x.size / (N * D), D, maxPos];
}

function expectHeadGroups(H: number, KVH: number, what: string): void {
  if (KVH === 0 || H % KVH !== 0) throw new RangeError(`${what}: ${H} query heads are not a multiple of ${KVH} key/value heads`);
}

/** Checks causal attention q (B, T, H, D), k and v (B, T, KVH, D); returns [B, T, H, KVH, D]. */
export function attentionShape(q: Tensor, k: Tensor, v: Tensor, what: string): [number, number, number, number, number] {
  expectRank(q, 4, `${what} q`);
  expectRank(k, 4, `${what} k`);
  const [B, T, H, D] = q.shape as [number, number, number, number];
  const KVH = k.shape[2]!;
  expectShape(k, [B, T, KVH, D], `${what} k`);
  expectShape(v, [B, T, KVH, D], `${what} v`);
  expectHeadGroups(H, KVH, what);
  return [B, T, H, KVH, D];
}

/** Checks attentionForward's outputs: out like q, lse (B, H, T); returns [B, T, H, KVH, D]. */
export function attentionForwardShape(out: Tensor, lse: Tensor, q: Tensor, k: Tensor, v: Tensor): [number, number, number, number, number] {
  const dims = attentionShape(q, k, v, 'attentionForward');
  const [B, T, H] = dims;
  expectShape(out, q.shape, 'attentionForward out');
  expectShape(lse, [B, H, T], 'attentionForward lse');
  return dims;
}

/** Checks attentionBackward's gradients and saved tensors; returns [B, T, H, KVH, D]. */
export function attentionBackwardShape(
  dq: Tensor, dk: Tensor, dv: Tensor, dout: Tensor, out: Tensor, lse: Tensor, q: Tensor, k: Tensor, v: Tensor,
): [number, number, number, number, number] {
  const dims = attentionShape(q, k, v, 'attentionBackward');
  const [B, T, H] = dims;
  expectShape(dq, q.shape, 'attentionBackward dq');
  expectShape(dk, k.shape, 'attentionBackward dk');
  expectShape(dv, v.shape, 'attentionBackward dv');
  expectShape(dout, q.shape, 'attentionBackward dout');
  expectShape(out, q.shape, 'attentionBackward out');
  expectShape(lse, [B, H, T], 'attentionBackward lse');
  return dims;
}

/** Checks one decode step: q (B, H, D), caches (B, Tcap, KVH, D), out (B, H, D), lens (B); returns [B, H, KVH, D, Tcap]. */
export function attentionDecodeShape(out: Tensor, q: Tensor, kCache: Tensor, vCache: Tensor, lens: Tensor): [number, number, number, number, number] {
  expectRank(q, 3, 'attentionDecode q');
  expectRank(kCache, 4, 'attentionDecode kCache');
  const [B, H, D] = q.shape as [number, number, number];
  const [, Tcap, KVH] = kCache.shape as [number, number, number, number];
  expectShape(kCache, [B, Tcap, KVH, D], 'attentionDecode kCache');
  expectShape(vCache, [B, Tcap, KVH, D], 'attentionDecode vCache');
  expectShape(out, [B, H, D], 'attentionDecode out');
  expectSize(lens, B, 'attentionDecode lens');
  expectHeadGroups(H, KVH, 'attentionDecode');
  return [B, H, KVH, D, Tcap];
}

/** Checks a cache write: cache (B, Tcap, KVH, D), x (B, T, KVH, D), pos (B); returns [B, T, Tcap, KVH, D]. */
export function kvCacheWriteShape(cache: Tensor, x: Tensor, pos: Tensor): [number, number, number, number, number] {
  expectRank(cache, 4, 'kvCacheWrite cache');
  expectRank(x, 4, 'kvCacheWrite x');
  const [B, Tcap, KVH, D] = cache.shape as [number, number, number, number];
  const T = x.shape[1]!;
  expectShape(x, [B, T, KVH, D], 'kvCacheWrite x');
  expectSize(pos, B, 'kvCacheWrite pos');
  return [B, T, Tcap, KVH, D];
}

/** Checks that every named tensor has as many elements as `size` (the elementwise ops). */
export function expectSizes(size: number, what: string, tensors: readonly (readonly [Tensor, string])[]): void {
  for (const [t, name] of tensors) expectSize(t, size, `${what} ${name}`);
}

/** Checks cross-entropy arguments: logits (N, V), targets and mask (N); returns [N, V]. */
export function crossEntropyShape(logits: Tensor, targets: Tensor, mask: Tensor | null, what: string): [number, number] {
  const [N, V] = asMatrix(logits, `${what} logits`);
  expectSize(targets, N, `${what} targets`);
  if (mask) expectSize(mask, N, `${what} mask`);
  return [N, V];
}

/** Checks AdamW's state sizes and its step (bias correction needs step >= 1). */
export function adamwShape(param: Tensor, grad: Tensor, m: Tensor, v: Tensor, step: number): void {
  expectSizes(param.size, 'adamw', [[grad, 'grad'], [m, 'm'], [v, 'v']]);
  if (!Number.isInteger(step) || step < 1) throw new RangeError(`adamw: step must be an integer >= 1 (bias correction), got ${step}`);
}
