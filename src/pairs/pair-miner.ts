import { UserError } from '../common/errors.js';
import { Mulberry32 } from '../common/mulberry32.js';
import { AnnIndex, PARALLEL_BUILD_FROM, type AnnParams } from './ann-index.js';
import { passesAlpha, resolveAlpha, type ResolvedAlpha } from './alpha-threshold.js';
import { MinHasher, estimateJaccard } from './minhash.js';
import { nativeExactSearch } from './native-exact-search.js';
import type { Neighbours } from './neighbours.js';
import { filterPairs, noDrops, selectCandidates, type PairDrops, type PairList } from './pair-list.js';
import { partnerStats, similarityHistogram, summarize, type PartnerStats, type SimilarityHistogram, type SimilaritySummary } from './pair-stats.js';
import { checkVectorSet, normalizeRows, type VectorSet } from './vector-set.js';

export interface NearDuplicateOptions {
  /** Pairs whose shingle Jaccard estimate is at least this are dropped; null turns the filter off. (ours) 0.8 */
  threshold: number | null;
  shingleWords: number; // (ours) 5
  permutations: number; // (ours) 128
}

export interface PairMinerOptions {
  /** Neighbours considered per document, itself excluded. */
  k: number;
  alpha: number;
  alphaQuantile?: number;
  search: 'ann' | 'exact';
  ann: AnnParams;
  nearDuplicate: NearDuplicateOptions;
  /** Query documents for the ANN recall@k measurement against exact search (0: skip). */
  recallSample: number;
  /** Example pairs (with text excerpts) to return for the report. */
  samples: number;
  seed: number;
  threads: number;
  /** Query documents per search block (the unit of resumption). */
  searchBlock: number;
}

/** One document's text, in the same order as the vector set's rows. */
export interface DocumentText {
  id: string;
  text: string;
}
/** Opens a fresh pass over the documents' texts (called up to twice). */
export type TextSource = () => AsyncIterable<DocumentText> | Iterable<DocumentText>;

/** Lets a caller persist the expensive parts (index, search blocks) so an interrupted run resumes. */
export interface SearchCheckpoint {
  /** The saved index, when an earlier attempt finished building it. */
  loadIndex(dim: number, params: AnnParams, k: number): AnnIndex | undefined;
  saveIndex(index: AnnIndex): void;
  loadBlock(block: number): Neighbours | undefined;
  saveBlock(block: number, result: Neighbours): void;
}

export type MinerPhase = 'index' | 'search' | 'recall' | 'texts';
export interface PairMinerHooks {
  checkpoint?: SearchCheckpoint;
  onProgress?: (phase: MinerPhase, done: number, total: number) => void;
  /** Names the vectors in error messages (a file path). */
  origin?: string;
}

export interface RecallStats {
  k: number;
  /** Query documents measured. */
  sample: number;
  /** Mean over the sample of |ANN top-k ∩ exact top-k| / |exact top-k|, self excluded from both. */
  value: number;
}

export interface PairStats {
  documents: number;
  dim: number;
  /** Documents whose vector is all zeros: neither searched nor found. */
  zeroVectors: number;
  k: number;
  search: 'ann' | 'exact';
  ann: AnnParams | null;
  threads: number;
  alpha: ResolvedAlpha;
  nearDuplicate: NearDuplicateOptions & { signatures: number };
  /** Neighbours the search returned (= pairs + every drop). */
  neighboursReturned: number;
  /** Neighbours that reached the α test (returned − self − beyond_k). */
  candidates: number;
  pairs: number;
  drops: PairDrops;
  similarity: {
    candidates: SimilarityHistogram;
    pairs: SimilarityHistogram;
    candidateSummary: SimilaritySummary;
    pairSummary: SimilaritySummary;
  };
  partners: PartnerStats;
  recall: RecallStats | null;
  searchBlocks: number;
  searchBlocksReused: number;
  indexReused: boolean;
  /** Queries of this attempt's search that HNSW could not lead back to their own document, searched again exactly. */
  exactFallback: number;
  seconds: { index: number; search: number; recall: number; texts: number; total: number };
}

