import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BpeMerges } from '../../src/tokenizer/bpe-merge.js';
import { learnMerges } from '../../src/tokenizer/learn-merges.js';
import { PairTable } from '../../src/tokenizer/pair-table.js';
import { brownTexts } from './texts.js';
import { PreTokenizer } from '../../src/tokenizer/pre-tokenizer.js';

function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/**
 * The obvious trainer: recount every pair of every word before each merge. Same rules as
 * learnMerges (most frequent pair, ties to smaller ids; a merge whose bytes already exist reuses
 * that id), so the two must agree merge for merge.
 */
function bruteForceMerges(words: Uint8Array[], counts: number[], target: number, minFrequency: number): Array<[number, number, number]> {
  const segs = words.map((w) => Array.from(w));
  const bytesOf: number[][] = Array.from({ length: 256 }, (_, b) => [b]);
  const idOf = new Map<string, number>(bytesOf.map((b, i) => [b.join(','), i]));
  const merges: Array<[number, number, number]> = [];
  let newTokens = 0;
  while (newTokens < target) {
    const pc = new Map<string, number>();
    segs.forEach((s, w) => {
      for (let i = 0; i + 1 < s.length; i++) pc.set(`${s[i]},${s[i + 1]}`, (pc.get(`${s[i]},${s[i + 1]}`) ?? 0) + counts[w]!);
    });
    let best: [number, number] | undefined;
    let bestCount = 0;
    for (const [k, c] of pc) {
      const [a, b] = k.split(',').map(Number) as [number, number];
      if (c > bestCount || (c === bestCount && best && (a < best[0] || (a === best[0] && b < best[1])))) {
        best = [a, b];
        bestCount = c;
      }
    }
    if (!best || bestCount < minFrequency) break;
    const [a, b] = best;
    const bytes = [...bytesOf[a]!, ...bytesOf[b]!];
    let c = idOf.get(bytes.join(','));
    if (c === undefined) {
      c = bytesOf.length;
      bytesOf.push(bytes);
      idOf.set(bytes.join(','), c);
      newTokens++;
    }
    merges.push([a, b, c]);
    for (const s of segs) {
      for (let i = 0; i + 1 < s.length; i++) if (s[i] === a && s[i + 1] === b) s.splice(i, 2, c);
    }
  }
  return merges;
}

function piecesOf(texts: string[]): { words: Uint8Array[]; counts: number[] } {
  const m = new Map<string, number>();
  const pre = PreTokenizer.sbp();
  for (const t of texts) pre.forEachPiece(t, (p) => m.set(p, (m.get(p) ?? 0) + 1));
  const enc = new TextEncoder();
  return { words: [...m.keys()].map((k) => enc.encode(k)), counts: [...m.values()] };
}

const corpora: Array<[string, string[], number]> = [
  ['brown prose', [brownTexts(1)[0]!.slice(0, 20_000)], 120],
  ['repetitive runs (overlapping pairs)', ['aaaa aaaaa aaa abab ababab ba bab aaaaaaa', 'zzzz zz z zzzzzzzz'], 30],
  ['random small alphabet', Array.from({ length: 20 }, (_, i) => { const r = seeded(i); return Array.from({ length: 200 }, () => 'abc '[Math.floor(r() * 4)]).join(''); }), 60],
];
for (const [name, texts, target] of corpora) {
  test(`incremental merge learning equals brute-force recounting: ${name}`, () => {
    const { words, counts } = piecesOf(texts);
    const fast = learnMerges(words, counts, target, 2);
    const slow = bruteForceMerges(words, counts, target, 2);
    assert.ok(slow.length > 5);
    assert.deepEqual(
      Array.from(fast.left, (a, i) => [a, fast.right[i]!, fast.result[i]!]),
      slow,
    );
  });
}

test('the heap merge loop for long pieces equals the rescanning loop', () => {
  const { words, counts } = piecesOf([brownTexts(2).join('\n')]);
  const learned = learnMerges(words, counts, 300, 2);
  const byteToId = Int32Array.from({ length: 256 }, (_, b) => b);
  const bpe = new BpeMerges(byteToId, learned.left, learned.right, learned.result);
  const rand = seeded(3);
  const alphabet = new TextEncoder().encode('etaoin shrdlu,.');
  for (let i = 0; i < 200; i++) {
    const n = 2 + Math.floor(rand() * 200);
    const b = new Uint8Array(n);
    for (let k = 0; k < n; k++) b[k] = rand() < 0.9 ? alphabet[Math.floor(rand() * alphabet.length)]! : Math.floor(rand() * 256);
    assert.deepEqual(bpe.encodeLong(b, n), bpe.encodeShort(b, n));
  }
});

test('PairTable stores and finds many pairs through growth', () => {
  const t = new PairTable(4);
  const rand = seeded(5);
  const ref = new Map<string, number>();
  for (let i = 0; i < 20_000; i++) {
    const a = Math.floor(rand() * 3000);
    const b = Math.floor(rand() * 3000);
    const v = t.getOrSet(a, b, i);
    if (!ref.has(`${a},${b}`)) ref.set(`${a},${b}`, i);
    assert.equal(v, ref.get(`${a},${b}`));
  }
  for (const [k, v] of ref) {
    const [a, b] = k.split(',').map(Number) as [number, number];
    assert.equal(t.get(a, b), v);
  }
  assert.equal(t.get(5000, 5000), -1);
  assert.equal(t.size, ref.size);
});
