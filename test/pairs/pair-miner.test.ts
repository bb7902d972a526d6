import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UserError } from '../../src/common/errors.js';
import { minePairs, searchLostExactly, type PairMinerOptions, type DocumentText, type SearchCheckpoint } from '../../src/pairs/pair-miner.js';
import { exactSearch } from '../../src/pairs/exact-search.js';
import { normalizeRows, type VectorSet } from '../../src/pairs/vector-set.js';
import type { Neighbours } from '../../src/pairs/neighbours.js';
import { clusteredVectors, gaussian } from './clustered-vectors.js';

const baseOptions: PairMinerOptions = {
  k: 5,
  alpha: -1,
  search: 'exact',
  ann: { quantization: 'f16', connectivity: 16, expansionAdd: 128, expansionSearch: 64 },
  nearDuplicate: { threshold: null, shingleWords: 5, permutations: 128 },
  recallSample: 0,
  samples: 8,
  seed: 7,
  threads: 2,
  searchBlock: 64,
};

function opts(over: Partial<PairMinerOptions>): PairMinerOptions {
  return { ...baseOptions, ...over };
}

/** Distinct, unrelated texts: the near-duplicate filter never fires on them. */
function distinctTexts(ids: readonly string[]): DocumentText[] {
  return ids.map((id, i) => ({ id, text: Array.from({ length: 30 }, (_, j) => `d${i}w${j}`).join(' ') }));
}

function clusteredSet(count: number, dim: number, clusters: number, seed = 1): VectorSet {
  const { vectors } = clusteredVectors({ count, dim, clusters, seed });
  return { ids: Array.from({ length: count }, (_, i) => `doc${i}`), dim, vectors };
}

const sumDrops = (d: Record<string, number>) => Object.values(d).reduce((a, b) => a + b, 0);

test('exact mining finds each document’s k nearest others, drops self, and accounts for every neighbour', async () => {
  const set = clusteredSet(300, 24, 12);
  const texts = distinctTexts(set.ids);
  const { pairs, stats } = await minePairs(set, () => texts, opts({}));
  const n = set.ids.length;
  assert.equal(stats.drops.self, n);
  assert.equal(stats.drops.beyond_k, 0);
  assert.equal(stats.pairs, n * 5);
  assert.equal(stats.neighboursReturned, stats.pairs + sumDrops(stats.drops as unknown as Record<string, number>));
  for (let i = 0; i < pairs.d1.length; i++) assert.notEqual(pairs.d1[i], pairs.d2[i]);
  // Oracle: the TypeScript exact search, self removed.
  const unit = normalizeRows(set.vectors, set.dim);
  const truth = exactSearch(unit, unit, set.dim, 6);
  for (let r = 0; r < n; r++) {
    const want = Array.from(truth.rows.subarray(r * 6, r * 6 + 6)).filter((x) => x !== r).slice(0, 5).sort((a, b) => a - b);
    const got: number[] = [];
    for (let i = 0; i < pairs.d1.length; i++) if (pairs.d1[i] === r) got.push(pairs.d2[i]!);
    assert.deepEqual(got.sort((a, b) => a - b), want, `neighbours of row ${r}`);
  }
  // Sorted by d1, then similarity descending.
  for (let i = 1; i < pairs.d1.length; i++) {
    assert.ok(pairs.d1[i - 1]! < pairs.d1[i]! || (pairs.d1[i - 1] === pairs.d1[i] && pairs.sims[i - 1]! >= pairs.sims[i]!), `order at ${i}`);
  }
});

test('α absolute keeps exactly the candidates above it and counts the rest', async () => {
  const set = clusteredSet(300, 24, 12);
  const texts = distinctTexts(set.ids);
  const all = await minePairs(set, () => texts, opts({ alpha: -1 }));
  const alpha = 0.8;
  let above = 0;
  for (const s of all.pairs.sims) if (s > alpha) above++;
  assert.ok(above > 0 && above < all.pairs.sims.length, 'the threshold must split this data');
  const cut = await minePairs(set, () => texts, opts({ alpha }));
  assert.equal(cut.stats.pairs, above);
  assert.equal(cut.stats.drops.below_alpha, all.stats.pairs - above);
  assert.ok(cut.pairs.sims.every((s) => s > alpha));
  assert.deepEqual(cut.stats.alpha, { mode: 'absolute', quantile: null, value: alpha });
});

