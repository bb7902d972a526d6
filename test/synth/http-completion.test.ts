import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UserError } from '../../src/common/errors.js';
import { HttpCompletionBackend, type HttpCompletionOptions } from '../../src/synth/http-completion-backend.js';
import { judgeNonFactual, parseVerdict } from '../../src/synth/llm-judge.js';
import type { SynthRequest } from '../../src/synth/completion-backend.js';
import { completionReply, scriptedServer, type Answer } from './completion-server.js';

const words = (t: string) => t.split(/\s+/).filter((w) => w.length > 0).length;

function options(baseUrl: string, over: Partial<HttpCompletionOptions> = {}): HttpCompletionOptions {
  return { baseUrl, model: 'synth', temperature: 1, topP: 0.9, topK: 0, concurrency: 3, maxRetries: 4, backoffMs: 5, maxBackoffMs: 20, timeoutMs: 2000, countTokens: words, ...over };
}

const requests: SynthRequest[] = Array.from({ length: 10 }, (_, i) => ({ prompt: Int32Array.from([1, 100 + i, 3]), maxTokens: 8 + i, seed: 1000 + i }));

test('http backend: token-id prompts, sampling fields and seeds sent; answers in request order; concurrency bounded', async () => {
  const server = await scriptedServer((_path, body) => ({
    status: 200,
    body: completionReply(`answer to ${(body.prompt as number[])[1]} with ${body.max_tokens} tokens`, (body.max_tokens as number) > 12 ? 'length' : 'stop'),
    delayMs: 30 - ((body.seed as number) % 10) * 3, // later requests finish first
  }));
  try {
    const be = new HttpCompletionBackend(options(server.baseUrl));
    let done = 0;
    const out = await be.complete(requests, 0, (n) => (done += n));
    assert.equal(done, 10);
    assert.deepEqual(
      out.map((c) => c.text),
      requests.map((r) => `answer to ${r.prompt[1]} with ${r.maxTokens} tokens`),
    );
    assert.deepEqual(out.map((c) => c.finishReason), requests.map((r) => (r.maxTokens > 12 ? 'length' : 'stop')));
    assert.deepEqual(out.map((c) => c.tokens), out.map((c) => words(c.text)));
    const b = server.bodies.find((x) => x.seed === 1004)!;
    assert.deepEqual(b, { model: 'synth', prompt: [1, 104, 3], max_tokens: 12, temperature: 1, top_p: 0.9, seed: 1004 });
    assert.ok(server.maxInFlight <= 3 && server.maxInFlight >= 2, `max in flight ${server.maxInFlight}`);
    assert.deepEqual(be.counters, { requests: 10, retries: 0 });
  } finally {
    await server.close();
  }
});

test('http backend: 500, 429 with Retry-After, dropped connections and bad JSON are retried', async () => {
  const script = ['drop', 500, 429, 'bad-json', 'no-choices'] as const;
  const server = await scriptedServer(
    (_path, body, attempt): Answer => {
      // Request i fails its first (i mod 3) attempts, each time in another way.
      const fails = (body.seed as number) % 3;
      if (attempt < fails) {
        const kind = script[((body.seed as number) + attempt) % script.length]!;
        if (kind === 'drop') return 'drop';
        if (kind === 'bad-json') return { status: 200, body: '{"choices": [' };
        if (kind === 'no-choices') return { status: 200, body: { choices: [] } };
        const headers: Record<string, string> = kind === 429 ? { 'retry-after': '0' } : {};
        return { status: kind, body: { error: { message: 'busy' } }, headers };
      }
      return { status: 200, body: completionReply(`ok ${body.seed}`, 'stop') };
    },
    (b) => String(b.seed),
  );
  try {
    const retries: string[] = [];
    const be = new HttpCompletionBackend(options(server.baseUrl, { onRetry: (r) => retries.push(r.why) }));
    const out = await be.complete(requests, 0);
    assert.deepEqual(out.map((c) => c.text), requests.map((r) => `ok ${r.seed}`));
    const expectedRetries = requests.reduce((s, r) => s + (r.seed % 3), 0);
    assert.equal(be.counters.retries, expectedRetries);
    assert.equal(be.counters.requests, 10 + expectedRetries);
    assert.ok(retries.some((w) => /HTTP 500: busy/.test(w)) && retries.some((w) => /HTTP 429/.test(w)) && retries.some((w) => /not JSON/.test(w)), retries.join(' | '));
  } finally {
    await server.close();
  }
});

test('http backend: a 4xx is a UserError with the server message, at once; exhausted retries name the setting', async () => {
  const server = await scriptedServer((_path, body) =>
    body.seed === 1 ? { status: 404, body: { error: { message: 'The model `synth` does not exist' } } } : { status: 503, body: 'overloaded' },
  );
  try {
    const be = new HttpCompletionBackend(options(server.baseUrl, { maxRetries: 2 }));
    await assert.rejects(be.complete([{ prompt: Int32Array.of(1), maxTokens: 4, seed: 1 }], 0), (err: unknown) => {
      assert.ok(err instanceof UserError);
      assert.match((err as Error).message, /refused a request: HTTP 404: The model `synth` does not exist/);
      return true;
    });
    assert.equal(be.counters.requests, 1);
    await assert.rejects(be.complete([{ prompt: Int32Array.of(1), maxTokens: 4, seed: 2 }], 0), /HTTP 503: overloaded; gave up after 3 attempts \(synthesize\.http\.maxRetries 2\)/);
  } finally {
    await server.close();
  }
  // Nobody listening: a refused connection is retried, then reported.
  const be = new HttpCompletionBackend(options(server.baseUrl, { maxRetries: 1 }));
  await assert.rejects(be.complete([{ prompt: Int32Array.of(1), maxTokens: 4, seed: 2 }], 0), /gave up after 2 attempts/);
});

test('LLM judge: YES/NO verdicts through /chat/completions, unparsable answers left out of the rate', async () => {
  const server = await scriptedServer((path, body) => {
    const doc = ((body.messages as Array<{ content: string }>)[1]!).content;
    const answer = doc.includes('cheese') ? 'YES' : doc.includes('shrug') ? 'maybe' : 'No.';
    return path === '/v1/chat/completions' ? { status: 200, body: { choices: [{ index: 0, message: { role: 'assistant', content: answer }, finish_reason: 'stop' }] } } : { status: 404, body: {} };
  });
  try {
    const texts = ['The moon is made of cheese.', 'Paris is in France.', 'Water boils at 100 C at sea level.', 'shrug', 'Cheese? The moon is cheese.'];
    const r = await judgeNonFactual(texts, { baseUrl: server.baseUrl, model: 'judge', concurrency: 2, maxRetries: 0, timeoutMs: 2000 });
    assert.deepEqual({ judged: r.judged, nonFactual: r.nonFactual, unparsed: r.unparsed, rate: r.rate }, { judged: 4, nonFactual: 2, unparsed: 1, rate: 0.5 });
    assert.equal(server.bodies[0]!.temperature, 0);
  } finally {
    await server.close();
  }
  assert.deepEqual(['YES', 'no.', 'Yes, it does', 'I think NO', 'unsure', 'yesterday'].map(parseVerdict), [true, false, true, false, null, null]);
});