export interface PairSample {
  d1: number;
  d2: number;
  id1: string;
  id2: string;
  similarity: number;
  /** MinHash estimate of the shingle Jaccard (null when the filter is off). */
  jaccard: number | null;
  /** Set on near-duplicate examples, which are shown so the filter can be audited. */
  dropped?: 'near_duplicate';
  text1: string;
  text2: string;
}

export interface MinedPairs {
  pairs: PairList;
  stats: PairStats;
  samples: PairSample[];
}

export const EXCERPT_CHARS = 400;

/**
 * Mines directed pairs (d1 → d2): the k nearest other documents of every d1 by cosine similarity
 * (HNSW or exact), kept when the similarity is above α and the two texts are not near-duplicates.
 * When d2 is among d1's neighbours and d1 among d2's, both directions pass the same tests and both
 * are kept: they are different training examples, p(d2|d1) and p(d1|d2). Pairs come out sorted by
 * d1, then similarity descending.
 */
export async function minePairs(set: VectorSet, texts: TextSource, opts: PairMinerOptions, hooks: PairMinerHooks = {}): Promise<MinedPairs> {
  const t0 = performance.now();
  const origin = hooks.origin ?? 'vectors';
  checkVectorSet(set, origin);
  checkOptions(opts);
  const n = set.ids.length;
  if (n < 2) throw new UserError(`${origin}: holds ${n} document; pair mining needs at least 2`);
  const progress = hooks.onProgress ?? (() => {});
  const rows = liveRows(set);

  const tIndex = performance.now();
  const index = opts.search === 'ann' ? buildIndex(rows, opts, hooks.checkpoint, progress) : { ann: undefined, reused: false };
  const indexSeconds = (performance.now() - tIndex) / 1000;

  const tSearch = performance.now();
  const search = searchNeighbours(rows, index.ann, opts, hooks.checkpoint, progress);
  const searchSeconds = (performance.now() - tSearch) / 1000;

  const drops = noDrops();
  const alpha = applyAlpha(rows.live, search.neighbours, opts, drops);

  const tTexts = performance.now();
  const dedup = await dropNearDuplicates(alpha.survivors, set.ids, texts, opts.nearDuplicate, origin, drops, progress);
  let textsSeconds = (performance.now() - tTexts) / 1000;

  const tRecall = performance.now();
  const recall = opts.search === 'ann' && opts.recallSample > 0 ? measureRecall(rows, search.neighbours, opts, progress) : null;
  const recallSeconds = (performance.now() - tRecall) / 1000;

  // Examples for the report: kept pairs and, to audit the filter, some near-duplicate drops.
  const tSamples = performance.now();
  const samples = await pickSamples(alpha.survivors, dedup.notDuplicate, dedup.jaccard, set.ids, texts, opts, origin, opts.nearDuplicate.threshold !== null);
  textsSeconds += (performance.now() - tSamples) / 1000;

  const { pairs } = dedup;
  const kk = opts.k + 1;
  const stats: PairStats = {
    documents: n,
    dim: rows.dim,
    zeroVectors: n - rows.live.length,
    k: opts.k,
    search: opts.search,
    ann: opts.search === 'ann' ? { ...opts.ann, expansionSearch: Math.max(opts.ann.expansionSearch, kk) } : null,
    threads: opts.threads,
    alpha: alpha.alpha,
    nearDuplicate: { ...opts.nearDuplicate, signatures: dedup.signatures },
    neighboursReturned: alpha.neighboursReturned,
    candidates: alpha.candidates.d1.length,
    pairs: pairs.d1.length,
    drops,
    similarity: {
      candidates: similarityHistogram(alpha.candidates.sims),
      pairs: similarityHistogram(pairs.sims),
      candidateSummary: summarize(alpha.candidates.sims),
      pairSummary: summarize(pairs.sims),
    },
    partners: partnerStats(pairs, n, opts.k),
    recall,
    searchBlocks: search.blocks,
    searchBlocksReused: search.blocksReused,
    indexReused: index.reused,
    exactFallback: search.exactFallback,
    seconds: { index: indexSeconds, search: searchSeconds, recall: recallSeconds, texts: textsSeconds, total: (performance.now() - t0) / 1000 },
  };
  return { pairs, stats, samples };
}

