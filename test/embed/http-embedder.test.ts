import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HttpEmbedder, HTTP_DEFAULTS, type HttpEmbedderOptions } from '../../src/embed/http-embedder.js';
import { UserError } from '../../src/common/errors.js';
import { closedPort, serverVector, startEmbeddingServer, SERVER_DIM, type Fault } from './embedding-server.js';

const inputs = (texts: string[]) => texts.map((text) => ({ text, tokens: new Int32Array(0) }));
const TEXTS = Array.from({ length: 10 }, (_, i) => `document number ${i} ${'x'.repeat(i)}`);

function options(url: string, over: Partial<HttpEmbedderOptions> = {}): HttpEmbedderOptions & { waits: number[] } {
  const waits: number[] = [];
  return {
    ...HTTP_DEFAULTS,
    baseUrl: url,
    batchSize: 4,
    concurrency: 2,
    maxRetries: 3,
    backoffMs: 100,
    maxBackoffMs: 250,
    timeoutMs: 2000,
    random: () => 1, // the top of each jitter window, so waits are predictable
    sleep: async (ms) => void waits.push(ms),
    waits,
    ...over,
  };
}

function expected(texts: string[]): Float32Array {
  return Float32Array.from(texts.flatMap(serverVector));
}

test('http: batches of batchSize, results in input order, dimension learned from a probe', async () => {
  const server = await startEmbeddingServer({ fault: (n) => (n === 2 ? 'shuffled' : 'ok') });
  try {
    const e = await HttpEmbedder.connect(options(server.url));
    assert.equal(e.dim, SERVER_DIM);
    let progressed = 0;
    const rows = await e.embed(inputs(TEXTS), (n) => (progressed += n));
    assert.deepEqual([...rows], [...expected(TEXTS)]);
    assert.equal(progressed, TEXTS.length);
    const sizes = server.requests.slice(1).map((r) => r.length).sort();
    assert.deepEqual(sizes, [2, 4, 4]); // after the one-text probe
    assert.deepEqual(server.requests.slice(1).flat().sort(), [...TEXTS].sort());
  } finally {
    await server.close();
  }
});

test('http: at most `concurrency` requests in flight', async () => {
  const server = await startEmbeddingServer({ delayMs: 40 });
  try {
    const e = await HttpEmbedder.connect(options(server.url, { batchSize: 1, concurrency: 3 }));
    await e.embed(inputs(TEXTS));
    assert.equal(server.maxInFlight, 3);
  } finally {
    await server.close();
  }
});

/** Scripted failures on the first request after the probe; each is retried until the answer is good. */
const RETRIED: Array<[string, Fault[], number]> = [
  ['503 twice', ['503', '503'], 2],
  ['429', ['429'], 1],
  ['a hung request (timeout)', ['hang'], 1],
  ['a dropped connection', ['drop'], 1],
  ['a body that is not JSON', ['bad-json'], 1],
  ['fewer embeddings than inputs', ['short'], 1],
];
for (const [name, faults, retries] of RETRIED) {
  test(`http: retries after ${name}, with exponential backoff`, async () => {
    const server = await startEmbeddingServer({ fault: (n) => faults[n - 1] ?? 'ok' });
    try {
      const o = options(server.url, { batchSize: 10, timeoutMs: 300 });
      const e = await HttpEmbedder.connect(o);
      const rows = await e.embed(inputs(TEXTS));
      assert.deepEqual([...rows], [...expected(TEXTS)]);
      assert.equal(e.counters.retries, retries);
      assert.deepEqual(o.waits, [100, 200].slice(0, retries)); // base · 2^(attempt-1), capped at 250
    } finally {
      await server.close();
    }
  });
}

test('http: Retry-After from the server sets the wait; backoff is capped; jitter stays inside the window', async () => {
  const server = await startEmbeddingServer({ fault: (n) => (n === 1 ? '503' : 'ok'), retryAfterSec: 0.05 });
  try {
    const o = options(server.url, { batchSize: 10 });
    const e = await HttpEmbedder.connect(o);
    await e.embed(inputs(TEXTS));
    assert.deepEqual(o.waits, [50]);
  } finally {
    await server.close();
  }
  const always = await startEmbeddingServer({ fault: (n) => (n === 0 ? 'ok' : '503') });
  try {
    let r = 0;
    const draws = [0.5, 0.25, 0.9, 0.1, 0.7, 0.3];
    const o = options(always.url, { batchSize: 10, maxRetries: 5, random: () => draws[r++]! });
    const e = await HttpEmbedder.connect(o);
    await assert.rejects(e.embed(inputs(TEXTS)), (err: unknown) => {
      assert.ok(err instanceof UserError);
      assert.match(err.message, new RegExp(`${always.url}/embeddings: HTTP 503 overloaded, try later — gave up after 6 attempts`));
      assert.match(err.message, /rerun `sbp embed` to resume/);
      return true;
    });
    // windows 100, 200, 250 (cap), 250, 250 scaled by the draws
    assert.deepEqual(o.waits, [50, 50, 225, 25, 175]);
    assert.equal(always.requests.length, 1 + 6);
  } finally {
    await always.close();
  }
});

test('http: an unreachable server is a clear error naming the URL and what to do', async () => {
  const port = await closedPort();
  const url = `http://127.0.0.1:${port}/v1`;
  const o = options(url, { maxRetries: 2 });
  await assert.rejects(HttpEmbedder.connect(o), (err: unknown) => {
    assert.ok(err instanceof UserError);
    assert.match(err.message, new RegExp(`^${url}/embeddings: cannot connect \\(ECONNREFUSED\\) — gave up after 3 attempts`));
    assert.match(err.message, /embedding server is running .*embed\.http\.baseUrl/);
    return true;
  });
  assert.equal(o.waits.length, 2);
});

const FATAL: Array<[string, Partial<HttpEmbedderOptions>, Fault, RegExp]> = [
  ['401 names the key variable', { apiKeyEnv: 'MY_EMBED_KEY' }, '401', /HTTP 401 .*scripted 401.* set the API key in \$MY_EMBED_KEY/],
  ['400 suggests smaller batches', {}, '400', /HTTP 400 .* lower embed\.http\.batchSize/],
];
for (const [name, over, fault, re] of FATAL) {
  test(`http: no retry on ${name}`, async () => {
    const server = await startEmbeddingServer({ fault: (n) => (n === 0 ? 'ok' : fault) });
    try {
      const o = options(server.url, over);
      const e = await HttpEmbedder.connect(o);
      await assert.rejects(e.embed(inputs(TEXTS)), (err: unknown) => err instanceof UserError && re.test(err.message) && err.message.includes(server.url));
      assert.equal(o.waits.length, 0);
    } finally {
      await server.close();
    }
  });
}

test('http: the API key is sent as a bearer token; a wrong base URL is a 404 with a hint', async () => {
  const server = await startEmbeddingServer({ apiKey: 'sekret' });
  try {
    const e = await HttpEmbedder.connect(options(server.url, { apiKey: 'sekret' }));
    assert.equal((await e.embed(inputs(['a']))).length, SERVER_DIM);
    await assert.rejects(HttpEmbedder.connect(options(server.url.replace(/\/v1$/, ''), { apiKey: 'sekret' })), /HTTP 404 .*often …\/v1/);
    await assert.rejects(HttpEmbedder.connect(options(server.url, { dimensions: 4, apiKey: 'sekret' })), /asked for dimensions=4 but the server returned 8-dimensional/);
  } finally {
    await server.close();
  }
});