test('α as a quantile keeps about the top share of candidates', async () => {
  const set = clusteredSet(400, 24, 10);
  const texts = distinctTexts(set.ids);
  const { stats, pairs } = await minePairs(set, () => texts, opts({ alphaQuantile: 0.8 }));
  assert.equal(stats.alpha.mode, 'quantile');
  assert.equal(stats.alpha.quantile, 0.8);
  const share = stats.pairs / stats.candidates;
  assert.ok(Math.abs(share - 0.2) < 0.01, `kept share ${share}`);
  assert.ok(pairs.sims.every((s) => s > stats.alpha.value!));
});

test('near-duplicate texts are dropped and counted; both directions of a pair are kept', async () => {
  // 20 groups of two documents with almost the same vector. Even groups: the second text is the
  // first with its last word changed (shingle Jaccard 55/57, a near-duplicate); odd groups: unrelated texts.
  const dim = 16;
  const g = gaussian(5);
  const ids: string[] = [];
  const texts: DocumentText[] = [];
  const vectors = new Float32Array(40 * dim);
  for (let grp = 0; grp < 20; grp++) {
    const centre = Array.from({ length: dim }, () => g());
    const words = Array.from({ length: 60 }, (_, j) => `g${grp}w${j}`);
    for (let m = 0; m < 2; m++) {
      const row = grp * 2 + m;
      ids.push(`doc${row}`);
      for (let j = 0; j < dim; j++) vectors[row * dim + j] = centre[j]! + 0.01 * g();
      let text = words.join(' ');
      if (m === 1) text = grp % 2 === 0 ? words.map((w, j) => (j === 59 ? 'changed' : w)).join(' ') : words.map((w) => `${w}x`).join(' ');
      texts.push({ id: ids[row]!, text });
    }
  }
  const { pairs, stats, samples } = await minePairs({ ids, dim, vectors }, () => texts, opts({ k: 1, alpha: 0.5, nearDuplicate: { threshold: 0.8, shingleWords: 5, permutations: 128 }, samples: 12 }));
  assert.equal(stats.candidates, 40);
  assert.equal(stats.drops.near_duplicate, 20);
  assert.equal(stats.pairs, 20);
  assert.equal(stats.nearDuplicate.signatures, 40);
  const got = new Set<string>();
  for (let i = 0; i < pairs.d1.length; i++) {
    const grp = Math.floor(pairs.d1[i]! / 2);
    assert.equal(grp % 2, 1, 'only groups with different texts stay');
    assert.equal(Math.floor(pairs.d2[i]! / 2), grp);
    got.add(`${pairs.d1[i]}>${pairs.d2[i]}`);
  }
  for (let grp = 1; grp < 20; grp += 2) {
    assert.ok(got.has(`${2 * grp}>${2 * grp + 1}`) && got.has(`${2 * grp + 1}>${2 * grp}`), `both directions of group ${grp}`);
  }
  // Samples: kept pairs and some near-duplicate drops, each with text excerpts that match the ids.
  assert.equal(samples.length, 12);
  assert.ok(samples.some((s) => s.dropped === 'near_duplicate'));
  for (const s of samples) {
    assert.equal(s.id1, ids[s.d1]);
    assert.ok(texts[s.d1]!.text.startsWith(s.text1.replace(/…$/, '')));
    assert.equal(s.dropped === 'near_duplicate', s.jaccard! >= 0.8);
  }
});

