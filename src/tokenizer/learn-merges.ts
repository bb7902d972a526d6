import { PairTable } from './pair-table.js';

export interface MergeProgress {
  merges: number;
  newTokens: number;
  targetNewTokens: number;
  topCount: number; // occurrences of the pair just merged
}

export interface LearnedMerges {
  /** (vocab) bytes of every token: 0–255 the single bytes, then new tokens in creation order. */
  tokens: Uint8Array[];
  left: Int32Array; // (merges) left id of each merge, in rank order
  right: Int32Array; // (merges)
  result: Int32Array; // (merges) id produced; two merges can produce the same bytes, hence the same id
}

function latin1(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('latin1');
}

/**
 * Learns BPE merges from unique pre-tokens and their counts. Pair counts are computed once and then
 * updated incrementally: merging (a, b) → c only visits the words that contain (a, b), and the
 * most frequent pair comes from a max-heap whose stale entries are refreshed when popped.
 * Ties go to the pair with the smaller ids, so the result depends only on the counts.
 *
 * @param words unique pre-tokens as UTF-8 bytes
 * @param counts (words) occurrences of each
 * @param targetNewTokens stop after this many new tokens (vocab = 256 + this)
 * @param minFrequency never merge a pair seen fewer times
 * @param forbidden byte strings (latin1-keyed) no merge may produce: the special tokens' texts
 */
export function learnMerges(
  words: Uint8Array[],
  counts: ArrayLike<number>,
  targetNewTokens: number,
  minFrequency: number,
  forbidden: ReadonlySet<string> = new Set(),
  onProgress?: (p: MergeProgress) => void,
): LearnedMerges {
  const W = words.length;
  const wordSyms: Int32Array[] = new Array(W); // (W) current symbols of each word
  const wordLen = new Int32Array(W);
  const wordCount = new Float64Array(W);
  for (let w = 0; w < W; w++) {
    wordSyms[w] = Int32Array.from(words[w]!);
    wordLen[w] = words[w]!.length;
    wordCount[w] = counts[w]!;
  }

  // Pair store: id → (a, b, count, words containing it). Growable typed arrays.
  const pairIds = new PairTable(1 << 16);
  let pairA = new Int32Array(1 << 16);
  let pairB = new Int32Array(1 << 16);
  let pairCount = new Float64Array(1 << 16);
  let pairLastWord = new Int32Array(1 << 16); // last word appended to pairWords, to skip repeats
  let pairStamp = new Int32Array(1 << 16); // merge step that last touched the pair
  const pairWords: number[][] = [];
  let numPairs = 0;

  const pairOf = (a: number, b: number): number => {
    const id = pairIds.getOrSet(a, b, numPairs);
    if (id === numPairs) {
      if (numPairs === pairA.length) {
        const cap = numPairs * 2;
        pairA = growInt(pairA, cap);
        pairB = growInt(pairB, cap);
        pairCount = growFloat(pairCount, cap);
        pairLastWord = growInt(pairLastWord, cap);
        pairStamp = growInt(pairStamp, cap);
      }
      pairA[id] = a;
      pairB[id] = b;
      pairCount[id] = 0;
      pairLastWord[id] = -1;
      pairStamp[id] = -1;
      pairWords.push([]);
      numPairs++;
    }
    return id;
  };
  const addToPair = (a: number, b: number, w: number, f: number): number => {
    const id = pairOf(a, b);
    pairCount[id]! += f;
    if (pairLastWord[id] !== w) {
      pairLastWord[id] = w;
      pairWords[id]!.push(w);
    }
    return id;
  };

  for (let w = 0; w < W; w++) {
    const s = wordSyms[w]!;
    const f = wordCount[w]!;
    for (let i = 0; i + 1 < s.length; i++) addToPair(s[i]!, s[i + 1]!, w, f);
  }

  // Max-heap of (count, pair), ties to the smaller (a, b).
  const heap = new PairHeap(() => ({ a: pairA, b: pairB }));
  for (let p = 0; p < numPairs; p++) heap.push(pairCount[p]!, p);

  const tokens: Uint8Array[] = [];
  const idOfBytes = new Map<string, number>();
  for (let b = 0; b < 256; b++) {
    tokens.push(Uint8Array.of(b));
    idOfBytes.set(String.fromCharCode(b), b);
  }
  const left: number[] = [];
  const right: number[] = [];
  const result: number[] = [];
  const wordStamp = new Int32Array(W).fill(-1);
  const touched: number[] = [];
  const banned = new Set<number>();
  let newTokens = 0;

  while (newTokens < targetNewTokens && heap.size > 0) {
    const { count, pair } = heap.pop();
    const current = pairCount[pair]!;
    if (count !== current) {
      if (current > 0) heap.push(current, pair);
      continue;
    }
    if (count < minFrequency || count <= 0) break;
    if (banned.has(pair)) continue; // dropped without re-pushing: it never comes back
    const a = pairA[pair]!;
    const b = pairB[pair]!;
    const ta = tokens[a]!;
    const tb = tokens[b]!;
    const bytes = new Uint8Array(ta.length + tb.length);
    bytes.set(ta);
    bytes.set(tb, ta.length);
    const key = latin1(bytes);
    if (forbidden.has(key)) {
      banned.add(pair);
      continue;
    }
    let c = idOfBytes.get(key);
    if (c === undefined) {
      c = tokens.length;
      tokens.push(bytes);
      idOfBytes.set(key, c);
      newTokens++;
    }
    const step = left.length;
    left.push(a);
    right.push(b);
    result.push(c);

    const list = pairWords[pair]!;
    pairWords[pair] = [];
    for (let k = 0; k < list.length; k++) {
      const w = list[k]!;
      if (wordStamp[w] === step) continue;
      wordStamp[w] = step;
      const s = wordSyms[w]!;
      const len = wordLen[w]!;
      const f = wordCount[w]!;
      // Rewrite the word in place; `out` trails `i` and holds the merged prefix.
      let out = 0;
      let i = 0;
      while (i < len) {
        if (i + 1 < len && s[i] === a && s[i + 1] === b) {
          if (out > 0) {
            const p = s[out - 1]!;
            pairCount[pairOf(p, a)]! -= f;
            const id = addToPair(p, c, w, f);
            if (pairStamp[id] !== step) {
              pairStamp[id] = step;
              touched.push(id);
            }
          }
          if (i + 2 < len) {
            const nx = s[i + 2]!;
            pairCount[pairOf(b, nx)]! -= f;
            const id = addToPair(c, nx, w, f);
            if (pairStamp[id] !== step) {
              pairStamp[id] = step;
              touched.push(id);
            }
          }
          s[out++] = c;
          i += 2;
        } else {
          s[out++] = s[i++]!;
        }
      }
      wordLen[w] = out;
    }
    pairCount[pair] = 0;
    for (const id of touched) if (pairCount[id]! > 0) heap.push(pairCount[id]!, id);
    touched.length = 0;
    if (onProgress && (step & 255) === 0) onProgress({ merges: step + 1, newTokens, targetNewTokens, topCount: count });
  }
  return { tokens, left: Int32Array.from(left), right: Int32Array.from(right), result: Int32Array.from(result) };
}

