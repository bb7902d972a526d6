import type { DType, Tensor } from './backend.js';

/**
 * What the host backends (`ref`, `cpu`) share: the tensor view over a host typed array and the
 * shape checks both run before any work, so they reject the same inputs with the same messages.
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