/** The unit vectors that take part in the search: all-zero rows (empty documents) left out. */
interface LiveRows {
  dim: number;
  /** Vector-set row of each live row. */
  live: Uint32Array;
  /** (live, dim) unit vectors. */
  vectors: Float32Array;
}

function liveRows(set: VectorSet): LiveRows {
  const dim = set.dim;
  const unit = normalizeRows(set.vectors, dim);
  const live = nonZeroRows(unit, dim);
  return { dim, live, vectors: live.length === set.ids.length ? unit : gatherRows(unit, dim, live) };
}

/** Phase 1: the HNSW index over the live rows, reused from an interrupted attempt when there is one. */
function buildIndex(rows: LiveRows, opts: PairMinerOptions, checkpoint: SearchCheckpoint | undefined, progress: Progress): { ann: AnnIndex; reused: boolean } {
  const { dim, live, vectors } = rows;
  const kk = opts.k + 1; // the document usually finds itself first
  const saved = checkpoint?.loadIndex(dim, opts.ann, kk);
  if (saved && saved.size !== live.length) throw new Error(`the saved index holds ${saved.size} vectors, expected ${live.length}`);
  if (saved) return { ann: saved, reused: true };
  const ann = AnnIndex.create(dim, opts.ann, kk);
  const step = 8192;
  for (let i = 0; i < live.length; i += step) {
    const end = Math.min(i + step, live.length);
    ann.add(vectors.subarray(i * dim, end * dim), live.subarray(i, end), opts.threads, live.length < (opts.ann.parallelBuildFrom ?? PARALLEL_BUILD_FROM));
    progress('index', end, live.length);
  }
  checkpoint?.saveIndex(ann);
  return { ann, reused: false };
}

/** Phase 2: the (k+1)-neighbour search of every live row, block by block (ANN, or exact without an index). */
function searchNeighbours(
  rows: LiveRows, ann: AnnIndex | undefined, opts: PairMinerOptions, checkpoint: SearchCheckpoint | undefined, progress: Progress,
): { neighbours: Neighbours; blocks: number; blocksReused: number; exactFallback: number } {
  const { dim, live, vectors } = rows;
  const kk = opts.k + 1;
  const blocks = Math.ceil(live.length / opts.searchBlock);
  const found: Neighbours[] = [];
  let blocksReused = 0;
  let exactFallback = 0;
  for (let b = 0; b < blocks; b++) {
    const start = b * opts.searchBlock;
    const end = Math.min(start + opts.searchBlock, live.length);
    let result = checkpoint?.loadBlock(b);
    if (result && (result.queries !== end - start || result.k !== kk)) throw new Error(`search block ${b}: saved ${result.queries} × ${result.k}, expected ${end - start} × ${kk}`);
    if (result) blocksReused++;
    else {
      const queries = vectors.subarray(start * dim, end * dim);
      if (ann) {
        result = ann.search(queries, kk, opts.threads);
        exactFallback += searchLostExactly(result, live.subarray(start, end), vectors, live, queries, dim, opts.threads);
      } else result = exactNeighbours(vectors, live, queries, dim, kk, opts.threads);
      checkpoint?.saveBlock(b, result);
    }
    found.push(result);
    progress('search', end, live.length);
  }
  return { neighbours: concatNeighbours(found, kk), blocks, blocksReused, exactFallback };
}

