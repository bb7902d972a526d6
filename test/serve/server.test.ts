import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { LmEmbedder } from '../../src/embed/lm-embedder.js';
import { normalizeRows } from '../../src/embed/embedder.js';
import { argmax } from '../../src/sample/logits-sampler.js';
import { sampleTexts } from '../../src/sample/sample-texts.js';
import { startServer, type SbpServer } from '../../src/serve/server.js';
import { fetchJson, serveFixture, type ServeFixture } from './fixture.js';

let fx: ServeFixture;
let server: SbpServer;
const MAX_BATCH = 4;

before(async () => {
  fx = await serveFixture();
  server = await startServer({ modelDir: fx.dir, port: 0, backend: 'ref', maxBatch: MAX_BATCH });
});
after(async () => {
  await server.close({ graceMs: 1000 });
});

function call(path: string, body?: unknown, raw?: string): Promise<{ status: number; json: any; text: string }> {
  return fetchJson(server.url + path, body, { raw });
}

/** Parses an SSE body: the data payloads in order; the last must be [DONE]. */
function sseEvents(text: string): any[] {
  const blocks = text.split('\n\n').filter((b) => b !== '');
  for (const b of blocks) assert.match(b, /^data: /, `every event is a data line: ${b}`);
  const payloads = blocks.map((b) => b.slice('data: '.length));
  assert.equal(payloads.at(-1), '[DONE]');
  return payloads.slice(0, -1).map((p) => JSON.parse(p));
}

function streamedChoices(events: any[]): Array<{ text: string; finish: string | null }> {
  const out: Array<{ text: string; finish: string | null }> = [];
  for (const e of events) {
    assert.equal(e.object, 'text_completion');
    for (const c of e.choices) {
      out[c.index] ??= { text: '', finish: null };
      assert.equal(out[c.index]!.finish, null, 'nothing arrives for a choice after its finish_reason');
      out[c.index]!.text += c.text;
      out[c.index]!.finish = c.finish_reason;
    }
  }
  return out;
}

/** The model's greedy continuation, one full forward pass per token, stopping at eos. */
function greedyText(prompt: string, maxTokens: number): { text: string; finish: string; tokens: number } {
  const V = fx.model.config.vocabSize;
  const seq = [fx.tokenizer.special.bos, ...fx.tokenizer.encode(prompt)];
  const out: number[] = [];
  while (out.length < maxTokens) {
    const logits = fx.model.logits(Int32Array.from(seq), 1, seq.length);
    const tok = argmax(logits, (seq.length - 1) * V, V);
    if (tok === fx.tokenizer.special.eos) return { text: fx.tokenizer.decode(out), finish: 'stop', tokens: out.length };
    out.push(tok);
    seq.push(tok);
  }
  return { text: fx.tokenizer.decode(out), finish: 'length', tokens: out.length };
}

test('serve: /v1/models and /v1/models/{id} name the served model', async () => {
  const r = await call('/v1/models');
  assert.equal(r.status, 200);
  assert.equal(r.json.object, 'list');
  assert.deepEqual(r.json.data.map((m: any) => [m.id, m.object, m.max_model_len]), [['tiny-serve', 'model', 128]]);
  assert.equal((await call('/v1/models/tiny-serve')).json.id, 'tiny-serve');
  assert.equal((await call('/v1/models/other')).json.error.code, 'model_not_found');
});

test('serve: temperature 0 gives the greedy continuation computed directly', async () => {
  const prompts = ['the bank rates', 'goal of the match and', 'compiler'];
  const r = await call('/v1/completions', { model: 'tiny-serve', prompt: prompts, max_tokens: 24, temperature: 0 });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.choices.length, 3);
  prompts.forEach((p, i) => {
    const want = greedyText(p, 24);
    const c = r.json.choices[i];
    assert.equal(c.index, i);
    assert.equal(c.text, want.text, `prompt ${i}`);
    assert.equal(c.finish_reason, want.finish);
    assert.equal(c.logprobs, null);
  });
  const promptTokens = prompts.reduce((a, p) => a + 1 + fx.tokenizer.encode(p).length, 0);
  assert.equal(r.json.usage.prompt_tokens, promptTokens);
  assert.equal(r.json.usage.completion_tokens, prompts.reduce((a, p) => a + greedyText(p, 24).tokens, 0));
  assert.equal(r.json.usage.total_tokens, r.json.usage.prompt_tokens + r.json.usage.completion_tokens);
});

