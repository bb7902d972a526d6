import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot, runCli } from '../helpers.js';
import { serveFixture } from './fixture.js';

/** Starts `sbp serve` on a free port; resolves with the base URL once it listens. */
function startCli(args: string[]): Promise<{ url: string; child: ReturnType<typeof spawn>; stderr: () => string; exited: Promise<number | null> }> {
  const child = spawn(process.execPath, [join(repoRoot, 'bin/sbp.js'), 'serve', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const killer = setTimeout(() => child.kill('SIGKILL'), 120_000); // never outlive the test
  void exited.then(() => clearTimeout(killer));
  return new Promise((resolve, reject) => {
    child.stderr!.on('data', (c: Buffer) => {
      err += c.toString();
      const m = /listening on (http:\/\/\S+)\/v1/.exec(err);
      if (m) resolve({ url: m[1]!, child, stderr: () => err, exited });
    });
    void exited.then((code) => reject(new Error(`sbp serve exited (${code}) before listening:\n${err}`)));
  });
}

test('sbp serve: serves a model folder under --model-name and drains a streaming request on SIGTERM', async () => {
  const fx = await serveFixture();
  const s = await startCli(['--model', fx.dir, '--model-name', 'tiny', '--port', '0', '--max-batch', '2', '--backend', 'ref', '--threads', '1']);
  try {
    assert.match(s.stderr(), /"tiny" \(ref backend, max batch 2, context 128\)/);
    const models = (await (await fetch(`${s.url}/v1/models`)).json()) as { data: Array<{ id: string }> };
    assert.deepEqual(models.data.map((m) => m.id), ['tiny']);

    const res = await fetch(`${s.url}/v1/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'tiny', prompt: 'the bank', max_tokens: 100, seed: 3, ignore_eos: true, stream: true }),
    });
    assert.equal(res.headers.get('content-type'), 'text/event-stream; charset=utf-8');
    const reader = res.body!.getReader();
    let body = '';
    const first = await reader.read();
    body += Buffer.from(first.value!).toString();
    s.child.kill('SIGTERM'); // mid-generation
    for (let r = await reader.read(); !r.done; r = await reader.read()) body += Buffer.from(r.value).toString();
    assert.ok(body.endsWith('data: [DONE]\n\n'), 'the request in flight ran to the end');
    const chunks = body.split('\n\n').filter((b) => b.startsWith('data: {')).map((b) => JSON.parse(b.slice(6)));
    assert.equal(chunks.at(-1).choices[0].finish_reason, 'length');
    assert.equal(await s.exited, 0);
    assert.match(s.stderr(), /SIGTERM: no new requests/);
    assert.match(s.stderr(), /stopped/);
    await assert.rejects(fetch(`${s.url}/health`), 'nothing listens after shutdown');
  } finally {
    s.child.kill('SIGKILL');
  }
});

test('sbp serve: user errors exit 2 with a message', () => {
  const missing = runCli(['serve', '--model', join(repoRoot, 'no-such-model-folder'), '--port', '0'], { timeoutMs: 60_000 });
  assert.equal(missing.status, 2, missing.stderr);
  // An absolute path is named as the folder it is, not as runs/default/models/<path>.
  assert.equal(missing.stderr, `sbp: --model: ${join(repoRoot, 'no-such-model-folder')} is not a folder; give the path of a model folder (holding config.json and model.safetensors), or the name of a model of this run\n`);
  const badPort = runCli(['serve', '--port', '70000'], { timeoutMs: 60_000 });
  assert.notEqual(badPort.status, 0);
  assert.match(badPort.stderr, /--port must be a whole number in \[0, 65535\]/);
});