/** Phase 3: candidates (self and the spare neighbour dropped), then the α threshold. */
function applyAlpha(
  live: Uint32Array, neighbours: Neighbours, opts: PairMinerOptions, drops: PairDrops,
): { neighboursReturned: number; candidates: PairList; alpha: ResolvedAlpha; survivors: PairList } {
  let neighboursReturned = 0;
  for (let i = 0; i < neighbours.rows.length; i++) if (neighbours.rows[i]! >= 0) neighboursReturned++;
  const candidates = selectCandidates(live, neighbours, opts.k, drops);
  const alpha = resolveAlpha(candidates.sims, opts);
  const aboveAlpha = new Uint8Array(candidates.d1.length);
  for (let i = 0; i < aboveAlpha.length; i++) {
    if (passesAlpha(candidates.sims[i]!, alpha.value)) aboveAlpha[i] = 1;
    else drops.below_alpha++;
  }
  return { neighboursReturned, candidates, alpha, survivors: filterPairs(candidates, aboveAlpha) };
}

/**
 * Phase 4: near-duplicates. MinHash signatures of the documents that appear in a surviving pair, in
 * one text pass; a pair whose Jaccard estimate reaches the threshold is dropped.
 */
async function dropNearDuplicates(
  survivors: PairList, ids: readonly string[], texts: TextSource, nd: NearDuplicateOptions, origin: string, drops: PairDrops, progress: Progress,
): Promise<{ pairs: PairList; jaccard: Float32Array; notDuplicate: Uint8Array; signatures: number }> {
  const n = ids.length;
  const hasher = new MinHasher({ shingleWords: nd.shingleWords, permutations: nd.permutations });
  const slot = new Int32Array(n).fill(-1);
  let needed = 0;
  if (nd.threshold !== null) {
    for (let i = 0; i < survivors.d1.length; i++) {
      for (const r of [survivors.d1[i]!, survivors.d2[i]!]) if (slot[r] === -1) slot[r] = needed++;
    }
  }
  const K = nd.permutations;
  const signatures = new Uint32Array(needed * K); // (needed, K)
  await forEachText(texts, ids, origin, (row, text) => {
    if (slot[row]! >= 0) hasher.signature(text, signatures.subarray(slot[row]! * K, (slot[row]! + 1) * K));
  }, (done) => progress('texts', done, n));
  const jaccard = new Float32Array(survivors.d1.length).fill(Number.NaN);
  const notDuplicate = new Uint8Array(survivors.d1.length).fill(1);
  if (nd.threshold !== null) {
    for (let i = 0; i < survivors.d1.length; i++) {
      const j = estimateJaccard(signatures, signatures, slot[survivors.d1[i]!]! * K, slot[survivors.d2[i]!]! * K, K);
      jaccard[i] = j;
      if (j >= nd.threshold) {
        notDuplicate[i] = 0;
        drops.near_duplicate++;
      }
    }
  }
  return { pairs: filterPairs(survivors, notDuplicate), jaccard, notDuplicate, signatures: needed };
}

/** Phase 5: ANN recall@k against exact search on a seeded sample of query documents. */
function measureRecall(rows: LiveRows, neighbours: Neighbours, opts: PairMinerOptions, progress: Progress): RecallStats {
  const { dim, live, vectors } = rows;
  const k = opts.k;
  const kk = k + 1;
  const positions = sampleIndices(live.length, opts.recallSample, opts.seed);
  const sampleRows = Uint32Array.from(positions, (p) => live[p]!);
  const truth = exactNeighbours(vectors, live, gatherRows(vectors, dim, Uint32Array.from(positions)), dim, kk, opts.threads);
  let hits = 0;
  let total = 0;
  positions.forEach((p, i) => {
    const want = nonSelfTopK(truth.rows, i * kk, kk, sampleRows[i]!, k);
    const got = new Set(nonSelfTopK(neighbours.rows, p * kk, kk, sampleRows[i]!, k));
    for (const r of want) if (got.has(r)) hits++;
    total += want.length;
    if (i % 64 === 0) progress('recall', i, positions.length);
  });
  return { k, sample: positions.length, value: total > 0 ? hits / total : 1 };
}

