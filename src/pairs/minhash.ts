import { fmix32 } from '../common/hash.js';
/**
 * MinHash signatures of documents as sets of word n-gram shingles, for the near-duplicate filter.
 *
 * Words are maximal runs of letters and digits, lowercased. A shingle is `shingleWords` consecutive
 * words (a shorter document is one shingle of all its words; an empty one has no shingles). Each
 * shingle gets a 64-bit hash as two independent 32-bit halves: the first picks one of `permutations`
 * bins, the second is the value whose minimum the bin keeps — one-permutation hashing, so a document
 * costs one hash per shingle instead of one per shingle and permutation. Empty bins borrow the value
 * of a non-empty bin chosen by a probe sequence that is the same for every document (optimal
 * densification), which keeps P(bins equal) = Jaccard for every bin.
 */
export interface MinHashOptions {
  shingleWords: number; // (ours) 5
  permutations: number; // (ours) 128 bins; the estimate's standard error is about sqrt(J(1-J)/permutations)
}

const EMPTY = 0xffffffff;

export class MinHasher {
  readonly shingleWords: number;
  readonly permutations: number;

  constructor(opts: MinHashOptions) {
    if (!Number.isInteger(opts.shingleWords) || opts.shingleWords < 1) throw new RangeError(`MinHasher: shingleWords must be a positive integer, got ${opts.shingleWords}`);
    if (!Number.isInteger(opts.permutations) || opts.permutations < 1) throw new RangeError(`MinHasher: permutations must be a positive integer, got ${opts.permutations}`);
    this.shingleWords = opts.shingleWords;
    this.permutations = opts.permutations;
  }

  /** The signature of one text: `permutations` u32 values. */
  signature(text: string, out: Uint32Array = new Uint32Array(this.permutations)): Uint32Array {
    const K = this.permutations;
    if (out.length !== K) throw new RangeError(`MinHasher.signature: out holds ${out.length} values, need ${K}`);
    out.fill(EMPTY);
    const filled = new Uint8Array(K);
    const words = wordHashes(text);
    const n = this.shingleWords;
    const shingles = words.count === 0 ? 0 : Math.max(words.count - n + 1, 1);
    for (let s = 0; s < shingles; s++) {
      const end = Math.min(s + n, words.count);
      let h1 = 0x2545f491;
      let h2 = 0x6b43a9b5;
      for (let w = s; w < end; w++) {
        h1 = Math.imul(h1 ^ words.a[w]!, 0x9e3779b1);
        h1 = (h1 << 13) | (h1 >>> 19);
        h2 = Math.imul(h2 ^ words.b[w]!, 0x85ebca77);
        h2 = (h2 << 17) | (h2 >>> 15);
      }
      const bin = fmix32(h1 ^ (end - s)) % K;
      const value = fmix32(h2 + 0x27d4eb2f);
      if (value < out[bin]!) out[bin] = value;
      filled[bin] = 1;
    }
    if (shingles > 0) densify(out, filled);
    return out;
  }
}

/** Fills each empty bin from the first non-empty bin of its own probe sequence. */
function densify(sig: Uint32Array, filled: Uint8Array): void {
  const K = sig.length;
  const source = Uint32Array.from(sig);
  for (let i = 0; i < K; i++) {
    if (filled[i]) continue;
    for (let attempt = 1; ; attempt++) {
      const j = fmix32(Math.imul(i + 1, 0x9e3779b1) ^ Math.imul(attempt, 0xcc9e2d51)) % K;
      if (filled[j]) {
        sig[i] = source[j]!;
        break;
      }
    }
  }
}

/** Share of bins in which two signatures agree: an unbiased estimate of their shingle Jaccard. */
export function estimateJaccard(a: Uint32Array, b: Uint32Array, aOffset = 0, bOffset = 0, length = a.length - aOffset): number {
  let same = 0;
  for (let i = 0; i < length; i++) if (a[aOffset + i] === b[bOffset + i]) same++;
  return same / length;
}

/** Exact Jaccard similarity of the two texts' shingle sets (tests and spot checks; not fast). */
export function exactShingleJaccard(a: string, b: string, shingleWords: number): number {
  const sa = shingleSet(a, shingleWords);
  const sb = shingleSet(b, shingleWords);
  if (sa.size === 0 && sb.size === 0) return 1;
  let inter = 0;
  for (const s of sa) if (sb.has(s)) inter++;
  return inter / (sa.size + sb.size - inter);
}

/** The set of shingles, each as its words joined by one space. */
export function shingleSet(text: string, shingleWords: number): Set<string> {
  const words = splitWords(text);
  const out = new Set<string>();
  if (words.length === 0) return out;
  const count = Math.max(words.length - shingleWords + 1, 1);
  for (let s = 0; s < count; s++) out.add(words.slice(s, s + shingleWords).join(' '));
  return out;
}

const WORD = /[\p{L}\p{N}]+/gu;

export function splitWords(text: string): string[] {
  return (text.toLowerCase().match(WORD) ?? []) as string[];
}

/** Two independent 32-bit hashes (FNV-1a variants, finalised) of every word, in text order. */
function wordHashes(text: string): { count: number; a: Uint32Array; b: Uint32Array } {
  const words = splitWords(text);
  const a = new Uint32Array(words.length);
  const b = new Uint32Array(words.length);
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    let ha = 0x811c9dc5;
    let hb = 0x01000193 ^ 0x5bd1e995;
    for (let c = 0; c < w.length; c++) {
      const code = w.charCodeAt(c);
      ha = Math.imul(ha ^ code, 0x01000193);
      hb = Math.imul(hb ^ code, 0x5bd1e995);
      hb ^= hb >>> 15;
    }
    a[i] = fmix32(ha);
    b[i] = fmix32(hb ^ w.length);
  }
  return { count: words.length, a, b };
}

