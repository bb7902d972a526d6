import type { Neighbours } from './neighbours.js';
import { usearch } from './usearch-binding.js';

/**
 * Exact k-nearest-neighbour search by inner product with usearch's native brute force (SIMD, all
 * threads). It materialises 16 bytes per (query, base row) — a distance matrix and its transpose —
 * so queries go through in chunks that keep that scratch near `scratchBytes`.
 *
 * base: (n, dim), queries: (q, dim), both unit length. Checked against `exactSearch` in the tests.
 * The addon reads a typed array from the start of its ArrayBuffer (it ignores byteOffset), so views
 * are copied before they cross.
 */
export function nativeExactSearch(base: Float32Array, queries: Float32Array, dim: number, k: number, threads: number, scratchBytes = 256 << 20): Neighbours {
  const n = base.length / dim;
  const q = queries.length / dim;
  const kk = Math.min(k, n);
  const rows = new Int32Array(q * k).fill(-1);
  const sims = new Float32Array(q * k).fill(Number.NaN);
  if (n === 0 || q === 0) return { k, queries: q, rows, sims };
  const u = usearch();
  const baseOwned = ownBuffer(base);
  const chunk = Math.max(1, Math.floor(scratchBytes / (16 * n)));
  for (let q0 = 0; q0 < q; q0 += chunk) {
    const q1 = Math.min(q0 + chunk, q);
    const m = u.exactSearch(baseOwned, queries.slice(q0 * dim, q1 * dim), dim, kk, 'ip', threads);
    for (let i = 0; i < q1 - q0; i++) {
      for (let j = 0; j < kk; j++) {
        rows[(q0 + i) * k + j] = Number(m.keys[i * kk + j]!);
        sims[(q0 + i) * k + j] = 1 - m.distances[i * kk + j]!;
      }
    }
  }
  return { k, queries: q, rows, sims };
}

/** `a` itself when it spans its whole buffer, else a copy that does. */
function ownBuffer(a: Float32Array): Float32Array {
  return a.byteOffset === 0 && a.byteLength === a.buffer.byteLength ? a : a.slice();
}
