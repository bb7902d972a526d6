/**
 * Pair-mining search benchmark: HNSW (usearch) against exact search on the same vectors, in one run.
 *
 *   npx tsx bench/pairs.ts [--docs 100000] [--dim 384] [--clusters 1000] [--k 10] [--quantization f16]
 *                          [--connectivity 16] [--expansion-add 64] [--expansion-search 64]
 *                          [--exact-sample 400] [--ts-sample 20] [--threads N]
 * (HNSW defaults are those of the `pair` config section.)
 *
 * Vectors: seeded, clustered with a low intrinsic dimension (test/pairs/clustered-vectors.ts), because
 * no real embeddings ship with the repository. Every document searches for its k+1 nearest (itself
 * included), as `sbp pair` does. The exact peer is usearch's native brute force (SIMD, all threads);
 * it is timed on a sample of query documents and extrapolated linearly to all of them (its cost is
 * exactly proportional to the number of queries), and the same sample gives recall@k. Our
 * TypeScript exact search (the test oracle) is timed on a smaller sample for reference.
 * Prints one JSON object.
 */
import { availableParallelism } from 'node:os';
import { PairConfigSchema } from '../src/config/schema.js';
import { AnnIndex } from '../src/pairs/ann-index.js';
import { exactSearch } from '../src/pairs/exact-search.js';
import { nativeExactSearch } from '../src/pairs/native-exact-search.js';
import { sampleIndices } from '../src/pairs/pair-miner.js';
import { normalizeRows } from '../src/pairs/vector-set.js';
import type { Neighbours } from '../src/pairs/neighbours.js';
import { clusteredVectors } from '../test/pairs/clustered-vectors.js';

function arg(name: string, fallback: number): number;
function arg(name: string, fallback: string): string;
function arg(name: string, fallback: number | string): number | string {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = process.argv[i + 1]!;
  return typeof fallback === 'number' ? Number(v) : v;
}

const docs = arg('docs', 100_000);
const dim = arg('dim', 384);
const clusters = arg('clusters', 1000);
const defaults = PairConfigSchema.parse({}); // the `sbp pair` defaults, unless flags say otherwise
const k = arg('k', defaults.k);
const quantization = arg('quantization', defaults.quantization) as 'f16' | 'i8' | 'f32';
const connectivity = arg('connectivity', defaults.connectivity);
const expansionAdd = arg('expansion-add', defaults.expansionAdd);
const expansionSearch = arg('expansion-search', defaults.expansionSearch);
const exactSample = arg('exact-sample', 400);
const tsSample = arg('ts-sample', 20);
const threads = arg('threads', availableParallelism());
const kk = k + 1;

const seconds = (t0: number) => (performance.now() - t0) / 1000;

let t = performance.now();
const { vectors: raw } = clusteredVectors({ count: docs, dim, clusters, latentDim: 16, spread: 0.8, noise: 0.3, seed: 42 });
const unit = normalizeRows(raw, dim);
const generateSeconds = seconds(t);

const rows = Uint32Array.from({ length: docs }, (_, i) => i);
t = performance.now();
const index = AnnIndex.create(dim, { quantization, connectivity, expansionAdd, expansionSearch }, kk);
index.add(unit, rows, threads);
const buildSeconds = seconds(t);

t = performance.now();
const ann = index.search(unit, kk, threads);
const searchSeconds = seconds(t);

const sample = Uint32Array.from(sampleIndices(docs, exactSample, 7));
const queries = new Float32Array(sample.length * dim);
sample.forEach((r, i) => queries.set(unit.subarray(r * dim, (r + 1) * dim), i * dim));
t = performance.now();
const truth = nativeExactSearch(unit, queries, dim, kk, threads);
const exactSampleSeconds = seconds(t);
const exactSeconds = (exactSampleSeconds * docs) / sample.length;

const tsQueries = queries.subarray(0, Math.min(tsSample, sample.length) * dim);
t = performance.now();
const tsTruth = exactSearch(unit, tsQueries, dim, kk);
const tsSampleSeconds = seconds(t);

function nonSelf(nb: Neighbours, row: number, self: number): number[] {
  const out: number[] = [];
  for (let j = 0; j < nb.k && out.length < k; j++) {
    const r = nb.rows[row * nb.k + j]!;
    if (r >= 0 && r !== self) out.push(r);
  }
  return out;
}
let hits = 0;
let total = 0;
let oracleAgree = 0;
sample.forEach((self, i) => {
  const want = nonSelf(truth, i, self);
  const got = new Set(nonSelf(ann, self, self));
  for (const r of want) if (got.has(r)) hits++;
  total += want.length;
  if (i < tsTruth.queries && nonSelf(tsTruth, i, self).join() === want.join()) oracleAgree++;
});
const recall = hits / total;

console.log(
  JSON.stringify(
    {
      bench: 'pairs',
      docs,
      dim,
      clusters,
      k,
      threads,
      index: { library: 'usearch 2.25 HNSW', metric: 'cos', quantization, connectivity, expansionAdd, expansionSearch: Math.max(expansionSearch, kk) },
      generateSeconds: +generateSeconds.toFixed(2),
      buildSeconds: +buildSeconds.toFixed(2),
      searchSeconds: +searchSeconds.toFixed(2),
      annSeconds: +(buildSeconds + searchSeconds).toFixed(2),
      recallAtK: +recall.toFixed(4),
      recallSample: sample.length,
      exact: {
        peer: 'usearch exactSearch (native SIMD brute force, f32 inner product, all threads)',
        sampleQueries: sample.length,
        sampleSeconds: +exactSampleSeconds.toFixed(2),
        extrapolated: true,
        seconds: +exactSeconds.toFixed(1),
      },
      typescriptExact: {
        sampleQueries: tsTruth.queries,
        sampleSeconds: +tsSampleSeconds.toFixed(2),
        extrapolatedSeconds: +((tsSampleSeconds * docs) / Math.max(tsTruth.queries, 1)).toFixed(1),
        agreesWithNative: `${oracleAgree}/${tsTruth.queries}`,
      },
      speedup: {
        searchOnly: +(exactSeconds / searchSeconds).toFixed(2),
        buildAndSearch: +(exactSeconds / (buildSeconds + searchSeconds)).toFixed(2),
      },
      targets: { recallAtK: 0.95, speedupBuildAndSearch: 3 },
      pass: recall >= 0.95 && exactSeconds / (buildSeconds + searchSeconds) >= 3,
    },
    null,
    2,
  ),
);