test('serve: streaming and non-streaming give the same text for the same seed, and both equal `sbp sample`', async () => {
  const body = { model: 'tiny-serve', prompt: 'the leaf and the water', n: 3, max_tokens: 30, temperature: 0.8, top_p: 0.9, top_k: 40, seed: 77 };
  const plain = await call('/v1/completions', body);
  assert.equal(plain.status, 200, plain.text);
  const streamed = await call('/v1/completions', { ...body, stream: true, stream_options: { include_usage: true } });
  assert.equal(streamed.status, 200);
  const events = sseEvents(streamed.text);
  const usageChunk = events.at(-1);
  assert.deepEqual(usageChunk.choices, []);
  assert.deepEqual(usageChunk.usage, plain.json.usage);
  const choices = streamedChoices(events.slice(0, -1));
  assert.deepEqual(
    choices,
    plain.json.choices.map((c: any) => ({ text: c.text, finish: c.finish_reason })),
  );
  assert.ok(events.length > 4, 'the text arrives in several chunks');
  assert.ok(new Set(events.map((e) => e.id)).size === 1 && events[0].id.startsWith('cmpl-'));

  const want = sampleTexts(fx.model, fx.tokenizer, [body.prompt], { n: 3, maxTokens: 30, temperature: 0.8, topP: 0.9, topK: 40, seed: 77, batchSize: 3, stopAtEos: true });
  assert.deepEqual(
    plain.json.choices.map((c: any) => [c.text, c.finish_reason]),
    want.map((w) => [w.text, w.finishReason]),
  );
  const other = await call('/v1/completions', { ...body, seed: 78 });
  assert.notDeepEqual(other.json.choices.map((c: any) => c.text), plain.json.choices.map((c: any) => c.text), 'another seed, other samples');
});

test('serve: stop strings, echo and token-id prompts', async () => {
  const greedy = greedyText('the bank', 20);
  const cut = greedy.text.slice(3, 6);
  assert.ok(cut.length === 3 && !greedy.text.slice(0, 3).includes(cut));
  const stopped = await call('/v1/completions', { model: 'tiny-serve', prompt: 'the bank', max_tokens: 20, temperature: 0, stop: ['zzz-never', cut] });
  assert.equal(stopped.json.choices[0].text, greedy.text.slice(0, greedy.text.indexOf(cut)));
  assert.equal(stopped.json.choices[0].finish_reason, 'stop');

  const echoed = await call('/v1/completions', { model: 'tiny-serve', prompt: 'the bank', max_tokens: 20, temperature: 0, echo: true });
  assert.equal(echoed.json.choices[0].text, 'the bank' + greedy.text);

  const ids = [fx.tokenizer.special.bos, ...fx.tokenizer.encode('the bank')];
  const byIds = await call('/v1/completions', { model: 'tiny-serve', prompt: ids, max_tokens: 20, temperature: 0 });
  assert.equal(byIds.json.choices[0].text, greedy.text);
  // The separator's text in a prompt is the separator token, not its characters.
  const sepText = await call('/v1/completions', { model: 'tiny-serve', prompt: 'the bank<|sep|>', max_tokens: 8, temperature: 0 });
  const sepIds = await call('/v1/completions', { model: 'tiny-serve', prompt: [[...ids, fx.tokenizer.special.sep]], max_tokens: 8, temperature: 0 });
  assert.equal(sepText.json.choices[0].text, sepIds.json.choices[0].text);
  assert.equal(sepText.json.usage.prompt_tokens, ids.length + 1);
});

