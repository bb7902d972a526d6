// The official Hugging Face `tokenizers` package is the oracle: it must load sbp's tokenizer.json
// and produce exactly sbp's ids (and text back), and sbp must reproduce its ids on files sbp did
// not write.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer, trainTokenizer } from '../../src/tokenizer/tokenizer.js';
import { PromptEncoder } from '../../src/serve/prompt-encoder.js';
import { TokenizerConfigSchema } from '../../src/config/schema.js';
import { repoRoot, tempDir } from '../helpers.js';
import { brownTexts, HARD_TEXTS } from './texts.js';

const require = createRequire(import.meta.url);
const hf = require('tokenizers') as typeof import('tokenizers');

function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** Random strings drawn from code-point ranges that exercise every branch of the split regex. */
function randomUnicodeTexts(n: number, seed: number): string[] {
  const rand = seeded(seed);
  const ranges: Array<[number, number]> = [
    [0x20, 0x7e], [0x20, 0x7e], [0x20, 0x7e], [0x09, 0x0d], [0x80, 0x2ff], [0x370, 0x52f], [0x590, 0x6ff],
    [0x900, 0x97f], [0x2000, 0x206f], [0x3000, 0x30ff], [0x4e00, 0x4fff], [0xac00, 0xacff], [0xfe00, 0xfeff],
    [0x1f300, 0x1f6ff], [0x1d400, 0x1d7ff], [0x10000, 0x1007f], [0xff10, 0xff5a],
  ];
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const len = 1 + Math.floor(rand() * 40);
    let s = '';
    for (let k = 0; k < len; k++) {
      const [lo, hi] = ranges[Math.floor(rand() * ranges.length)]!;
      const cp = lo + Math.floor(rand() * (hi - lo + 1));
      s += rand() < 0.15 ? ' ' : rand() < 0.05 ? "'s" : String.fromCodePoint(cp);
    }
    out.push(s);
  }
  return out;
}

const TEXTS = [...HARD_TEXTS, ...brownTexts(3).map((t) => t.slice(0, 4000)), ...randomUnicodeTexts(300, 1)];

async function assertSameIds(ours: Tokenizer, theirs: InstanceType<typeof hf.Tokenizer>, texts: readonly string[], what: string, specialTexts = false): Promise<void> {
  // Files sbp writes list the special tokens as added tokens: their texts become their ids, as in
  // `sbp serve` prompts (PromptEncoder, minus the bos it puts in front).
  const prompt = new PromptEncoder(ours);
  for (const text of texts) {
    const e = await theirs.encode(text, null, { addSpecialTokens: false });
    const expected = specialTexts ? Array.from(prompt.encode(text)).slice(text.startsWith('<|bos|>') ? 0 : 1) : Array.from(ours.encode(text));
    assert.deepEqual(e.getIds(), expected, `${what}: ids of ${JSON.stringify(text.slice(0, 80))}`);
  }
}

test('the tokenizers package loads our tokenizer.json and gives exactly our ids and text back', async () => {
  const ours = await trainTokenizer(brownTexts(10), TokenizerConfigSchema.parse({ vocabSize: 1500 }), { threads: 1 });
  const path = join(tempDir(), 'tokenizer.json');
  ours.save(path);
  const theirs = hf.Tokenizer.fromFile(path);
  assert.equal(theirs.getVocabSize(true), ours.vocabSize);
  await assertSameIds(ours, theirs, TEXTS, 'sbp tokenizer', true);
  // The post-processor puts bos in front, as documents are framed in training.
  assert.deepEqual((await theirs.encode('Hello<|sep|>')).getIds(), [ours.special.bos, ...ours.encode('Hello'), ours.special.sep]);
  for (const text of TEXTS) assert.equal(await theirs.decode(Array.from(ours.encode(text)), false), text);
  // Special ids decode to their texts in both.
  const sp = [ours.special.bos, ours.special.eos, ours.special.sep, ours.special.pad, ...ours.special.reserved];
  assert.equal(await theirs.decode(sp, false), ours.decode(sp));
  assert.equal(theirs.tokenToId('<|eos|>'), ours.special.eos);
});