type Progress = (phase: MinerPhase, done: number, total: number) => void;

function checkOptions(o: PairMinerOptions): void {
  const positive = (name: string, v: number) => {
    if (!Number.isInteger(v) || v <= 0) throw new RangeError(`minePairs: ${name} must be a positive integer, got ${v}`);
  };
  positive('k', o.k);
  positive('threads', o.threads);
  positive('searchBlock', o.searchBlock);
  positive('nearDuplicate.shingleWords', o.nearDuplicate.shingleWords);
  positive('nearDuplicate.permutations', o.nearDuplicate.permutations);
  if (!Number.isInteger(o.recallSample) || o.recallSample < 0) throw new RangeError(`minePairs: recallSample must be a whole number, got ${o.recallSample}`);
  if (!Number.isInteger(o.samples) || o.samples < 0) throw new RangeError(`minePairs: samples must be a whole number, got ${o.samples}`);
}

/** Rows whose vector is not all zeros (an empty document embeds to zeros and is never paired). */
function nonZeroRows(unit: Float32Array, dim: number): Uint32Array {
  const n = unit.length / dim;
  const rows: number[] = [];
  for (let r = 0; r < n; r++) {
    for (let j = 0; j < dim; j++) {
      if (unit[r * dim + j] !== 0) {
        rows.push(r);
        break;
      }
    }
  }
  return Uint32Array.from(rows);
}

function gatherRows(vectors: Float32Array, dim: number, rows: Uint32Array): Float32Array {
  const out = new Float32Array(rows.length * dim);
  for (let i = 0; i < rows.length; i++) out.set(vectors.subarray(rows[i]! * dim, (rows[i]! + 1) * dim), i * dim);
  return out;
}

/**
 * An index built in parallel loses a few nodes (see `AnnIndex.add`): such a document gets
 * neighbours from elsewhere and never finds itself. A query whose own row is missing from its
 * results is the visible sign, so it is searched again exactly and its results replaced in place.
 * Returns how many were.
 */
export function searchLostExactly(result: Neighbours, selfRows: Uint32Array, liveVectors: Float32Array, live: Uint32Array, queries: Float32Array, dim: number, threads: number): number {
  const k = result.k;
  const lost: number[] = [];
  for (let i = 0; i < result.queries; i++) {
    let found = false;
    for (let j = 0; j < k && !found; j++) found = result.rows[i * k + j] === selfRows[i];
    if (!found) lost.push(i);
  }
  if (lost.length === 0) return 0;
  const exact = exactNeighbours(liveVectors, live, gatherRows(queries, dim, Uint32Array.from(lost)), dim, k, threads);
  lost.forEach((i, m) => {
    result.rows.set(exact.rows.subarray(m * k, (m + 1) * k), i * k);
    result.sims.set(exact.sims.subarray(m * k, (m + 1) * k), i * k);
  });
  return lost.length;
}

/** Exact search over the live rows; results are mapped back to vector-set rows. */
function exactNeighbours(liveVectors: Float32Array, live: Uint32Array, queries: Float32Array, dim: number, k: number, threads: number): Neighbours {
  const res = nativeExactSearch(liveVectors, queries, dim, k, threads);
  for (let i = 0; i < res.rows.length; i++) if (res.rows[i]! >= 0) res.rows[i] = live[res.rows[i]!]!;
  return res;
}

function concatNeighbours(parts: Neighbours[], k: number): Neighbours {
  const queries = parts.reduce((s, p) => s + p.queries, 0);
  const rows = new Int32Array(queries * k);
  const sims = new Float32Array(queries * k);
  let o = 0;
  for (const p of parts) {
    rows.set(p.rows, o);
    sims.set(p.sims, o);
    o += p.rows.length;
  }
  return { k, queries, rows, sims };
}