test('serve: concurrent requests are batched, all complete, and each gives what it gives alone', async () => {
  const bodies = Array.from({ length: 6 }, (_, i) => ({ model: 'tiny-serve', prompt: `the match ${i}`, max_tokens: 20 + 5 * i, temperature: 1, seed: 500 + i, ignore_eos: true }));
  const before = server.metrics();
  const together = await Promise.all(bodies.map((b) => call('/v1/completions', b)));
  const m = server.metrics();
  for (const [i, r] of together.entries()) {
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.usage.completion_tokens, bodies[i]!.max_tokens, 'ignore_eos: every request runs to max_tokens');
    assert.equal(r.json.choices[0].finish_reason, 'length');
  }
  const sizes = Object.keys(m.batchSizes).map(Number);
  assert.ok(m.maxBatchSize >= 2, `requests shared decode steps (batch sizes seen: ${JSON.stringify(m.batchSizes)})`);
  assert.ok(Math.max(...sizes) <= MAX_BATCH, 'never more than --max-batch sequences in a step');
  assert.equal(m.generatedTokens - before.generatedTokens, bodies.reduce((a, b) => a + b.max_tokens, 0));
  assert.ok(m.steps - before.steps < bodies.reduce((a, b) => a + b.max_tokens, 0), 'fewer steps than tokens: batching happened');
  for (const [i, b] of bodies.entries()) {
    const alone = await call('/v1/completions', b);
    assert.equal(alone.json.choices[0].text, together[i]!.json.choices[0].text, `request ${i}`);
  }
});

test('serve: the event loop answers /health while a long generation runs', async () => {
  const t0 = performance.now();
  let doneAt = Infinity;
  // Four choices of 120 tokens: a generation long enough that a blocked event loop would show.
  const long = call('/v1/completions', { model: 'tiny-serve', prompt: 'the', n: MAX_BATCH, max_tokens: 120, temperature: 1, seed: 1, ignore_eos: true, stream: true }).then((r) => {
    doneAt = performance.now();
    return r;
  });
  const answers: Array<{ at: number; latency: number; running: number }> = [];
  while (doneAt === Infinity && answers.length < 1000) {
    const s = performance.now();
    const h = await call('/health');
    assert.equal(h.status, 200);
    answers.push({ at: performance.now(), latency: performance.now() - s, running: h.json.running });
  }
  const r = await long;
  assert.deepEqual(streamedChoices(sseEvents(r.text)).map((c) => c.finish), Array(MAX_BATCH).fill('length'));
  const during = answers.filter((a) => a.at < doneAt && a.running >= 1);
  assert.ok(during.length >= 3, `/health answered ${during.length} times while tokens were being generated`);
  const total = doneAt - t0;
  const slowest = Math.max(...during.map((a) => a.latency));
  assert.ok(slowest < total / 2, `/health took at most ${slowest.toFixed(1)} ms during a ${total.toFixed(0)} ms generation`);
});

