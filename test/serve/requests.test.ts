import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TokenizerConfigSchema } from '../../src/config/schema.js';
import { ApiError } from '../../src/serve/api-error.js';
import { parseCompletionRequest } from '../../src/serve/completion-request.js';
import { parseEmbeddingRequest } from '../../src/serve/embedding-request.js';
import { PromptEncoder } from '../../src/serve/prompt-encoder.js';
import { trainTokenizer } from '../../src/tokenizer/tokenizer.js';

const tokenizer = await trainTokenizer(['the bank and the bond market', 'the striker and the goal of the match'], TokenizerConfigSchema.parse({ vocabSize: 280, minFrequency: 1 }), { threads: 1 });
const enc = new PromptEncoder(tokenizer);
const { bos, eos, sep } = tokenizer.special;
const plain = (text: string) => Array.from(tokenizer.encode(text));
const LIMITS = { modelId: 'm', maxSeqLen: 40, vocabSize: tokenizer.vocabSize, maxN: 8 };

test('prompt encoder: [bos] + text, special-token texts become their ids', () => {
  const cases: Array<[string, number[]]> = [
    ['', [bos]],
    ['the bank', [bos, ...plain('the bank')]],
    ['the bank<|sep|>', [bos, ...plain('the bank'), sep]],
    ['<|bos|>the bank', [bos, ...plain('the bank')]],
    ['a<|eos|><|sep|>b', [bos, ...plain('a'), eos, sep, ...plain('b')]],
    ['<|se p|>', [bos, ...plain('<|se p|>')]],
    [' <|bos|>', [bos, ...plain(' '), bos]],
  ];
  for (const [text, want] of cases) assert.deepEqual(Array.from(enc.encode(text)), want, JSON.stringify(text));
});

test('completion request: defaults, prompt forms and extensions', () => {
  const r = parseCompletionRequest({ model: 'm', prompt: 'the bank' }, LIMITS, enc);
  assert.deepEqual(
    { maxTokens: r.maxTokens, temperature: r.temperature, topP: r.topP, topK: r.topK, n: r.n, stop: r.stop, seed: r.seed, stream: r.stream, echo: r.echo, ignoreEos: r.ignoreEos },
    { maxTokens: 16, temperature: 1, topP: 1, topK: 0, n: 1, stop: [], seed: null, stream: false, echo: false, ignoreEos: false },
  );
  assert.deepEqual(Array.from(r.prompts[0]!.ids), [bos, ...plain('the bank')]);
  // Without max_tokens the default is clamped to what the context leaves; an explicit value is not.
  const long = 'the bank '.repeat(8); // leaves fewer than 16 positions of the 40
  const room = LIMITS.maxSeqLen - enc.encode(long).length;
  assert.ok(room > 0 && room < 16);
  assert.equal(parseCompletionRequest({ model: 'm', prompt: long }, LIMITS, enc).maxTokens, room);
  assert.throws(() => parseCompletionRequest({ model: 'm', prompt: long, max_tokens: 16 }, LIMITS, enc), (e: ApiError) => e.code === 'context_length_exceeded' && e.param === 'max_tokens');
  const forms: Array<[unknown, number[][]]> = [
    [[5, 6, 7], [[5, 6, 7]]],
    [[[5], [6, 7]], [[5], [6, 7]]],
    [['the', [9]], [[bos, ...plain('the')], [9]]],
  ];
  for (const [prompt, want] of forms) assert.deepEqual(parseCompletionRequest({ model: 'm', prompt }, LIMITS, enc).prompts.map((p) => Array.from(p.ids)), want);
  const x = parseCompletionRequest({ model: 'm', prompt: 'a', top_k: -1, stop: '\n', seed: -3, logprobs: null, presence_penalty: 0, best_of: 2, n: 2, user: 'u', stream: true, stream_options: { include_usage: true } }, LIMITS, enc);
  assert.deepEqual([x.topK, x.stop, x.seed, x.n, x.includeUsage], [0, ['\n'], -3, 2, true]);
});

test('completion and embedding requests: each bad field is a 400 naming it', () => {
  const bad: Array<[Record<string, unknown>, string, string | null]> = [
    [{ prompt: 'a' }, 'model', 'missing_required_parameter'],
    [{ model: 'm' }, 'prompt', 'missing_required_parameter'],
    [{ model: 'm', prompt: [] }, 'prompt', null],
    [{ model: 'm', prompt: [[]] }, 'prompt', null],
    [{ model: 'm', prompt: [1.5] }, 'prompt', null],
    [{ model: 'm', prompt: 'a', n: 9 }, 'n', 'invalid_value'],
    [{ model: 'm', prompt: 'a', best_of: 3 }, 'best_of', 'unsupported_parameter'],
    [{ model: 'm', prompt: 'a', stop: '' }, 'stop', null],
    [{ model: 'm', prompt: 'a', stop: Array(17).fill('x') }, 'stop', null],
    [{ model: 'm', prompt: 'a', seed: 1.5 }, 'seed', 'invalid_type'],
    [{ model: 'm', prompt: 'a', echo: 1 }, 'echo', 'invalid_type'],
    [{ model: 'm', prompt: 'a', stream: true, stream_options: { other: 1 } }, 'stream_options.other', 'unsupported_parameter'],
    [{ model: 'm', prompt: 'a', logit_bias: { 5: 1 } }, 'logit_bias', 'unsupported_parameter'],
    [{ model: 'm', prompt: 'a', suffix: 'x' }, 'suffix', 'unsupported_parameter'],
    [{ model: 'm', prompt: 'a', temperature: 'hot' }, 'temperature', 'invalid_type'],
  ];
  for (const [body, param, code] of bad) {
    assert.throws(
      () => parseCompletionRequest(body, LIMITS, enc),
      (e: unknown) => e instanceof ApiError && e.status === 400 && e.param === param && (code === null || e.code === code),
      JSON.stringify(body),
    );
  }
  const emb = { modelId: 'm', hiddenSize: 16, vocabSize: tokenizer.vocabSize };
  assert.deepEqual(parseEmbeddingRequest({ model: 'm', input: 'x' }, emb), { inputs: ['x'], encodingFormat: 'float' });
  assert.deepEqual(parseEmbeddingRequest({ model: 'm', input: [1, 2], dimensions: 16, encoding_format: 'base64' }, emb), { inputs: [Int32Array.of(1, 2)], encodingFormat: 'base64' });
  for (const [body, param] of [
    [{ model: 'm', input: [] }, 'input'],
    [{ model: 'm', input: [1, 99999] }, 'input'],
    [{ model: 'm', input: Array(2049).fill('a') }, 'input'],
    [{ model: 'm', input: 'a', truncate: true }, 'truncate'],
  ] as Array<[Record<string, unknown>, string]>) {
    assert.throws(() => parseEmbeddingRequest(body, emb), (e: unknown) => e instanceof ApiError && e.status === 400 && e.param === param, JSON.stringify(body).slice(0, 60));
  }
});
