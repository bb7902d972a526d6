import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { isLoopbackHost, metricsRoute } from '../../src/serve/request-guard.js';
import { startServer, type SbpServer } from '../../src/serve/server.js';
import { repoRoot } from '../helpers.js';
import { fetchJson, serveFixture, type ServeFixture } from './fixture.js';

const KEY = 'sk-test-0123456789';
let fx: ServeFixture;
let server: SbpServer;

before(async () => {
  fx = await serveFixture();
  server = await startServer({ modelDir: fx.dir, port: 0, backend: 'ref', maxBatch: 2, apiKey: KEY });
});
after(async () => {
  await server.close({ graceMs: 1000 });
});

async function post(path: string, body: string, headers: Record<string, string>): Promise<{ status: number; json: any }> {
  const res = await fetch(server.url + path, { method: 'POST', body, headers, signal: AbortSignal.timeout(60_000) });
  return { status: res.status, json: await res.json() };
}
const auth = { authorization: `Bearer ${KEY}` };

test('--api-key: a missing or wrong bearer key is an OpenAI-style 401; /health stays open; the right key works', async () => {
  const none = await fetchJson(`${server.url}/v1/models`);
  assert.equal(none.status, 401);
  assert.deepEqual(Object.keys(none.json.error).sort(), ['code', 'message', 'param', 'type']);
  assert.equal(none.json.error.code, 'invalid_api_key');
  assert.equal(none.json.error.type, 'invalid_request_error');
  assert.match(none.json.error.message, /You didn't provide an API key/);
  const wrong = await fetch(`${server.url}/metrics`, { headers: { authorization: 'Bearer sk-wrong' } });
  assert.equal(wrong.status, 401);
  assert.equal(((await wrong.json()) as any).error.code, 'invalid_api_key');
  assert.equal((await fetchJson(`${server.url}/health`)).status, 200);
  const ok = await fetch(`${server.url}/v1/models`, { headers: auth });
  assert.equal(ok.status, 200);
});

test('every error answer has a code (no code: null), a non-JSON content type is a 415', async () => {
  const cases: Array<[string, string, string]> = [
    ['/v1/completions', JSON.stringify({ model: 'tiny-serve', prompt: 'a', top_p: 0 }), 'invalid_value'],
    ['/v1/completions', JSON.stringify({ model: 'tiny-serve', prompt: [[1, 99999]] }), 'invalid_token_id'],
    ['/v1/completions', JSON.stringify({ model: 'tiny-serve', prompt: [] }), 'invalid_value'],
    ['/v1/completions', JSON.stringify({ model: 'tiny-serve', prompt: 'a', stop: Array.from({ length: 17 }, (_, i) => `s${i}`) }), 'too_many_values'],
    ['/v1/completions', '[1, 2]', 'invalid_type'],
    ['/v1/completions', JSON.stringify({ model: 'tiny-serve', prompt: [[]] }), 'invalid_value'],
    ['/v1/embeddings', JSON.stringify({ model: 'tiny-serve', input: Array.from({ length: 5000 }, () => 'x') }), 'too_many_values'],
    ['/v1/embeddings', JSON.stringify({ model: 'tiny-serve', input: [[99999]] }), 'invalid_token_id'],
  ];
  for (const [path, body, code] of cases) {
    const r = await post(path, body, { ...auth, 'content-type': 'application/json' });
    assert.equal(r.status, 400, body.slice(0, 60));
    assert.equal(r.json.error.code, code, `${body.slice(0, 60)}: ${r.json.error.message}`);
  }
  const form = await post('/v1/completions', 'model=tiny-serve&prompt=a', { ...auth, 'content-type': 'application/x-www-form-urlencoded' });
  assert.equal(form.status, 415);
  assert.equal(form.json.error.code, 'unsupported_media_type');
  assert.match(form.json.error.message, /Content-Type "application\/x-www-form-urlencoded" is not supported; send the request body as JSON/);
  const charset = await post('/v1/completions', JSON.stringify({ model: 'tiny-serve', prompt: 'a', max_tokens: 1 }), { ...auth, 'content-type': 'application/json; charset=utf-8' });
  assert.equal(charset.status, 200);
});

test('/metrics keys unknown paths as one bucket, so random paths cannot grow it', async () => {
  await fetch(`${server.url}/v1/models/tiny-serve`, { headers: auth });
  await fetch(`${server.url}/nothing-here`, { headers: auth });
  const before = Object.keys(server.metrics().requests).length;
  for (let i = 0; i < 20; i++) assert.equal((await fetch(`${server.url}/random-${i}-${Math.random()}`, { headers: auth })).status, 404);
  const keys = Object.keys(server.metrics().requests);
  assert.equal(keys.length, before, keys.join(', '));
  assert.ok(server.metrics().requests.other! >= 20);
  assert.ok(keys.includes('GET /v1/models/{id}'));
  assert.equal(metricsRoute('GET', '/x/../../etc'), 'other');
});

test('sbp serve --host 0.0.0.0 without a key warns that the API has no authentication', async () => {
  assert.equal(isLoopbackHost('127.0.0.1'), true);
  assert.equal(isLoopbackHost('::1'), true);
  assert.equal(isLoopbackHost('0.0.0.0'), false);
  assert.equal(isLoopbackHost('192.168.1.4'), false);
  const child = spawn(process.execPath, [join(repoRoot, 'bin/sbp.js'), 'serve', '--model', fx.dir, '--host', '0.0.0.0', '--port', '0', '--backend', 'ref', '--threads', '1', '--quiet'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, SBP_API_KEY: '' } });
  let err = '';
  const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  await new Promise<void>((resolve) => {
    child.stderr.on('data', (c: Buffer) => {
      err += c.toString();
      if (/listening on/.test(err)) resolve();
    });
    child.on('exit', () => resolve());
  });
  child.kill('SIGKILL');
  clearTimeout(killer);
  assert.match(err, /sbp serve: warning: listening on 0\.0\.0\.0, reachable from other machines, and the API has no authentication; set --api-key \(or SBP_API_KEY\) or use --host 127\.0\.0\.1/);
});