test('statistics: histograms, partners per document, share with a partner', async () => {
  const set = clusteredSet(250, 16, 8);
  const texts = distinctTexts(set.ids);
  const { stats, pairs } = await minePairs(set, () => texts, opts({ k: 4, alpha: 0.85 }));
  const sum = (a: number[]) => a.reduce((x, y) => x + y, 0);
  assert.equal(sum(stats.similarity.candidates.counts), stats.candidates);
  assert.equal(sum(stats.similarity.pairs.counts), stats.pairs);
  assert.equal(stats.similarity.candidates.counts.length, 200);
  assert.equal(stats.partners.perDocument.length, 5);
  assert.equal(sum(stats.partners.perDocument), 250);
  const withPartner = new Set(pairs.d1).size;
  assert.equal(stats.partners.shareWithPartner, withPartner / 250);
  assert.equal(stats.partners.perDocument.reduce((s, c, j) => s + c * j, 0), stats.pairs);
  assert.ok(stats.similarity.pairSummary.min! > 0.85);
  for (const key of ['index', 'search', 'recall', 'texts', 'total'] as const) assert.ok(stats.seconds[key] >= 0);
  assert.equal(stats.recall, null, 'no recall in exact mode');
});

test('ANN (HNSW) mining reaches recall@10 ≥ 0.9 on clustered data and measures it', async () => {
  const set = clusteredSet(3000, 64, 30, 3);
  const texts = distinctTexts(set.ids);
  for (const quantization of ['f16', 'i8'] as const) {
    const { stats } = await minePairs(set, () => texts, opts({ k: 10, search: 'ann', ann: { ...baseOptions.ann, quantization }, recallSample: 300, searchBlock: 1024 }));
    assert.ok(stats.recall !== null);
    assert.equal(stats.recall.sample, 300);
    assert.ok(stats.recall.value >= 0.9, `${quantization} recall@10 ${stats.recall.value}`);
    assert.equal(stats.search, 'ann');
    assert.equal(stats.neighboursReturned, stats.pairs + sumDrops(stats.drops as unknown as Record<string, number>));
    assert.ok(stats.drops.self >= 2900, `self found ${stats.drops.self} times`);
  }
});

test('ANN mining over more documents than one index-add chunk, with zero rows in between', async () => {
  // 9000 documents: the index is filled in chunks of 8192, and rows must keep their identity.
  const set = clusteredSet(9000, 8, 300, 4);
  for (const r of [5, 8200]) set.vectors.fill(0, r * 8, (r + 1) * 8);
  const texts = distinctTexts(set.ids);
  const o = opts({ k: 3, search: 'ann', recallSample: 200, samples: 0, searchBlock: 4000 });
  const { stats, pairs } = await minePairs(set, () => texts, o);
  assert.equal(stats.zeroVectors, 2);
  assert.ok(stats.recall!.value >= 0.9, `recall@3 ${stats.recall!.value}`);
  assert.ok(stats.drops.self >= 8900, `self found ${stats.drops.self} times`);
  // Each reported similarity is the cosine of the two rows named.
  const unit = normalizeRows(set.vectors, 8);
  for (let i = 0; i < pairs.d1.length; i += 97) {
    let dot = 0;
    for (let d = 0; d < 8; d++) dot += unit[pairs.d1[i]! * 8 + d]! * unit[pairs.d2[i]! * 8 + d]!;
    assert.ok(Math.abs(dot - pairs.sims[i]!) < 0.01, `pair ${i}: ${dot} vs ${pairs.sims[i]}`);
  }
});

test('zero vectors (empty documents) are never paired', async () => {
  const set = clusteredSet(50, 8, 4);
  set.vectors.fill(0, 8 * 3, 8 * 4); // row 3
  const { pairs, stats } = await minePairs(set, () => distinctTexts(set.ids), opts({ k: 3 }));
  assert.equal(stats.zeroVectors, 1);
  assert.ok(!pairs.d1.includes(3) && !pairs.d2.includes(3));
  assert.equal(stats.pairs, 49 * 3);
});

