import { existsSync, readFileSync } from 'node:fs';
import { UserError } from '../common/errors.js';
import type { Embedder, EmbedInput } from './embedder.js';
import { fmix32 } from '../common/hash.js';
import { writeFileAtomic } from '../common/fs-atomic.js';

/**
 * The lexical baseline: word n-gram TF-IDF with feature hashing, dependency-free.
 *
 * - Words are maximal runs of Unicode letters, digits and combining marks, lower-cased.
 * - Features are every word n-gram of order 1..`ngram`; each n-gram is a 32-bit hash `g` built
 *   from its words' hashes (no strings are built).
 * - Weight of a feature in a document: (1 + ln tf) · idf, with idf = ln((1 + N) / (1 + df)) + 1
 *   (smoothed). Document frequencies are counted in a first pass over the corpus in a table of
 *   `idfBuckets` slots indexed by another hash of `g` — separate from the `dim` output buckets, so that
 *   IDF stays meaningful when `dim` is small (with 1024 output buckets every bucket holds some
 *   common word, and a per-bucket df would be ~N everywhere).
 * - Output: the weight is added with a hash-derived sign (±1) to bucket `mix(g) mod dim`, so that
 *   colliding features cancel on average instead of piling up. The stage L2-normalises the rows.
 */
export interface HashEmbedderOptions {
  dim: number;
  ngram: number; // highest n-gram order (1 = words only, 2 = words + bigrams)
  idfBuckets: number; // power of two
}

export const HASH_DEFAULTS: HashEmbedderOptions = { dim: 1024, ngram: 2, idfBuckets: 1 << 20 };

/** Extends an n-gram hash by one more word hash (order matters: "new york" ≠ "york new"). */
export function extendNgramHash(prefix: number, word: number): number {
  return fmix32((Math.imul(prefix, 0x9e3779b1) ^ word) >>> 0);
}

export const FNV_OFFSET = 0x811c9dc5;
export const FNV_PRIME = 0x01000193;

/** Feature slot of a feature hash in the output vector, its sign, and its IDF slot. */
export function featureBucket(g: number, dim: number): number {
  return fmix32(g) % dim;
}
export function featureSign(g: number): number {
  return g >>> 31 ? -1 : 1;
}
export function idfSlot(g: number, idfBuckets: number): number {
  return fmix32((g ^ 0x2545f491) >>> 0) & (idfBuckets - 1);
}

const ASCII_WORD = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  const ch = String.fromCharCode(c);
  ASCII_WORD[c] = /[a-z0-9]/.test(ch) ? 1 : 0; // text is lower-cased first
}
const WORD_CHAR = /[\p{L}\p{N}\p{M}]/u;

/**
 * Appends the hashes of every word of `text` to `out` (growable) and returns the count. A word hash
 * is FNV-1a over the UTF-16 code units of the lower-cased word.
 */
function wordHashes(text: string, out: { buf: Uint32Array }): number {
  const s = text.toLowerCase();
  let n = 0;
  let h = FNV_OFFSET;
  let inWord = false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    let isWord: boolean;
    let units = 1;
    if (c < 128) isWord = ASCII_WORD[c] === 1;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      units = 2; // a surrogate pair: test the whole code point
      isWord = WORD_CHAR.test(s.slice(i, i + 2));
    } else isWord = WORD_CHAR.test(s[i]!);
    if (isWord) {
      for (let u = 0; u < units; u++) h = Math.imul(h ^ s.charCodeAt(i + u), FNV_PRIME) >>> 0;
      inWord = true;
    } else if (inWord) {
      if (n === out.buf.length) out.buf = grow(out.buf);
      out.buf[n++] = h;
      h = FNV_OFFSET;
      inWord = false;
    }
    i += units - 1;
  }
  if (inWord) {
    if (n === out.buf.length) out.buf = grow(out.buf);
    out.buf[n++] = h;
  }
  return n;
}

function grow(a: Uint32Array): Uint32Array {
  const b = new Uint32Array(a.length * 2);
  b.set(a);
  return b;
}

/** Document frequencies over the IDF slots; `docs` documents were counted. */
export class DocumentFrequencies {
  constructor(
    readonly counts: Uint32Array, // (idfBuckets)
    public docs = 0,
  ) {}

  /** idf per slot: ln((1 + N) / (1 + df)) + 1 */
  idf(): Float32Array {
    const out = new Float32Array(this.counts.length);
    const n1 = 1 + this.docs;
    for (let i = 0; i < out.length; i++) out[i] = Math.log(n1 / (1 + this.counts[i]!)) + 1;
    return out;
  }
}

export class HashEmbedder implements Embedder {
  readonly kind = 'hash' as const;
  readonly dim: number;
  private idfTable: Float32Array | undefined;
  private words = { buf: new Uint32Array(4096) };
  private feats = new Uint32Array(8192);

  constructor(readonly options: HashEmbedderOptions = HASH_DEFAULTS) {
    const { dim, ngram, idfBuckets } = options;
    if (!Number.isInteger(dim) || dim <= 0) throw new RangeError(`hash embedder: dim must be a positive integer, got ${dim}`);
    if (!Number.isInteger(ngram) || ngram < 1 || ngram > 8) throw new RangeError(`hash embedder: ngram must be 1..8, got ${ngram}`);
    if (!Number.isInteger(idfBuckets) || idfBuckets < 1 || (idfBuckets & (idfBuckets - 1)) !== 0) {
      throw new RangeError(`hash embedder: idfBuckets must be a power of two, got ${idfBuckets}`);
    }
    this.dim = dim;
  }