function growInt(a: Int32Array, cap: number): Int32Array<ArrayBuffer> {
  const b = new Int32Array(cap);
  b.set(a);
  return b;
}
function growFloat(a: Float64Array, cap: number): Float64Array<ArrayBuffer> {
  const b = new Float64Array(cap);
  b.set(a);
  return b;
}

/** Max-heap of (count, pair id); ties go to the pair with the smaller (a, b). */
class PairHeap {
  private counts = new Float64Array(1 << 16);
  private pairs = new Int32Array(1 << 16);
  size = 0;
  constructor(private readonly ids: () => { a: Int32Array; b: Int32Array }) {}

  private before(c1: number, p1: number, c2: number, p2: number, a: Int32Array, b: Int32Array): boolean {
    if (c1 !== c2) return c1 > c2;
    if (a[p1] !== a[p2]) return a[p1]! < a[p2]!;
    return b[p1]! < b[p2]!;
  }

  push(count: number, pair: number): void {
    if (this.size === this.counts.length) {
      this.counts = growFloat(this.counts, this.size * 2);
      this.pairs = growInt(this.pairs, this.size * 2);
    }
    const { a, b } = this.ids();
    const counts = this.counts;
    const pairs = this.pairs;
    let i = this.size++;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.before(count, pair, counts[p]!, pairs[p]!, a, b)) break;
      counts[i] = counts[p]!;
      pairs[i] = pairs[p]!;
      i = p;
    }
    counts[i] = count;
    pairs[i] = pair;
  }

  pop(): { count: number; pair: number } {
    const { a, b } = this.ids();
    const counts = this.counts;
    const pairs = this.pairs;
    const top = { count: counts[0]!, pair: pairs[0]! };
    const n = --this.size;
    const vc = counts[n]!;
    const vp = pairs[n]!;
    let i = 0;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      if (c + 1 < n && this.before(counts[c + 1]!, pairs[c + 1]!, counts[c]!, pairs[c]!, a, b)) c++;
      if (!this.before(counts[c]!, pairs[c]!, vc, vp, a, b)) break;
      counts[i] = counts[c]!;
      pairs[i] = pairs[c]!;
      i = c;
    }
    counts[i] = vc;
    pairs[i] = vp;
    return top;
  }
}
