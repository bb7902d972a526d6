import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PreTokenizer } from '../../src/tokenizer/pre-tokenizer.js';
import { bytesToByteLevel } from '../../src/tokenizer/byte-level.js';
import { repoRoot } from '../helpers.js';
import { HARD_TEXTS } from './texts.js';

const require = createRequire(import.meta.url);
const hf = require('tokenizers') as typeof import('tokenizers');

function pieces(text: string): string[] {
  const out: string[] = [];
  PreTokenizer.sbp().forEachPiece(text, (p) => out.push(p));
  return out;
}

// Written by hand from the pattern's rules.
const table: Array<[string, string[]]> = [
  ['Hello world', ['Hello', ' world']],
  ["it's they'RE", ['it', "'s", ' they', "'RE"]],
  ['1234567', ['123', '456', '7']],
  ['x  y', ['x', ' ', ' y']],
  ['a\r\n\r\nb', ['a', '\r\n\r\n', 'b']],
  ['end.\n\nNext', ['end', '.\n\n', 'Next']],
  ['(the) {x}', ['(the', ')', ' {', 'x', '}']],
  ['\tword', ['\tword']],
  ['<|eos|>', ['<|', 'eos', '|>']],
  ['日本語 テキスト', ['日本語', ' テキスト']],
  ['😀😀 ok', ['😀😀', ' ok']],
  ['a\u00a0b', ['a', '\u00a0b']],
  ['a\ufeffb', ['a', '\ufeffb']],
  ['   ', ['   ']],
];
for (const [text, expected] of table) {
  test(`pre-tokenize ${JSON.stringify(text)}`, () => assert.deepEqual(pieces(text), expected));
}

test('pieces concatenate back to the text, and equal the pre-tokenizer our tokenizer.json gives the tokenizers package', () => {
  const json = readFileSync(join(repoRoot, 'test/tokenizer/fixtures/brown-700.tokenizer.json'), 'utf8');
  const theirs = hf.Tokenizer.fromString(json).getPreTokenizer()!;
  const utf8 = new TextEncoder();
  for (const text of HARD_TEXTS) {
    const ours = pieces(text);
    assert.equal(ours.join(''), text);
    // The package reports pieces after the ByteLevel step, i.e. in the byte-level alphabet.
    assert.deepEqual(ours.map((p) => bytesToByteLevel(utf8.encode(p))), theirs.preTokenizeString(text).map(([p]) => p), JSON.stringify(text));
  }
});