  /** Every feature hash of the text (all orders), sorted, into this.feats; returns the count. */
  private features(text: string): number {
    const nw = wordHashes(text, this.words);
    const w = this.words.buf;
    const ngram = this.options.ngram;
    let need = 0;
    for (let k = 1; k <= ngram; k++) need += Math.max(0, nw - k + 1);
    if (this.feats.length < need) this.feats = new Uint32Array(need * 2);
    const f = this.feats;
    let nf = 0;
    for (let i = 0; i < nw; i++) {
      let g = extendNgramHash(1, w[i]!); // order seeds differ, so a unigram never equals a bigram
      f[nf++] = g;
      for (let k = 2; k <= ngram && i + k - 1 < nw; k++) {
        g = extendNgramHash(g, w[i + k - 1]!);
        f[nf++] = g;
      }
    }
    f.subarray(0, nf).sort();
    return nf;
  }

  /** First pass: counts document frequencies over `texts`. */
  fit(texts: Iterable<string>, df = this.emptyFrequencies()): DocumentFrequencies {
    const slots = new Uint32Array(0);
    let buf = slots;
    for (const text of texts) {
      const nf = this.features(text);
      if (buf.length < nf) buf = new Uint32Array(nf * 2);
      let ns = 0;
      const f = this.feats;
      for (let i = 0; i < nf; i++) if (i === 0 || f[i] !== f[i - 1]) buf[ns++] = idfSlot(f[i]!, this.options.idfBuckets);
      const s = buf.subarray(0, ns).sort();
      for (let i = 0; i < ns; i++) if (i === 0 || s[i] !== s[i - 1]) df.counts[s[i]!]!++;
      df.docs++;
    }
    return df;
  }

  emptyFrequencies(): DocumentFrequencies {
    return new DocumentFrequencies(new Uint32Array(this.options.idfBuckets));
  }

  /** Uses these document frequencies for IDF (from `fit`, or loaded with `readDocumentFrequencies`). */
  setFrequencies(df: DocumentFrequencies): void {
    if (df.counts.length !== this.options.idfBuckets) {
      throw new Error(`hash embedder: document frequencies have ${df.counts.length} slots, expected ${this.options.idfBuckets}`);
    }
    this.idfTable = df.idf();
  }

  /** One document's (unnormalised) vector into out[offset, offset + dim). */
  embedText(text: string, out: Float32Array, offset = 0): void {
    const idf = this.idfTable;
    if (!idf) throw new Error('hash embedder: call fit() or setFrequencies() before embedding');
    const nf = this.features(text);
    const f = this.feats;
    const { dim, idfBuckets } = this.options;
    for (let i = 0; i < nf; ) {
      const g = f[i]!;
      let j = i + 1;
      while (j < nf && f[j] === g) j++;
      const w = (1 + Math.log(j - i)) * idf[idfSlot(g, idfBuckets)]!;
      out[offset + featureBucket(g, dim)] += featureSign(g) * w;
      i = j;
    }
  }

  async embed(inputs: readonly EmbedInput[], onProgress?: (done: number) => void): Promise<Float32Array> {
    const out = new Float32Array(inputs.length * this.dim);
    for (let i = 0; i < inputs.length; i++) {
      this.embedText(inputs[i]!.text, out, i * this.dim);
      if (onProgress && (i & 255) === 255) onProgress(256);
    }
    onProgress?.(inputs.length & 255);
    return out;
  }
}

/**
 * Document-frequency file (`embed/hash-df.bin`): header (32 bytes, little-endian) then the counts.
 *   0 magic "SBPHDF\0\0" · 8 version u32 = 1 · 12 slots u32 · 16 docs u64 · 24 ngram u32 · 28 reserved u32
 *   32 counts: slots × u32
 */
const DF_MAGIC = 'SBPHDF\0\0';
const DF_HEADER = 32;

export function writeDocumentFrequencies(path: string, df: DocumentFrequencies, ngram: number): void {
  const head = Buffer.alloc(DF_HEADER);
  head.write(DF_MAGIC, 0, 'latin1');
  head.writeUInt32LE(1, 8);
  head.writeUInt32LE(df.counts.length, 12);
  head.writeBigUInt64LE(BigInt(df.docs), 16);
  head.writeUInt32LE(ngram, 24);
  const body = new Uint8Array(df.counts.buffer, df.counts.byteOffset, df.counts.byteLength);
  writeFileAtomic(path, [head, body]);
}

export function readDocumentFrequencies(path: string, expect: { slots: number; ngram: number }): DocumentFrequencies {
  if (!existsSync(path)) throw new UserError(`${path}: no such document-frequency file; run \`sbp embed --embedder hash\` first`);
  const b = readFileSync(path);
  const redo = 'delete it (or run `sbp embed --force`) to recount';
  if (b.length < DF_HEADER || b.subarray(0, 8).toString('latin1') !== DF_MAGIC) throw new UserError(`${path}: not an sbp document-frequency file; ${redo}`);
  const version = b.readUInt32LE(8);
  if (version !== 1) throw new UserError(`${path}: document-frequency format version ${version}, this sbp reads 1; ${redo}`);
  const slots = b.readUInt32LE(12);
  const ngram = b.readUInt32LE(24);
  if (slots !== expect.slots || ngram !== expect.ngram) {
    throw new UserError(`${path}: counted with ${slots} slots and n-grams up to ${ngram}, but the config asks for ${expect.slots} and ${expect.ngram}; ${redo}`);
  }
  if (b.length !== DF_HEADER + slots * 4) throw new UserError(`${path}: ${b.length} bytes, expected ${DF_HEADER + slots * 4}: truncated or corrupt; ${redo}`);
  const counts = new Uint32Array(slots);
  new Uint8Array(counts.buffer).set(b.subarray(DF_HEADER));
  return new DocumentFrequencies(counts, Number(b.readBigUInt64LE(16)));
}
