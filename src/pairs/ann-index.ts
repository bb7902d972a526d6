import type { Neighbours } from './neighbours.js';
import { usearch, type UsearchIndex, type UsearchQuantization } from './usearch-binding.js';

/** HNSW parameters (usearch names in brackets). */
export interface AnnParams {
  /** Storage of the vectors inside the index: f16 by default; i8 is the analogue of 8-bit ScaNN. */
  quantization: UsearchQuantization;
  /** Graph degree M [connectivity]: more edges, better recall, bigger index and slower build. */
  connectivity: number;
  /** Candidate list while inserting [expansion_add]: better graph, slower build. */
  expansionAdd: number;
  /** Candidate list while searching [expansion_search]: better recall, slower search; raised to k if smaller. */
  expansionSearch: number;
}

/**
 * An HNSW index over unit-length rows with cosine similarity (usearch). Rows are keyed by their row
 * index in the vector set, so search results are row indices.
 */
export class AnnIndex {
  private constructor(
    private readonly index: UsearchIndex,
    readonly dim: number,
  ) {}

  static create(dim: number, params: AnnParams, k: number): AnnIndex {
    const u = usearch();
    const index = new u.Index({
      metric: 'cos',
      dimensions: dim,
      quantization: params.quantization,
      connectivity: params.connectivity,
      expansion_add: params.expansionAdd,
      expansion_search: Math.max(params.expansionSearch, k),
      multi: false,
    });
    return new AnnIndex(index, dim);
  }

  /** Loads an index saved with `save`; the caller checks that it belongs to the same vectors. */
  static load(path: string, dim: number, params: AnnParams, k: number): AnnIndex {
    const ann = AnnIndex.create(dim, params, k);
    ann.index.load(path);
    if (ann.index.dimensions() !== dim) throw new Error(`${path}: index of dimension ${ann.index.dimensions()}, expected ${dim}`);
    return ann;
  }

  get size(): number {
    return this.index.size();
  }

  /** Adds `vectors` (m, dim), the i-th under key `keys[i]` (its vector-set row). */
  add(vectors: Float32Array, keys: Uint32Array, threads: number): void {
    if (vectors.length !== keys.length * this.dim) throw new RangeError(`AnnIndex.add: ${vectors.length} values for ${keys.length} keys of dimension ${this.dim}`);
    if (keys.length === 0) return;
    this.index.add(BigUint64Array.from(keys, (r) => BigInt(r)), vectors, threads);
  }

  /** The k best rows for each query row of `queries` (q, dim), on `threads` threads. */
  search(queries: Float32Array, k: number, threads: number): Neighbours {
    const q = queries.length / this.dim;
    const rows = new Int32Array(q * k).fill(-1);
    const sims = new Float32Array(q * k).fill(Number.NaN);
    if (q === 0 || this.size === 0) return { k, queries: q, rows, sims };
    const m = this.index.search(queries, k, threads);
    const counts = 'counts' in m ? m.counts : BigUint64Array.of(BigInt(m.keys.length));
    for (let i = 0; i < q; i++) {
      const filled = Math.min(Number(counts[i]!), k);
      for (let j = 0; j < filled; j++) {
        rows[i * k + j] = Number(m.keys[i * k + j]!);
        sims[i * k + j] = 1 - m.distances[i * k + j]!;
      }
    }
    return { k, queries: q, rows, sims };
  }

  save(path: string): void {
    this.index.save(path);
  }
}
