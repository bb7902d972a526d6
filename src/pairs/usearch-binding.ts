import { createRequire } from 'node:module';
import { UserError } from '../common/errors.js';

/**
 * The part of the `usearch` package that pair mining uses, typed here and kept private to `pairs/`.
 * Loaded through its CommonJS build: the package's ES-module build locates its native addon from the
 * caller's stack and recurses without end when imported from another ES module (usearch 2.25).
 */
export type UsearchQuantization = 'f32' | 'f16' | 'i8';

export interface UsearchIndexOptions {
  metric: 'cos' | 'ip';
  dimensions: number;
  quantization: UsearchQuantization;
  connectivity: number;
  expansion_add: number;
  expansion_search: number;
  multi: boolean;
}

export interface UsearchBatchMatches {
  keys: BigUint64Array; // (queries, k); unused slots hold garbage, see counts
  distances: Float32Array; // (queries, k); cosine distance = 1 - cosine similarity
  counts: BigUint64Array; // (queries,) how many slots of each row are filled
}

export interface UsearchIndex {
  add(keys: BigUint64Array, vectors: Float32Array, threads: number): void;
  search(vectors: Float32Array, k: number, threads: number): UsearchBatchMatches | { keys: BigUint64Array; distances: Float32Array };
  size(): number;
  dimensions(): number;
  connectivity(): number;
  save(path: string): void;
  load(path: string): void;
}

export interface UsearchModule {
  Index: new (options: UsearchIndexOptions) => UsearchIndex;
  exactSearch(
    dataset: Float32Array,
    queries: Float32Array,
    dimensions: number,
    count: number,
    metric: 'cos' | 'ip',
    threads: number,
  ): UsearchBatchMatches | { keys: BigUint64Array; distances: Float32Array };
}

let loaded: UsearchModule | undefined;

/** The usearch module, loaded on first use; a missing or broken install is the user's to fix. */
export function usearch(): UsearchModule {
  if (loaded) return loaded;
  const require = createRequire(import.meta.url);
  try {
    loaded = require('usearch') as UsearchModule;
  } catch (err) {
    throw new UserError(
      `pair mining needs the npm package "usearch" with its native addon (HNSW and the native exact search), which did not load ` +
        `(${(err as Error).message.split('\n')[0]}). Run \`npm i usearch@2.25.3\`; it ships prebuilt addons for Linux (x64, arm64) and macOS; elsewhere it compiles one with node-gyp.`,
      { cause: err },
    );
  }
  return loaded;
}