test('serve: bad requests get OpenAI-style errors naming the field', async () => {
  const ok = { model: 'tiny-serve', prompt: 'the bank', max_tokens: 4 };
  const cases: Array<{ name: string; path?: string; body?: unknown; raw?: string; status: number; param: string | null; code?: string; message?: RegExp }> = [
    { name: 'bad JSON', raw: '{"model": "tiny-serve", "prompt": ', status: 400, param: null, code: 'invalid_json' },
    { name: 'not an object', body: ['a'], status: 400, param: null },
    { name: 'unknown model', body: { ...ok, model: 'gpt-4' }, status: 404, param: 'model', code: 'model_not_found' },
    { name: 'missing model', body: { prompt: 'x' }, status: 400, param: 'model' },
    { name: 'prompt type', body: { ...ok, prompt: 5 }, status: 400, param: 'prompt', code: 'invalid_type' },
    { name: 'token id out of range', body: { ...ok, prompt: [1, 99999] }, status: 400, param: 'prompt' },
    { name: 'max_tokens type', body: { ...ok, max_tokens: '5' }, status: 400, param: 'max_tokens', code: 'invalid_type' },
    { name: 'max_tokens zero', body: { ...ok, max_tokens: 0 }, status: 400, param: 'max_tokens' },
    { name: 'temperature negative', body: { ...ok, temperature: -1 }, status: 400, param: 'temperature' },
    { name: 'top_p zero', body: { ...ok, top_p: 0 }, status: 400, param: 'top_p' },
    { name: 'n fractional', body: { ...ok, n: 1.5 }, status: 400, param: 'n' },
    { name: 'stop type', body: { ...ok, stop: [1] }, status: 400, param: 'stop' },
    { name: 'stream type', body: { ...ok, stream: 'yes' }, status: 400, param: 'stream' },
    { name: 'stream_options without stream', body: { ...ok, stream_options: { include_usage: true } }, status: 400, param: 'stream_options' },
    { name: 'logprobs too large', body: { ...ok, logprobs: 6 }, status: 400, param: 'logprobs', code: 'invalid_value', message: /\[0, 5\]/ },
    { name: 'penalty', body: { ...ok, presence_penalty: 0.5 }, status: 400, param: 'presence_penalty', code: 'unsupported_parameter' },
    { name: 'unknown field', body: { ...ok, frobnicate: 1 }, status: 400, param: 'frobnicate', code: 'unsupported_parameter' },
    { name: 'context too long', body: { ...ok, max_tokens: 500 }, status: 400, param: 'max_tokens', code: 'context_length_exceeded', message: /maximum context length is 128 tokens/ },
    { name: 'prompt too long', body: { ...ok, prompt: 'bank '.repeat(300), max_tokens: undefined }, status: 400, param: 'prompt', code: 'context_length_exceeded', message: /128/ },
    { name: 'embeddings: input type', path: '/v1/embeddings', body: { model: 'tiny-serve', input: { a: 1 } }, status: 400, param: 'input' },
    { name: 'embeddings: dimensions', path: '/v1/embeddings', body: { model: 'tiny-serve', input: 'a', dimensions: 8 }, status: 400, param: 'dimensions' },
    { name: 'embeddings: encoding', path: '/v1/embeddings', body: { model: 'tiny-serve', input: 'a', encoding_format: 'int8' }, status: 400, param: 'encoding_format' },
    { name: 'embeddings: unknown model', path: '/v1/embeddings', body: { model: 'x', input: 'a' }, status: 404, param: 'model', code: 'model_not_found' },
    { name: 'unknown route', path: '/v1/chat/completions', body: {}, status: 404, param: null, code: 'not_found' },
  ];
  for (const c of cases) {
    const r = await call(c.path ?? '/v1/completions', c.body, c.raw);
    assert.equal(r.status, c.status, `${c.name}: ${r.text}`);
    const e = r.json?.error;
    assert.ok(e && typeof e.message === 'string' && e.message.length > 0, `${c.name}: error.message`);
    assert.deepEqual(Object.keys(e).sort(), ['code', 'message', 'param', 'type'], c.name);
    assert.equal(e.type, c.status === 404 || c.status === 400 ? 'invalid_request_error' : e.type, c.name);
    assert.equal(e.param, c.param, c.name);
    if (c.code) assert.equal(e.code, c.code, c.name);
    if (c.message) assert.match(e.message, c.message, c.name);
  }
  const wrongMethod = await fetch(server.url + '/v1/completions');
  assert.equal(wrongMethod.status, 405);
  assert.equal((await call('/health')).status, 200, 'the server still serves after bad requests');
});