/** The committed fixture's vocabulary and merges, as token strings. */
function fixtureModel(): { vocab: Record<string, number>; merges: string[] } {
  const j = JSON.parse(readFileSync(join(repoRoot, 'test/tokenizer/fixtures/brown-700.tokenizer.json'), 'utf8'));
  return { vocab: j.model.vocab, merges: j.model.merges };
}

for (const addPrefixSpace of [false, true]) {
  test(`a GPT-2 style file written by the tokenizers package (ByteLevel regex, add_prefix_space ${addPrefixSpace})`, async () => {
    const { vocab, merges } = fixtureModel();
    // Only the model's own tokens; <|endoftext|> becomes an added special token as in GPT-2.
    const plain = Object.fromEntries(Object.entries(vocab).filter(([k]) => !k.startsWith('<|')));
    const model = hf.BPE.init(plain, merges.map((m) => m.split(' ') as [string, string]) as never);
    const theirs = new hf.Tokenizer(model);
    theirs.setPreTokenizer(hf.byteLevelPreTokenizer(addPrefixSpace, true));
    theirs.addSpecialTokens(['<|endoftext|>']);
    const path = join(tempDir(), 'gpt2-style.json');
    theirs.save(path);
    const ours = Tokenizer.load(path);
    // Texts without the added token: the tokenizers package would cut it out of the text, sbp never does.
    await assertSameIds(ours, theirs, TEXTS, 'GPT-2 style');
    const eot = theirs.tokenToId('<|endoftext|>')!;
    assert.equal(ours.special.bos, eot);
    assert.equal(ours.special.eos, eot);
    // sep and pad were missing: appended after the file's ids.
    assert.deepEqual([ours.special.sep, ours.special.pad], [eot + 1, eot + 2]);
    assert.equal(ours.vocabSize, eot + 3);
  });
}

test('a hand-written Llama-3 style file: (?i:) regex, \\s, ignore_merges, array merges, shuffled ids', async () => {
  const { vocab, merges } = fixtureModel();
  const names = Object.keys(vocab).sort((a, b) => vocab[a]! - vocab[b]!);
  const rand = seeded(9);
  const order = names.map((n) => [rand(), n] as const).sort((a, b) => a[0] - b[0]).map(([, n]) => n);
  const shuffled = Object.fromEntries(order.map((n, i) => [n, i]));
  const json = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [],
    normalizer: null,
    pre_tokenizer: {
      type: 'Sequence',
      pretokenizers: [
        { type: 'Split', pattern: { Regex: "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+" }, behavior: 'Isolated', invert: false },
        { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: false },
      ],
    },
    post_processor: null,
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, ignore_merges: true, vocab: shuffled, merges: merges.map((m) => m.split(' ')) },
  };
  const theirs = hf.Tokenizer.fromString(JSON.stringify(json));
  const ours = Tokenizer.fromHFJson(json, 'llama3-style');
  await assertSameIds(ours, theirs, TEXTS, 'Llama-3 style');
  for (const text of TEXTS) assert.equal(ours.decode(ours.encode(text)), text);
});

test('a Digits pre-tokenizer in a sequence is reproduced', async () => {
  const { vocab, merges } = fixtureModel();
  const json = {
    version: '1.0',
    added_tokens: [],
    normalizer: null,
    pre_tokenizer: { type: 'Sequence', pretokenizers: [{ type: 'Digits', individual_digits: true }, { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true }] },
    decoder: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    model: { type: 'BPE', vocab, merges },
  };
  const theirs = hf.Tokenizer.fromString(JSON.stringify(json));
  await assertSameIds(Tokenizer.fromHFJson(json), theirs, TEXTS, 'Digits + ByteLevel');
});