test('an interrupted search resumes from its saved blocks and gives the same pairs', async () => {
  const set = clusteredSet(500, 16, 10);
  const texts = distinctTexts(set.ids);
  const saved = new Map<number, Neighbours>();
  let failAt: number | undefined = 3;
  const checkpoint: SearchCheckpoint = {
    loadIndex: () => undefined,
    saveIndex: () => {},
    loadBlock: (b) => saved.get(b),
    saveBlock: (b, r) => {
      if (b === failAt) throw new Error('killed');
      saved.set(b, r);
    },
  };
  const o = opts({ searchBlock: 100 });
  await assert.rejects(minePairs(set, () => texts, o, { checkpoint }), /killed/);
  assert.equal(saved.size, 3);
  failAt = undefined;
  const resumed = await minePairs(set, () => texts, o, { checkpoint });
  assert.equal(resumed.stats.searchBlocks, 5);
  assert.equal(resumed.stats.searchBlocksReused, 3);
  const fresh = await minePairs(set, () => texts, o);
  assert.deepEqual(resumed.pairs, fresh.pairs);
});

const badInputs: Array<[string, () => { set: VectorSet; texts: DocumentText[] }, RegExp]> = [
  ['dimension does not match the data', () => ({ set: { ids: ['a', 'b', 'c'], dim: 4, vectors: new Float32Array(10) }, texts: [] }), /10 values do not make 3 vectors of dimension 4/],
  ['no vectors', () => ({ set: { ids: [], dim: 4, vectors: new Float32Array(0) }, texts: [] }), /holds no vectors/],
  ['one document', () => ({ set: { ids: ['a'], dim: 2, vectors: Float32Array.of(1, 0) }, texts: [{ id: 'a', text: 'x' }] }), /at least 2/],
  ['non-finite value', () => ({ set: { ids: ['a', 'b'], dim: 2, vectors: Float32Array.of(1, 0, Number.NaN, 1) }, texts: [] }), /row 1 \(document "b"\) holds a non-finite value/],
  [
    'corpus out of step with the vectors',
    () => ({ set: { ids: ['a', 'b'], dim: 2, vectors: Float32Array.of(1, 0, 0, 1) }, texts: [{ id: 'a', text: 'x' }, { id: 'c', text: 'y' }] }),
    /train document 1 of the corpus is "c" but row 1 of vectors\.bin is "b"/,
  ],
  [
    'corpus shorter than the vectors',
    () => ({ set: { ids: ['a', 'b'], dim: 2, vectors: Float32Array.of(1, 0, 0, 1) }, texts: [{ id: 'a', text: 'x' }] }),
    /corpus has 1 train documents but vectors\.bin has 2 vectors/,
  ],
];
for (const [name, make, re] of badInputs) {
  test(`bad input: ${name}`, async () => {
    const { set, texts } = make();
    await assert.rejects(minePairs(set, () => texts, opts({ k: 1 }), { origin: 'vectors.bin' }), (err: unknown) => err instanceof UserError && re.test(err.message));
  });
}

test('a query HNSW could not lead back to its own document is searched again exactly', () => {
  // Four unit vectors in 3-d; rows 0 and 1 are close, 2 and 3 are close.
  const raw = Float32Array.from([1, 0, 0, 0.99, 0.14, 0, 0, 1, 0, 0, 0.99, 0.14]);
  const dim = 3;
  const vectors = normalizeRows(raw, dim);
  const live = Uint32Array.from([0, 1, 2, 3]);
  const k = 2;
  // What an island in the graph looks like: query 2 got rows 0 and 1 (not itself); query 0 is fine.
  const result: Neighbours = {
    k,
    queries: 2,
    rows: Int32Array.from([0, 1, 0, 1]),
    sims: Float32Array.from([1, 0.99, 0.1, 0.1]),
  };
  const queries = Float32Array.from([...vectors.subarray(0, 3), ...vectors.subarray(6, 9)]);
  const redone = searchLostExactly(result, Uint32Array.from([0, 2]), vectors, live, queries, dim, 1);
  assert.equal(redone, 1);
  assert.deepEqual([...result.rows], [0, 1, 2, 3], 'query 0 untouched, query 2 replaced by exact results');
  assert.ok(Math.abs(result.sims[2]! - 1) < 1e-6 && result.sims[3]! > 0.98 && result.sims[3]! < 1);
  assert.equal(searchLostExactly(result, Uint32Array.from([0, 2]), vectors, live, queries, dim, 1), 0, 'nothing left to repair');
});
