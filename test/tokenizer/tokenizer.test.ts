import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer, trainTokenizer, trainTokenizerWithStats } from '../../src/tokenizer/tokenizer.js';
import { TokenizerConfigSchema } from '../../src/config/schema.js';
import { UserError } from '../../src/common/errors.js';
import { repoRoot } from '../helpers.js';
import { brownTexts, HARD_TEXTS } from './texts.js';

// Goldens: brown-700.tokenizer.json was trained by trainTokenizer on the first 8 Brown files
// (vocabSize 700); golden-ids.json holds its ids for a set of texts, which the official
// `tokenizers` package reproduced when the file was written (hf-compat.test.ts checks that live).
const fixtures = join(repoRoot, 'test/tokenizer/fixtures');
const fixturePath = join(fixtures, 'brown-700.tokenizer.json');
const cfg700 = TokenizerConfigSchema.parse({ vocabSize: 700, reservedTokens: 4 });

function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

test('golden table: text → ids of the committed tokenizer', () => {
  const tok = Tokenizer.load(fixturePath);
  const golden = JSON.parse(readFileSync(join(fixtures, 'golden-ids.json'), 'utf8')) as Array<[string, number[]]>;
  assert.ok(golden.length >= 15);
  for (const [text, ids] of golden) assert.deepEqual(Array.from(tok.encode(text)), ids, `ids of ${JSON.stringify(text)}`);
});

test('training is deterministic and reproduces the committed tokenizer.json', async () => {
  const a = await trainTokenizer(brownTexts(8), cfg700, { threads: 1 });
  const b = await trainTokenizer(brownTexts(8), cfg700, { threads: 1 });
  assert.deepEqual(a.toHFJson(), b.toHFJson());
  assert.deepEqual(a.toHFJson(), JSON.parse(readFileSync(fixturePath, 'utf8')));
});

test('counting on worker threads gives the same tokenizer as one thread', async () => {
  const texts = brownTexts(12);
  const one = await trainTokenizer(texts, cfg700, { threads: 1 });
  const two = await trainTokenizer(texts, cfg700, { threads: 2, minCharsForWorkers: 50_000 });
  assert.deepEqual(two.toHFJson(), one.toHFJson());
});

test('vocabulary layout: bytes, merged tokens, then bos/eos/sep/pad/reserved; stats add up', async () => {
  const { tokenizer: tok, stats } = await trainTokenizerWithStats(brownTexts(4), cfg700, { threads: 1 });
  assert.equal(tok.vocabSize, 700);
  const first = 700 - 8;
  assert.deepEqual(tok.special, { bos: first, eos: first + 1, sep: first + 2, pad: first + 3, reserved: [first + 4, first + 5, first + 6, first + 7] });
  assert.equal(tok.decode([tok.special.bos, tok.special.eos, tok.special.sep, tok.special.pad, ...tok.special.reserved]), '<|bos|><|eos|><|sep|><|pad|><|reserved_0|><|reserved_1|><|reserved_2|><|reserved_3|>');
  for (let b = 0; b < 256; b++) assert.deepEqual(Array.from(tok.decodeBytes([b])), [b]);
  assert.equal(stats.newTokens, first - 256);
  assert.equal(stats.merges, tok.mergeCount);
  assert.equal(stats.bytes, brownTexts(4).reduce((n, t) => n + Buffer.byteLength(t), 0));
});

test('maxTrainBytes caps the text read, cutting the last document at a character boundary', async () => {
  const texts = ['ab€', 'cdef', 'never read'];
  const cfg = TokenizerConfigSchema.parse({ vocabSize: 300, maxTrainBytes: 7, minFrequency: 1, reservedTokens: 0 });
  const { stats } = await trainTokenizerWithStats(texts, cfg, { threads: 1 });
  // 'ab€' is 5 bytes; 2 more bytes of 'cdef' fit.
  assert.equal(stats.bytes, 7);
  assert.equal(stats.docs, 2);
});

test('round trip: random bytes, invalid UTF-8, and texts', async () => {
  const tok = Tokenizer.load(fixturePath);
  const rand = seeded(7);
  const cases: Uint8Array[] = [
    Uint8Array.of(0xff),
    Uint8Array.of(0xc0, 0x80), // overlong NUL
    Uint8Array.of(0xed, 0xa0, 0x80), // UTF-8 of a surrogate
    Uint8Array.of(0xf4, 0x90, 0x80, 0x80), // above U+10FFFF
    Uint8Array.of(0xe2, 0x82), // truncated €
    Uint8Array.of(0xef, 0xbb, 0xbf, 0x61), // BOM then 'a': the BOM must survive
    new TextEncoder().encode('the cat\xff\xfe sat'),
  ];
  for (let i = 0; i < 200; i++) {
    const n = Math.floor(rand() * 64);
    const b = new Uint8Array(n);
    for (let k = 0; k < n; k++) b[k] = rand() < 0.7 ? 0x20 + Math.floor(rand() * 95) : Math.floor(rand() * 256);
    cases.push(b);
  }
  for (const b of cases) assert.deepEqual(tok.decodeBytes(tok.encodeBytes(b)), b);
  for (const t of HARD_TEXTS) {
    assert.equal(tok.decode(tok.encode(t)), t);
    // Valid UTF-8 goes through encodeBytes exactly as through encode.
    assert.deepEqual(tok.encodeBytes(new TextEncoder().encode(t)), tok.encode(t));
  }
});

test('special tokens are never produced by plain text', () => {
  const tok = Tokenizer.load(fixturePath);
  const specials = new Set([tok.special.bos, tok.special.eos, tok.special.sep, tok.special.pad, ...tok.special.reserved]);
  const rand = seeded(11);
  const parts = ['<|eos|>', '<|bos|>', '<|sep|>', '<|pad|>', '<|reserved_0|>', '<|', '|>', 'eos', ' ', 'x', '\n'];
  for (let i = 0; i < 300; i++) {
    let t = '';
    for (let k = 0; k < 8; k++) t += parts[Math.floor(rand() * parts.length)];
    const ids = tok.encode(t);
    for (const id of ids) assert.ok(!specials.has(id), `${JSON.stringify(t)} produced special id ${id}`);
    assert.equal(tok.decode(ids), t);
  }
});

test('a vocabulary too small for the bytes and specials is a user error naming the field', async () => {
  const cfg = TokenizerConfigSchema.parse({ vocabSize: 264, reservedTokens: 10 });
  await assert.rejects(trainTokenizer(['text'], cfg), (e: unknown) => e instanceof UserError && /tokenizer\.vocabSize 264 is too small.*at least 270/.test((e as Error).message));
});

test('decode of an id outside the vocabulary is a RangeError', () => {
  const tok = Tokenizer.load(fixturePath);
  assert.throws(() => tok.decode([tok.vocabSize]), RangeError);
});
