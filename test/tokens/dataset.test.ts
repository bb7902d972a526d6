import { test } from 'node:test';
import assert from 'node:assert/strict';
import { basename, join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { TokenShardWriter } from '../../src/tokens/shard-writer.js';
import { TokenDataset, listTokenShards, type TokenizedDocuments } from '../../src/tokens/token-dataset.js';
import { DocumentOrder, permutation } from '../../src/tokens/document-order.js';
import { MixtureSampler, type MixtureComponent } from '../../src/tokens/mixture-sampler.js';
import { KeyedRandom } from '../../src/tokens/keyed-random.js';
import { UserError } from '../../src/common/errors.js';
import { tempDir } from '../helpers.js';

/** Writes `sizes[k]` documents into shard k; document g (global number) holds [g, g+1, …] of length g % 5. */
function writeSplit(dir: string, split: string, sizes: number[], vocab = 1000): Array<{ id: string; tokens: number[] }> {
  const all: Array<{ id: string; tokens: number[] }> = [];
  sizes.forEach((n, k) => {
    const w = new TokenShardWriter(join(dir, `${split}-${String(k).padStart(5, '0')}.tok`), { vocabSize: vocab });
    for (let i = 0; i < n; i++) {
      const g = all.length;
      const doc = { id: `${split}/${g}`, tokens: Array.from({ length: g % 5 }, (_, t) => (g + t) % vocab) };
      w.addDocument(doc.id, doc.tokens);
      all.push(doc);
    }
    w.close();
  });
  return all;
}

test('a dataset reads across shards as one sequence, empty shards included', () => {
  const dir = tempDir();
  const docs = writeSplit(dir, 'train', [3, 0, 4, 0, 0, 2]);
  writeSplit(dir, 'heldout', [2]);
  writeFileSync(join(dir, 'train-00009.tok.tmp'), 'partial'); // a killed writer's leftover is not a shard
  assert.equal(listTokenShards(dir, 'train').length, 6);
  const ds = TokenDataset.open(dir, 'train');
  try {
    assert.equal(ds.numDocs, 9);
    assert.equal(ds.numTokens, docs.reduce((s, d) => s + d.tokens.length, 0));
    for (let g = 0; g < docs.length; g++) {
      assert.deepEqual(Array.from(ds.doc(g)), docs[g]!.tokens, `doc ${g}`);
      assert.equal(ds.docId(g), docs[g]!.id);
      assert.equal(ds.docLength(g), docs[g]!.tokens.length);
    }
    assert.deepEqual(ds.locate(3), { shard: 2, local: 0 });
    assert.deepEqual(ds.locate(7), { shard: 5, local: 0 });
    assert.throws(() => ds.doc(9), RangeError);
  } finally {
    ds.close();
  }
});

test('shards are ordered by their number, also past 99999 where names stop sorting as text', () => {
  const dir = tempDir();
  for (const k of ['100000', '00010', '00002']) {
    const w = new TokenShardWriter(join(dir, `train-${k}.tok`), { vocabSize: 10 });
    w.addDocument(k, [1]);
    w.close();
  }
  assert.deepEqual(listTokenShards(dir, 'train').map((p) => basename(p)), ['train-00002.tok', 'train-00010.tok', 'train-100000.tok']);
  const ds = TokenDataset.open(dir, 'train');
  assert.deepEqual([0, 1, 2].map((i) => ds.docId(i)), ['00002', '00010', '100000']);
  ds.close();
});

test('a split without shards, or shards from two tokenizers, is a UserError saying what to run', () => {
  const dir = tempDir();
  assert.throws(() => TokenDataset.open(dir, 'train'), (e: unknown) => e instanceof UserError && /no train-\*\.tok token shards; run `sbp tokenize` first/.test((e as Error).message));
  writeSplit(dir, 'train', [1]);
  const w = new TokenShardWriter(join(dir, 'train-00001.tok'), { vocabSize: 2000 });
  w.addDocument('x', [1]);
  w.close();
  assert.throws(() => TokenDataset.open(dir, 'train'), /vocabulary size 2000 differs .* different tokenizers/);
});

test('each epoch is a permutation; epochs differ; the same seed gives the same order', () => {
  const n = 50;
  const take = (o: DocumentOrder, k: number) => Array.from({ length: k }, () => o.next());
  const a = take(new DocumentOrder(n, { seed: 7 }), 3 * n);
  const b = take(new DocumentOrder(n, { seed: 7 }), 3 * n);
  const c = take(new DocumentOrder(n, { seed: 8 }), n);
  assert.deepEqual(a, b);
  assert.notDeepEqual(a.slice(0, n), c);
  for (let e = 0; e < 3; e++) assert.deepEqual([...a.slice(e * n, (e + 1) * n)].sort((x, y) => x - y), Array.from({ length: n }, (_, i) => i), `epoch ${e}`);
  assert.notDeepEqual(a.slice(0, n), a.slice(n, 2 * n));
  assert.deepEqual(take(new DocumentOrder(5, { seed: 7, shuffle: false }), 7), [0, 1, 2, 3, 4, 0, 1]);
});

test('an order resumes exactly from a saved state, mid-epoch and at an epoch edge', () => {
  const n = 37;
  const ref = new DocumentOrder(n, { seed: 3 });
  const expected = Array.from({ length: 4 * n }, () => ref.next());
  for (const cut of [0, 1, 20, n, n + 1, 2 * n - 1, 3 * n]) {
    const first = new DocumentOrder(n, { seed: 3 });
    for (let i = 0; i < cut; i++) first.next();
    const saved = JSON.parse(JSON.stringify(first.state()));
    const resumed = new DocumentOrder(n, { seed: 3 });
    resumed.restore(saved);
    const rest = Array.from({ length: 4 * n - cut }, () => resumed.next());
    assert.deepEqual(rest, expected.slice(cut), `cut at ${cut}`);
  }
  const other = new DocumentOrder(n + 1, { seed: 3 });
  assert.throws(() => other.restore(ref.state()), (e: unknown) => e instanceof UserError && /saved numDocs=37 but this one has numDocs=38/.test((e as Error).message));
});

test('shuffles are close to uniform: each element lands in each place about equally often', () => {
  // 3 elements → 6 permutations; 6000 draws, each should appear ~1000 times (chi-square, 5 dof).
  const counts = new Map<string, number>();
  for (let s = 0; s < 6000; s++) {
    const key = Array.from(permutation(3, new KeyedRandom(11, s))).join('');
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  assert.equal(counts.size, 6);
  const chi2 = [...counts.values()].reduce((acc, c) => acc + (c - 1000) ** 2 / 1000, 0);
  assert.ok(chi2 < 20.5, `chi-square ${chi2.toFixed(2)} (p < 0.001 above 20.5)`); // a fixed seed: deterministic
});

/** An in-memory source: document i has lengths[i] tokens. */
function source(lengths: number[]): TokenizedDocuments {
  return {
    numDocs: lengths.length,
    numTokens: lengths.reduce((a, b) => a + b, 0),
    vocabSize: 10,
    docLength: (i) => lengths[i]!,
    doc: (i) => new Uint16Array(lengths[i]!),
    docId: (i) => String(i),
  };
}

test('a mixture follows its token weights to within one document at every step', () => {
  const real = source(Array.from({ length: 40 }, (_, i) => 10 + (i % 7) * 5));
  const synth = source(Array.from({ length: 300 }, (_, i) => 5 + (i % 11)));
  const m = new MixtureSampler([{ name: 'real', source: real, weight: 3 }, { name: 'synthetic', source: synth, weight: 1 }], { seed: 1 });
  const maxDoc = 40;
  for (let step = 0; step < 400; step++) {
    m.next();
    const t = m.drawnTokens();
    // real should hold 3/4 of the tokens: |real - 3·synthetic| is bounded by the longest document × weights
    assert.ok(Math.abs(t.real! - 3 * t.synthetic!) <= 3 * maxDoc + maxDoc, `step ${step}: ${JSON.stringify(t)}`);
  }
});

test('a once-only component is used up exactly once; the repeated one fills the rest', () => {
  const real = source([4, 4, 4]);
  const synth = source([2, 2, 2, 2, 2]);
  const m = new MixtureSampler([{ name: 'real', source: real, weight: 1 }, { name: 'synthetic', source: synth, weight: 1, epochs: 1 }], { seed: 5 });
  const seen = new Map<string, number[]>();
  for (let i = 0; i < 60; i++) {
    const d = m.next()!;
    seen.set(d.name, [...(seen.get(d.name) ?? []), d.doc]);
  }
  assert.deepEqual([...seen.get('synthetic')!].sort(), [0, 1, 2, 3, 4]);
  assert.equal(seen.get('real')!.length, 55);
  const onlyFinite = new MixtureSampler([{ name: 'a', source: source([1, 1]), weight: 1, epochs: 2 }, { name: 'b', source: source([]), weight: 5 }], { seed: 0 });
  const draws = [];
  for (let d = onlyFinite.next(); d; d = onlyFinite.next()) draws.push(d);
  assert.equal(draws.length, 4, 'two epochs of two documents, then exhausted; the empty source is skipped');
  assert.deepEqual(draws.map((d) => d.epoch), [0, 0, 1, 1]);
});

test('a mixture resumes exactly from a saved state', () => {
  const comps = () => [
    { name: 'real', source: source(Array.from({ length: 17 }, (_, i) => 1 + i)), weight: 0.7 },
    { name: 'synthetic', source: source(Array.from({ length: 9 }, (_, i) => 3 + i)), weight: 0.3, epochs: 2 },
  ];
  const ref = new MixtureSampler(comps(), { seed: 9 });
  const expected = Array.from({ length: 100 }, () => ref.next());
  const first = new MixtureSampler(comps(), { seed: 9 });
  for (let i = 0; i < 41; i++) first.next();
  const resumed = new MixtureSampler(comps(), { seed: 9 });
  resumed.restore(JSON.parse(JSON.stringify(first.state())));
  assert.deepEqual(Array.from({ length: 59 }, () => resumed.next()), expected.slice(41));
  assert.throws(() => new MixtureSampler(comps(), { seed: 10 }).restore(first.state()), /cannot resume the data mixture: saved seed 9/);
});

test('mixture configuration mistakes are UserErrors naming the component', () => {
  const s = source([1]);
  const table: Array<[MixtureComponent[], RegExp]> = [
    [[], /at least one component/],
    [[{ name: 'a', source: s, weight: 0 }], /"a" has weight 0/],
    [[{ name: 'a', source: s, weight: 1, epochs: 0.5 }], /"a" has epochs 0\.5/],
    [[{ name: 'a', source: s, weight: 1 }, { name: 'a', source: s, weight: 1 }], /"a" is used twice/],
  ];
  for (const [components, re] of table) {
    assert.throws(() => new MixtureSampler(components, { seed: 0 }), (e: unknown) => e instanceof UserError && re.test((e as Error).message));
  }
});