test('serve: /v1/embeddings equals the lm embedder on the same tokens (float and base64, text and ids)', async () => {
  const texts = ['the bank rates and the bond market', 'goal', 'photosynthesis of the leaf in sunlight '.repeat(12), ''];
  const r = await call('/v1/embeddings', { model: 'tiny-serve', input: texts });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.object, 'list');
  const C = fx.model.config.hiddenSize;
  const lm = new LmEmbedder(fx.model);
  const tokens = texts.map((t) => Int32Array.from(fx.tokenizer.encode(t)).subarray(0, lm.maxDocTokens));
  const want = await lm.embedTokens(tokens);
  normalizeRows(want, C);
  const got = Float32Array.from(r.json.data.flatMap((d: any) => d.embedding));
  assert.deepEqual(r.json.data.map((d: any) => [d.object, d.index, d.embedding.length]), texts.map((_, i) => ['embedding', i, C]));
  let maxDiff = 0;
  for (let i = 0; i < want.length; i++) maxDiff = Math.max(maxDiff, Math.abs(want[i]! - got[i]!));
  assert.ok(maxDiff < 1e-6, `max difference ${maxDiff}`);
  assert.ok(got.subarray(3 * C).every((v) => v === 0), 'an empty text embeds to the zero vector, as in the lm embedder');
  assert.equal(r.json.usage.prompt_tokens, tokens.reduce((a, t) => a + t.length, 0));

  const b64 = await call('/v1/embeddings', { model: 'tiny-serve', input: texts[0], encoding_format: 'base64' });
  const buf = Buffer.from(b64.json.data[0].embedding, 'base64');
  assert.deepEqual([...new Float32Array(buf.buffer, buf.byteOffset, C)], [...got.subarray(0, C)]);
  const byIds = await call('/v1/embeddings', { model: 'tiny-serve', input: [Array.from(tokens[0]!)] });
  assert.deepEqual(byIds.json.data[0].embedding, r.json.data[0].embedding);
});

test('serve: a full queue answers 429 (retryable); a request that could never fit answers 400', async () => {
  const small = await startServer({ modelDir: fx.dir, port: 0, backend: 'ref', maxBatch: 1, maxQueue: 1 });
  try {
    const post = (body: unknown) => fetch(`${small.url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const tooMany = await post({ model: 'tiny-serve', prompt: ['a', 'b'], n: 2, max_tokens: 2 });
    assert.equal(tooMany.status, 400);
    assert.equal(((await tooMany.json()) as any).error.code, 'too_many_sequences');
    const long = { model: 'tiny-serve', prompt: 'the', max_tokens: 100, ignore_eos: true, seed: 1 };
    const a = post(long);
    const b = post(long);
    for (let i = 0; i < 2000; i++) {
      const h = (await (await fetch(`${small.url}/health`)).json()) as any;
      if (h.running + h.queued === 2) break;
      await new Promise((r) => setTimeout(r, 5));
    }
    const c = await post({ ...long, max_tokens: 1 });
    assert.equal(c.status, 429);
    assert.equal(((await c.json()) as any).error.type, 'rate_limit_error');
    assert.deepEqual([(await a).status, (await b).status], [200, 200]);
    assert.equal((await post({ ...long, max_tokens: 1 })).status, 200, 'room again once the queue drained');
  } finally {
    await small.close({ graceMs: 1000 });
  }
});

test('serve: a client that goes away cancels its sequences', async () => {
  const before = server.metrics();
  const abort = new AbortController();
  const res = await fetch(`${server.url}/v1/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'tiny-serve', prompt: 'the', n: 2, max_tokens: 120, ignore_eos: true, stream: true, seed: 5 }),
    signal: abort.signal,
  });
  const reader = res.body!.getReader();
  await reader.read(); // the first chunk: generation is under way
  abort.abort();
  let h: any;
  for (let i = 0; i < 2000; i++) {
    h = (await call('/health')).json;
    if (h.running === 0 && h.queued === 0 && server.metrics().inFlight <= 1) break;
    await new Promise((r) => setTimeout(r, 5));
  }
  assert.deepEqual([h.running, h.queued], [0, 0], 'the worker dropped both sequences');
  const drawn = server.metrics().generatedTokens - before.generatedTokens;
  assert.ok(drawn < 2 * 120, `${drawn} tokens drawn of the 240 asked for`);
});
