import assert from 'node:assert/strict';
import { Mulberry32 } from '../../src/common/mulberry32.js';
import type { Backend, Tensor } from '../../src/engine/backend.js';

/** Shared helpers of the cpu backend tests: seeded data, twin tensors on two backends, tolerant compare. */

/** A seeded uniform stream (the project's mulberry32) so every run sees the same data. */
export function rng(seed: number): () => number {
  const r = new Mulberry32(seed);
  return () => r.uniform();
}

/** Normal(0, sd) samples (Box–Muller). */
export function randn(n: number, rand: () => number, sd = 1): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const u = Math.max(rand(), 1e-12);
    out[i] = sd * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
  }
  return out;
}

export function randint(n: number, lo: number, hi: number, rand: () => number): Int32Array {
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + Math.floor(rand() * (hi - lo));
  return out;
}

/** The same host data as a tensor on each backend. */
export function twin(backends: readonly Backend[], shape: number[], data: Float32Array | Int32Array): Tensor[] {
  return backends.map((be) => {
    const t = be.alloc(shape, data instanceof Float32Array ? 'f32' : 'i32');
    be.upload(t, data);
    return t;
  });
}

export interface Diff {
  maxAbs: number;
  maxRel: number;
}

/**
 * Asserts |got - want| <= atol + rtol * |want| elementwise and returns the largest differences,
 * which the tests print so drift is visible before it fails.
 */
export function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, atol: number, rtol: number, what: string): Diff {
  assert.equal(got.length, want.length, `${what}: length`);
  let maxAbs = 0;
  let maxRel = 0;
  let worst = -1;
  for (let i = 0; i < got.length; i++) {
    const g = got[i]!;
    const w = want[i]!;
    const d = Math.abs(g - w);
    if (!(d <= atol + rtol * Math.abs(w))) {
      if (worst < 0) worst = i;
    }
    if (Number.isNaN(d)) maxAbs = NaN;
    else if (d > maxAbs) maxAbs = d;
    const rel = d / Math.max(Math.abs(w), 1e-30);
    if (rel > maxRel && Math.abs(w) > atol) maxRel = rel;
  }
  assert.ok(worst < 0, `${what}: element ${worst} is ${got[worst]}, expected ${want[worst]} (atol ${atol}, rtol ${rtol}); max abs ${maxAbs}`);
  return { maxAbs, maxRel };
}

export function fmtDiff(what: string, d: Diff): string {
  return `${what}: max abs ${d.maxAbs.toExponential(2)}, max rel ${d.maxRel.toExponential(2)}`;
}
