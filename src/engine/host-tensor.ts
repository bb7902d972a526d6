import type { DType, Tensor } from './backend.js';

/**
 * What the host backends (`ref`, `cpu`) share: the tensor view over a host typed array and the
 * shape primitives that op-shapes.ts builds each op's checks from, so both reject the same inputs
 * with the same messages.
 * Shape rule for 2-D ops: a tensor of any rank is read as (size / lastDim, lastDim).
 */

export type HostStorage = Float32Array | Int32Array;

export class HostTensor implements Tensor {
  readonly size: number;
  constructor(
    readonly dtype: DType,
    readonly shape: readonly number[],
    readonly offset: number,
    readonly storage: HostStorage,
  ) {
    this.size = shapeSize(shape);
  }
}

export function shapeSize(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new RangeError(`invalid dimension ${d} in shape [${shape.join(', ')}]`);
    n *= d;
  }
  return n;
}

export function formatShape(t: Tensor): string {
  return `[${t.shape.join(', ')}]`;
}

export function lastDim(t: Tensor, what = 'tensor'): number {
  if (t.shape.length === 0) throw new RangeError(`${what}: expected a tensor of rank >= 1, got a scalar`);
  return t.shape[t.shape.length - 1]!;
}

/** (rows, cols) of a tensor read as a matrix: cols = last dimension. */
export function asMatrix(t: Tensor, what = 'tensor'): [number, number] {
  const cols = lastDim(t, what);
  return [cols === 0 ? 0 : t.size / cols, cols];
}

export function expectSize(t: Tensor, size: number, what: string): void {
  if (t.size !== size) throw new RangeError(`${what}: expected ${size} elements, got ${t.size} (shape ${formatShape(t)})`);
}

export function expectShape(t: Tensor, shape: readonly number[], what: string): void {
  if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
    throw new RangeError(`${what}: expected shape [${shape.join(', ')}], got ${formatShape(t)}`);
  }
}

export function expectRank(t: Tensor, rank: number, what: string): void {
  if (t.shape.length !== rank) throw new RangeError(`${what}: expected rank ${rank}, got shape ${formatShape(t)}`);
}

/** A zero-filled host tensor. */
export function allocHostTensor(shape: readonly number[], dtype: DType = 'f32'): HostTensor {
  const size = shapeSize(shape);
  if (dtype !== 'f32' && dtype !== 'i32') throw new RangeError(`alloc: unknown dtype ${String(dtype)}`);
  return new HostTensor(dtype, [...shape], 0, dtype === 'f32' ? new Float32Array(size) : new Int32Array(size));
}

/** A view `offset` elements into `t` (same storage), after checking it fits and `t` is a host tensor. */
export function viewHostTensor(t: Tensor, offset: number, shape: readonly number[]): HostTensor {
  const size = shapeSize(shape);
  if (!Number.isInteger(offset) || offset < 0 || offset + size > t.size) {
    throw new RangeError(`view: offset ${offset} + size ${size} does not fit inside a tensor of ${t.size} elements`);
  }
  const s = t.storage;
  const hostOfDtype = t.dtype === 'f32' ? s instanceof Float32Array : t.dtype === 'i32' && s instanceof Int32Array;
  if (!hostOfDtype) throw new RangeError(`view: expected a ${t.dtype} host tensor, got ${formatShape(t)} on another backend`);
  if (t.offset + t.size > (s as HostStorage).length) throw new RangeError(`view: the viewed tensor lies outside its storage of ${(s as HostStorage).length}`);
  return new HostTensor(t.dtype, [...shape], t.offset + offset, s as HostStorage);
}