/** The first k entries of a result row other than `self` (and other than empty slots). */
function nonSelfTopK(rows: Int32Array, off: number, width: number, self: number, k: number): number[] {
  const out: number[] = [];
  for (let j = 0; j < width && out.length < k; j++) {
    const r = rows[off + j]!;
    if (r >= 0 && r !== self) out.push(r);
  }
  return out;
}

/** Streams the texts once, checking that they line up with the vectors' ids. */
async function forEachText(texts: TextSource, ids: readonly string[], origin: string, visit: (row: number, text: string) => void, onProgress: (done: number) => void): Promise<void> {
  let row = 0;
  for await (const doc of texts()) {
    if (row >= ids.length) throw new UserError(`the corpus has more train documents than ${origin} has vectors (${ids.length}); the embeddings are stale — rerun \`sbp embed\``);
    if (doc.id !== ids[row]) {
      throw new UserError(`train document ${row} of the corpus is ${JSON.stringify(doc.id)} but row ${row} of ${origin} is ${JSON.stringify(ids[row])}; the embeddings are stale — rerun \`sbp embed\``);
    }
    visit(row, doc.text);
    row++;
    if (row % 4096 === 0) onProgress(row);
  }
  if (row !== ids.length) throw new UserError(`the corpus has ${row} train documents but ${origin} has ${ids.length} vectors; the embeddings are stale — rerun \`sbp embed\``);
  onProgress(row);
}

/** `count` distinct indices of [0, n), in a seeded random order (partial Fisher–Yates). */
export function sampleIndices(n: number, count: number, seed: number): number[] {
  const m = Math.min(count, n);
  const rand = new Mulberry32(seed);
  const swapped = new Map<number, number>();
  const out: number[] = [];
  for (let i = 0; i < m; i++) {
    const j = i + Math.floor(rand.uniform() * (n - i));
    const vi = swapped.get(i) ?? i;
    const vj = swapped.get(j) ?? j;
    swapped.set(j, vi);
    out.push(vj);
  }
  return out;
}

async function pickSamples(
  survivors: PairList,
  notDuplicate: Uint8Array,
  jaccard: Float32Array,
  ids: readonly string[],
  texts: TextSource,
  opts: PairMinerOptions,
  origin: string,
  filterOn: boolean,
): Promise<PairSample[]> {
  if (opts.samples === 0 || survivors.d1.length === 0) return [];
  const kept: number[] = [];
  const dups: number[] = [];
  for (let i = 0; i < survivors.d1.length; i++) (notDuplicate[i] ? kept : dups).push(i);
  const dupShare = Math.ceil(opts.samples / 4);
  const chosenDups = sampleIndices(dups.length, Math.min(dupShare, dups.length), opts.seed + 1).map((i) => dups[i]!);
  const chosenKept = sampleIndices(kept.length, opts.samples - chosenDups.length, opts.seed).map((i) => kept[i]!);
  const chosen = [...chosenKept, ...chosenDups].sort((a, b) => a - b);
  const excerpts = new Map<number, string>();
  for (const i of chosen) {
    excerpts.set(survivors.d1[i]!, '');
    excerpts.set(survivors.d2[i]!, '');
  }
  await forEachText(texts, ids, origin, (row, text) => {
    if (excerpts.has(row)) excerpts.set(row, text.length > EXCERPT_CHARS ? `${text.slice(0, EXCERPT_CHARS)}…` : text);
  }, () => {});
  return chosen.map((i) => {
    const d1 = survivors.d1[i]!;
    const d2 = survivors.d2[i]!;
    const s: PairSample = {
      d1,
      d2,
      id1: ids[d1]!,
      id2: ids[d2]!,
      similarity: survivors.sims[i]!,
      jaccard: filterOn ? jaccard[i]! : null,
      text1: excerpts.get(d1)!,
      text2: excerpts.get(d2)!,
    };
    if (!notDuplicate[i]) s.dropped = 'near_duplicate';
    return s;
  });
}
