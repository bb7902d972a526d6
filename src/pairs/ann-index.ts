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
  /**
   * Indexes of fewer vectors than this are built one insertion at a time (default 50,000): the
   * result is the same on every run, and none of the nodes is lost (see `add`).
   */
  parallelBuildFrom?: number;
}

/** Default of `AnnParams.parallelBuildFrom`. */
export const PARALLEL_BUILD_FROM = 50_000;

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

  /**
   * Adds `vectors` (m, dim), the i-th under key `keys[i]` (its vector-set row), on `threads`
   * threads, or one at a time when `sequential`.
   *
   * usearch's concurrent insertion is not deterministic and leaves a few nodes unreachable from
   * the entry point (measured on clustered vectors with 2 threads: about 5 of 20,000; a whole
   * 3-vector group in a third of 60-vector builds; none when sequential, which takes about twice
   * as long on 2 cores). Sequential insertion still calls usearch with `threads`, one vector per
   * call, because usearch sizes its per-thread search contexts from the thread count of the
   * insertion that grew the index; the per-call overhead measured 9% at 20,000 vectors.
   */
  add(vectors: Float32Array, keys: Uint32Array, threads: number, sequential = false): void {
    if (vectors.length !== keys.length * this.dim) throw new RangeError(`AnnIndex.add: ${vectors.length} values for ${keys.length} keys of dimension ${this.dim}`);
    if (keys.length === 0) return;
    if (!sequential) {
      this.index.add(BigUint64Array.from(keys, (r) => BigInt(r)), vectors, threads);
      return;
    }
    const key = new BigUint64Array(1);
    for (let i = 0; i < keys.length; i++) {
      key[0] = BigInt(keys[i]!);
      this.index.add(key, vectors.subarray(i * this.dim, (i + 1) * this.dim), threads);
    }
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
