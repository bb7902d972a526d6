import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { fmix32 } from '../../src/common/hash.js';
import {
  HashEmbedder,
  extendNgramHash,
  featureBucket,
  featureSign,
  idfSlot,
  FNV_OFFSET,
  FNV_PRIME,
  readDocumentFrequencies,
  writeDocumentFrequencies,
  type HashEmbedderOptions,
} from '../../src/embed/hash-embedder.js';
import { dotRows, normalizeRows } from '../../src/embed/embedder.js';
import { UserError } from '../../src/common/errors.js';
import { tempDir } from '../helpers.js';
import { writeFileSync } from 'node:fs';

/**
 * The same model written the obvious way: regex words, n-gram strings in a Map, df per n-gram string,
 * idf looked up through the same slot hash. Independent of the fast path's scanning, sorting and
 * counting; it shares only the hash primitives (which define the feature space).
 */
function naiveEmbed(corpus: string[], texts: string[], o: HashEmbedderOptions): Float32Array {
  const ngramsOf = (text: string): string[][] => {
    const words = text.toLowerCase().match(/[\p{L}\p{N}\p{M}]+/gu) ?? [];
    const out: string[][] = [];
    for (let i = 0; i < words.length; i++) for (let k = 1; k <= o.ngram && i + k <= words.length; k++) out.push(words.slice(i, i + k));
    return out;
  };
  const wordHash = (w: string): number => {
    let h = FNV_OFFSET;
    for (let i = 0; i < w.length; i++) h = Math.imul(h ^ w.charCodeAt(i), FNV_PRIME) >>> 0;
    return h;
  };
  const gramHash = (g: string[]): number => g.reduce((acc, w) => extendNgramHash(acc, wordHash(w)), 1);
  const dfBySlot = new Map<number, number>();
  for (const doc of corpus) {
    const slots = new Set(ngramsOf(doc).map((g) => idfSlot(gramHash(g), o.idfBuckets)));
    for (const s of slots) dfBySlot.set(s, (dfBySlot.get(s) ?? 0) + 1);
  }
  const out = new Float32Array(texts.length * o.dim);
  texts.forEach((text, row) => {
    const tf = new Map<number, number>();
    for (const g of ngramsOf(text)) {
      const h = gramHash(g);
      tf.set(h, (tf.get(h) ?? 0) + 1);
    }
    for (const [h, c] of tf) {
      const idf = Math.log((1 + corpus.length) / (1 + (dfBySlot.get(idfSlot(h, o.idfBuckets)) ?? 0))) + 1;
      out[row * o.dim + featureBucket(h, o.dim)] += featureSign(h) * (1 + Math.log(c)) * idf;
    }
  });
  return out;
}

const CORPUS = [
  'The central bank raised interest rates to fight inflation, and bond yields rose.',
  'Inflation worries pushed the central bank to raise interest rates again this quarter.',
  'The striker scored twice as the home team won the football match in the final minutes.',
  'A late goal from the striker won the football match for the home team.',
  'Photosynthesis converts sunlight, water and carbon dioxide into glucose in plant leaves.',
  'Plant leaves use sunlight to turn carbon dioxide and water into sugar: photosynthesis.',
  'The compiler reported a type error in the function that parses the configuration file.',
  'A type error in the configuration parser function made the compiler stop.',
  'Über naïve café owners in 東京 serve coffee 🙂 every morning.',
  'Coffee is served every morning by café owners in 東京.',
];

test('hash embedder equals a naive Map-and-strings implementation (uni+bigrams, trigrams, Unicode)', async () => {
  for (const o of [
    { dim: 64, ngram: 2, idfBuckets: 1 << 12 },
    { dim: 1000, ngram: 3, idfBuckets: 1 << 16 },
    { dim: 7, ngram: 1, idfBuckets: 1 },
  ]) {
    const e = new HashEmbedder(o);
    e.setFrequencies(e.fit(CORPUS));
    const texts = [...CORPUS, '', 'the the the the', 'emoji 🙂🙂 and 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 math letters'];
    const got = await e.embed(texts.map((text) => ({ text, tokens: new Int32Array(0) })));
    const want = naiveEmbed(CORPUS, texts, o);
    let maxErr = 0;
    for (let i = 0; i < want.length; i++) maxErr = Math.max(maxErr, Math.abs(got[i]! - want[i]!));
    assert.ok(maxErr < 1e-4, `dim ${o.dim} ngram ${o.ngram}: max difference ${maxErr}`);
  }
});

/** (anchor, related, unrelated): the related document must score higher. */
const TRIPLES: Array<[number, number, number]> = [
  [0, 1, 2],
  [0, 1, 5],
  [2, 3, 6],
  [4, 5, 0],
  [6, 7, 3],
  [8, 9, 4],
];

test('hash embedder: related documents score higher than unrelated ones; rows are unit vectors', async () => {
  const e = new HashEmbedder({ dim: 1024, ngram: 2, idfBuckets: 1 << 20 });
  e.setFrequencies(e.fit(CORPUS));
  const rows = await e.embed(CORPUS.map((text) => ({ text, tokens: new Int32Array(0) })));
  assert.equal(normalizeRows(rows, 1024), 0);
  for (let i = 0; i < CORPUS.length; i++) assert.ok(Math.abs(dotRows(rows, i, rows, i, 1024) - 1) < 1e-5);
  for (const [a, r, u] of TRIPLES) {
    const rel = dotRows(rows, a, rows, r, 1024);
    const unrel = dotRows(rows, a, rows, u, 1024);
    assert.ok(rel > unrel + 0.1, `doc ${a}: related ${rel.toFixed(3)} vs unrelated ${unrel.toFixed(3)}`);
  }
});

test('document frequencies: file round-trip and clear errors', () => {
  const dir = tempDir();
  const e = new HashEmbedder({ dim: 16, ngram: 2, idfBuckets: 256 });
  const df = e.fit(CORPUS);
  assert.equal(df.docs, CORPUS.length);
  const path = join(dir, 'hash-df.bin');
  writeDocumentFrequencies(path, df, 2);
  const back = readDocumentFrequencies(path, { slots: 256, ngram: 2 });
  assert.equal(back.docs, df.docs);
  assert.deepEqual([...back.counts], [...df.counts]);
  assert.throws(() => readDocumentFrequencies(path, { slots: 512, ngram: 2 }), (err: unknown) => err instanceof UserError && /counted with 256 slots .* asks for 512/.test(err.message));
  writeFileSync(path, 'nonsense');
  assert.throws(() => readDocumentFrequencies(path, { slots: 256, ngram: 2 }), /not an sbp document-frequency file/);
});

test('hash embedder: bad options and use before fitting are errors', async () => {
  assert.throws(() => new HashEmbedder({ dim: 0, ngram: 2, idfBuckets: 8 }), RangeError);
  assert.throws(() => new HashEmbedder({ dim: 8, ngram: 2, idfBuckets: 12 }), /power of two/);
  await assert.rejects(new HashEmbedder({ dim: 8, ngram: 1, idfBuckets: 8 }).embed([{ text: 'a', tokens: new Int32Array(0) }]), /call fit\(\)/);
  assert.equal(fmix32(0), 0); // the finaliser is a bijection fixing 0; a sanity check of the primitive
});
