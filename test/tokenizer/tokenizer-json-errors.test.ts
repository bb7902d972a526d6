import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer } from '../../src/tokenizer/tokenizer.js';
import { onigToJsPattern } from '../../src/tokenizer/pre-tokenizer.js';
import { UserError } from '../../src/common/errors.js';
import { repoRoot, tempDir } from '../helpers.js';

const fixture = (): Record<string, any> => JSON.parse(readFileSync(join(repoRoot, 'test/tokenizer/fixtures/brown-700.tokenizer.json'), 'utf8'));

// Each row breaks one thing in a valid file; loading must fail with a UserError that says what.
const broken: Array<[string, (j: Record<string, any>) => unknown, RegExp]> = [
  ['not an object', () => [1, 2], /expected a JSON object/],
  ['no model', (j) => ({ ...j, model: undefined }), /no "model" object/],
  ['WordPiece model', (j) => ({ ...j, model: { ...j.model, type: 'WordPiece' } }), /model\.type is "WordPiece"; sbp loads byte-level BPE/],
  ['BPE dropout', (j) => ({ ...j, model: { ...j.model, dropout: 0.1 } }), /model\.dropout is 0\.1/],
  ['byte fallback', (j) => ({ ...j, model: { ...j.model, byte_fallback: true } }), /byte_fallback is true/],
  ['subword prefix', (j) => ({ ...j, model: { ...j.model, continuing_subword_prefix: '##' } }), /continuing_subword_prefix is set/],
  ['vocab not an object', (j) => ({ ...j, model: { ...j.model, vocab: [] } }), /model\.vocab must be an object/],
  ['bad id', (j) => ({ ...j, model: { ...j.model, vocab: { ...j.model.vocab, x: -3 } } }), /model\.vocab\["x"\] = -3 is not a valid id/],
  ['missing byte token', (j) => { const v = { ...j.model.vocab }; delete v['Ā']; return { ...j, model: { ...j.model, vocab: v } }; }, /no token for byte 0x00/],
  ['merge of unknown tokens', (j) => ({ ...j, model: { ...j.model, merges: [...j.model.merges, 'qqq zzz'] } }), /merges\[436\].*missing from model\.vocab/],
  ['malformed merge', (j) => ({ ...j, model: { ...j.model, merges: ['abc'] } }), /merges\[0\] = "abc" is not "left right"/],
  ['merges not an array', (j) => ({ ...j, model: { ...j.model, merges: 'a b' } }), /model\.merges must be an array/],
  ['no pre-tokenizer', (j) => ({ ...j, pre_tokenizer: null }), /pre_tokenizer is missing/],
  ['unsupported pre-tokenizer', (j) => ({ ...j, pre_tokenizer: { type: 'Metaspace', replacement: '▁' } }), /pre-tokenizer type "Metaspace" is not supported/],
  ['no ByteLevel step', (j) => ({ ...j, pre_tokenizer: { type: 'Digits', individual_digits: false } }), /no ByteLevel step/],
  ['Split that removes text', (j) => ({ ...j, pre_tokenizer: { type: 'Sequence', pretokenizers: [{ type: 'Split', pattern: { Regex: '\\s+' }, behavior: 'Removed', invert: false }, { type: 'ByteLevel' }] } }), /behavior "Removed" is not supported/],
  ['possessive regex', (j) => ({ ...j, pre_tokenizer: { type: 'Sequence', pretokenizers: [{ type: 'Split', pattern: { Regex: '\\p{L}++' }, behavior: 'Isolated', invert: false }, { type: 'ByteLevel' }] } }), /possessive quantifier/],
  ['lowercasing normalizer', (j) => ({ ...j, normalizer: { type: 'Lowercase' } }), /normalizer "Lowercase" is not supported/],
  ['bad added token', (j) => ({ ...j, added_tokens: [{ id: 'x', content: 5 }] }), /added_tokens\[0\] needs an integer "id"/],
];

for (const [name, mutate, re] of broken) {
  test(`malformed tokenizer.json: ${name}`, () => {
    const path = join(tempDir(), 'bad.tokenizer.json');
    writeFileSync(path, JSON.stringify(mutate(fixture())));
    assert.throws(
      () => Tokenizer.load(path),
      (e: unknown) => e instanceof UserError && e.message.includes(path) && re.test(e.message),
    );
  });
}

test('unreadable and non-JSON files are user errors naming the file', () => {
  const dir = tempDir();
  assert.throws(() => Tokenizer.load(join(dir, 'none.json')), (e: unknown) => e instanceof UserError && /cannot read tokenizer file .*none\.json/.test((e as Error).message));
  const bad = join(dir, 'trunc.json');
  writeFileSync(bad, '{"model": {"type": "BPE", ');
  assert.throws(() => Tokenizer.load(bad), (e: unknown) => e instanceof UserError && /trunc\.json: not valid JSON/.test((e as Error).message));
});

// Oniguruma pattern → JavaScript regex source.
const translations: Array<[string, string]> = [
  ['\\p{L}+', '\\p{L}+'],
  ["(?i:'s|'t)", "(?:'[sS]|'[tT])"],
  ['\\x{85}', '\\u{85}'],
  ['[^\\r\\n\\p{L}]', '[^\\r\\n\\p{L}]'],
  ['\\.\\-', '\\.\\-'],
];
for (const [onig, js] of translations) {
  test(`regex translation ${onig}`, () => assert.equal(onigToJsPattern(onig, 'test'), js));
}

test('\\s and \\S become the Unicode White_Space set (not JavaScript\'s, which has U+FEFF and lacks U+0085)', () => {
  const re = new RegExp(`^${onigToJsPattern('\\s', 't')}$`, 'u');
  assert.ok(re.test('\u0085'));
  assert.ok(!re.test('\ufeff'));
  const notSpace = new RegExp(`^${onigToJsPattern('\\S', 't')}$`, 'u');
  assert.ok(notSpace.test('\ufeff'));
  assert.ok(!notSpace.test('\u3000'));
});
