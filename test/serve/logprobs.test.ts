import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { completionJson } from '../../src/serve/completion-logprobs.js';
import { startServer, type SbpServer } from '../../src/serve/server.js';
import { fetchJson, serveFixture, type ServeFixture } from './fixture.js';

let fx: ServeFixture;
let server: SbpServer;
let V: number;
let bos: number;
const idOf = new Map<string, number>();
const MAX_BATCH = 4;
const TOL = 1e-4; // f32 logits from the server's pass vs the test's own pass

before(async () => {
  fx = await serveFixture();
  server = await startServer({ modelDir: fx.dir, port: 0, backend: 'ref', maxBatch: MAX_BATCH });
  V = fx.model.config.vocabSize;
  bos = fx.tokenizer.special.bos;
  for (let id = 0; id < V; id++) idOf.set(textOf(id), id);
});
after(async () => {
  await server.close({ graceMs: 1000 });
});

/** The text a token is listed under: its bytes as UTF-8, or `bytes:\xNN…` when they are not. */
function textOf(id: number): string {
  const bytes = fx.tokenizer.bytesOf(id);
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    return 'bytes:' + [...bytes].map((b) => '\\x' + b.toString(16).padStart(2, '0')).join('');
  }
}

function complete(body: Record<string, unknown>): Promise<{ status: number; json: any; text: string }> {
  return fetchJson(server.url + '/v1/completions', { model: 'tiny-serve', ...body }, { timeoutMs: 120_000 });
}

/** The oracle: log-softmax of every position's logits from one full forward pass of the test's own model, (T) rows of (V). */
function logSoftmaxRows(ids: number[], temperature = 1): Float64Array[] {
  const logits = fx.model.logits(Int32Array.from(ids), 1, ids.length);
  return ids.map((_, t) => {
    const row = Float64Array.from(logits.subarray(t * V, (t + 1) * V), (x) => x / temperature);
    const max = Math.max(...row);
    const lse = max + Math.log(row.reduce((a, x) => a + Math.exp(x - max), 0));
    return row.map((x) => x - lse);
  });
}

/** Ids of a row's n largest values, largest first. */
function topIds(row: Float64Array, n: number): number[] {
  return [...row.keys()].sort((a, b) => row[b]! - row[a]! || a - b).slice(0, n);
}

/** Values of every `top_logprobs` object in the order they appear on the wire (JSON.parse would move integer-like keys first). */
function wireTopValues(raw: string): number[][] {
  const lists = [...raw.matchAll(/"top_logprobs":\[(.*?)\],"text_offset"/g)].map((m) => m[1]!).join(',');
  const objects = lists.match(/\{(?:"(?:[^"\\]|\\.)*":-?[\d.e+-]+,?)+\}/g) ?? [];
  return objects.map((o) => [...o.matchAll(/":(-?[\d.e+-]+)/g)].map((m) => Number(m[1])));
}

function checkShape(lp: any, n: number): void {
  assert.deepEqual(Object.keys(lp).sort(), ['text_offset', 'token_logprobs', 'tokens', 'top_logprobs']);
  for (const k of ['tokens', 'token_logprobs', 'top_logprobs', 'text_offset']) assert.equal(lp[k].length, n, `${k} has one entry per token`);
}

test('logprobs: each drawn token gets its log-probability under the model (before temperature and top-p) and the N most likely, sorted', async () => {
  const prompt = 'the bank rates';
  const r = await complete({ prompt, max_tokens: 16, temperature: 0.7, top_p: 0.8, seed: 3, logprobs: 3, ignore_eos: true });
  assert.equal(r.status, 200, r.text);
  const c = r.json.choices[0];
  const lp = c.logprobs;
  checkShape(lp, 16);
  assert.equal(r.json.usage.completion_tokens, 16);
  const promptIds = [bos, ...fx.tokenizer.encode(prompt)];
  const drawn = lp.tokens.map((t: string) => idOf.get(t)!);
  assert.equal(c.text, fx.tokenizer.decode(drawn), 'the listed tokens are the drawn ones');
  const rows = logSoftmaxRows([...promptIds, ...drawn]);
  const tempered = logSoftmaxRows([...promptIds, ...drawn], 0.7);
  let maxDiff = 0;
  let temperedDiff = 0;
  let inTop = 0;
  drawn.forEach((tok: number, i: number) => {
    const row = rows[promptIds.length - 1 + i]!;
    maxDiff = Math.max(maxDiff, Math.abs(lp.token_logprobs[i] - row[tok]!));
    temperedDiff = Math.max(temperedDiff, Math.abs(lp.token_logprobs[i] - tempered[promptIds.length - 1 + i]![tok]!));
    const want = topIds(row, 3);
    const top = lp.top_logprobs[i];
    assert.deepEqual(Object.keys(top).sort(), want.map(textOf).sort(), `position ${i}: the 3 most likely tokens`);
    for (const id of want) assert.ok(Math.abs(top[textOf(id)] - row[id]!) < TOL, `position ${i}: top value of ${id}`);
    if (want.includes(tok)) {
      inTop++;
      assert.equal(top[textOf(tok)], lp.token_logprobs[i], `position ${i}: the chosen token is among the top with the same value`);
    }
  });
  assert.ok(maxDiff < TOL, `max difference from a direct forward pass: ${maxDiff}`);
  assert.ok(temperedDiff > 10 * TOL, `the values are not the tempered distribution's (max difference ${temperedDiff})`);
  assert.ok(inTop > 0, 'some drawn tokens are among the top 3');
  const wire = wireTopValues(r.text);
  assert.equal(wire.length, 16);
  for (const values of wire) assert.deepEqual(values, [...values].sort((a, b) => b - a), 'each top_logprobs object is sorted on the wire');
  // Offsets count the characters completed before a token (a token may end inside a character).
  const decoder = new TextDecoder('utf-8', { ignoreBOM: true });
  let offset = 0;
  drawn.forEach((tok: number, i: number) => {
    assert.equal(lp.text_offset[i], offset, `text_offset[${i}]`);
    offset += [...decoder.decode(fx.tokenizer.bytesOf(tok), { stream: true })].length;
  });
  assert.equal(offset + [...decoder.decode()].length, [...c.text].length);
});

test('logprobs: echo with max_tokens 0 scores the prompt (text and token-id prompts); logprobs 0 lists no alternatives', async () => {
  const a = [bos, ...fx.tokenizer.encode('the bank rates and')];
  const b = [...fx.tokenizer.encode('goal of the match')]; // no bos, as lm-evaluation-harness sends ids
  const one = [bos];
  const r = await complete({ prompt: [a, b, one], max_tokens: 0, echo: true, logprobs: 2 });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.usage.completion_tokens, 0);
  assert.equal(r.json.usage.prompt_tokens, a.length + b.length + 1);
  [a, b, one].forEach((ids, k) => {
    const c = r.json.choices[k];
    assert.equal(c.index, k);
    assert.equal(c.finish_reason, 'length');
    assert.equal(c.text, fx.tokenizer.decode(ids), 'the text is the prompt');
    const lp = c.logprobs;
    checkShape(lp, ids.length);
    assert.deepEqual(lp.tokens, ids.map(textOf));
    assert.equal(lp.token_logprobs[0], null, 'nothing predicts the first token');
    assert.equal(lp.top_logprobs[0], null);
    const rows = logSoftmaxRows(ids);
    for (let t = 1; t < ids.length; t++) {
      assert.ok(Math.abs(lp.token_logprobs[t] - rows[t - 1]![ids[t]!]!) < TOL, `prompt ${k} token ${t}`);
      assert.deepEqual(Object.keys(lp.top_logprobs[t]).sort(), topIds(rows[t - 1]!, 2).map(textOf).sort());
    }
    assert.equal(lp.tokens.join(''), c.text, 'the fixture is ASCII: token texts spell the text');
    assert.deepEqual(lp.text_offset, lp.tokens.map((_: string, i: number) => lp.tokens.slice(0, i).join('').length));
  });

  // A text prompt: the bos put in front of it is scored but is not in the echoed text.
  const text = 'the leaf and the water';
  const t = await complete({ prompt: text, max_tokens: 0, echo: true, logprobs: 0 });
  const lp = t.json.choices[0].logprobs;
  const ids = [bos, ...fx.tokenizer.encode(text)];
  assert.equal(t.json.choices[0].text, text);
  assert.deepEqual(lp.tokens, ids.map(textOf));
  assert.deepEqual(lp.text_offset.slice(0, 3), [0, 0, lp.tokens[1].length]);
  const rows = logSoftmaxRows(ids);
  for (let i = 1; i < ids.length; i++) assert.ok(Math.abs(lp.token_logprobs[i] - rows[i - 1]![ids[i]!]!) < TOL);
  assert.ok(lp.top_logprobs.slice(1).every((x: object) => Object.keys(x).length === 0), 'logprobs 0: no alternatives');

  // Echo without logprobs and max_tokens 0: just the prompt.
  const plain = await complete({ prompt: text, max_tokens: 0, echo: true });
  assert.deepEqual([plain.json.choices[0].text, plain.json.choices[0].logprobs], [text, null]);
});

test("logprobs: lm-evaluation-harness's loglikelihood request (echo, max_tokens 1, logprobs 1) reads the continuation's log-likelihood and greediness", async () => {
  // What local-completions sends: token ids of context + continuation, one extra token, the top 1.
  const ctx = [bos, ...fx.tokenizer.encode('the bank rates')];
  const greedyCont: number[] = [];
  for (let i = 0; i < 4; i++) greedyCont.push(topIds(logSoftmaxRows([...ctx, ...greedyCont]).at(-1)!, 1)[0]!);
  const otherCont = [...fx.tokenizer.encode(' of the match')];
  const requests = [
    { ids: [...ctx, ...greedyCont], ctxlen: ctx.length },
    { ids: [...ctx, ...otherCont], ctxlen: ctx.length },
  ];
  const r = await complete({ prompt: requests.map((q) => q.ids), temperature: 0, max_tokens: 1, logprobs: 1, seed: 1234, echo: true });
  assert.equal(r.status, 200, r.text);
  const choices = [...r.json.choices].sort((x: any, y: any) => x.index - y.index);
  requests.forEach((q, k) => {
    const lp = choices[k].logprobs;
    assert.equal(lp.token_logprobs.length, q.ids.length + 1, 'the prompt and the one drawn token');
    // The harness's reading: sum of token_logprobs[ctxlen:-1]; greedy when each equals its top value.
    const cont = lp.token_logprobs.slice(q.ctxlen, -1);
    const ll = cont.reduce((s: number, x: number) => s + x, 0);
    const greedy = cont.every((x: number, i: number) => x === Math.max(...(Object.values(lp.top_logprobs[q.ctxlen + i]) as number[])));
    const rows = logSoftmaxRows(q.ids);
    let want = 0;
    let wantGreedy = true;
    for (let t = q.ctxlen; t < q.ids.length; t++) {
      want += rows[t - 1]![q.ids[t]!]!;
      wantGreedy &&= topIds(rows[t - 1]!, 1)[0] === q.ids[t];
    }
    assert.ok(Math.abs(ll - want) < 4 * TOL, `request ${k}: log-likelihood ${ll} vs ${want}`);
    assert.equal(greedy, wantGreedy, `request ${k}: is_greedy`);
    assert.equal(lp.tokens.at(-1), textOf(topIds(rows.at(-1)!, 1)[0]!), 'temperature 0 draws the most likely next token');
  });
  assert.deepEqual(
    requests.map((_, k) => choices[k].logprobs.token_logprobs.slice(requests[k]!.ctxlen, -1).length),
    [greedyCont.length, otherCont.length],
  );
  assert.ok(
    requests.map((q, k) => choices[k].logprobs.token_logprobs.slice(q.ctxlen, -1).every((x: number, i: number) => x === Math.max(...(Object.values(choices[k].logprobs.top_logprobs[q.ctxlen + i]) as number[])))).join() === 'true,false',
    'the greedy continuation reads as greedy, the other not',
  );
});

test('logprobs: streamed chunks carry their tokens, and together equal the non-streamed logprobs', async () => {
  for (const echo of [false, true]) {
    const body = { prompt: 'the leaf', n: 2, max_tokens: 10, temperature: 0.9, seed: 11, logprobs: 2, echo };
    const plain = await complete(body);
    assert.equal(plain.status, 200, plain.text);
    const streamed = await complete({ ...body, stream: true });
    const events = streamed.text
      .split('\n\n')
      .filter((e) => e !== '' && e !== 'data: [DONE]')
      .map((e) => JSON.parse(e.slice('data: '.length)));
    const joined = plain.json.choices.map(() => ({ text: '', tokens: [] as string[], token_logprobs: [] as any[], top_logprobs: [] as any[], text_offset: [] as number[] }));
    for (const e of events) {
      for (const c of e.choices) {
        const j = joined[c.index]!;
        assert.notEqual(c.logprobs, null, 'every chunk of a logprobs request carries a logprobs object');
        if (j.text === '' && echo) assert.equal(c.text, 'the leaf', 'the first chunk echoes the prompt with its scores');
        else assert.ok(c.logprobs.tokens.length <= 1, 'a generated chunk carries at most its one token');
        j.text += c.text;
        for (const k of ['tokens', 'token_logprobs', 'top_logprobs', 'text_offset'] as const) (j[k] as any[]).push(...c.logprobs[k]);
      }
    }
    plain.json.choices.forEach((c: any, i: number) => {
      const { text, ...lp } = joined[i]!;
      assert.equal(text, c.text, `echo ${echo}, choice ${i}: text`);
      assert.deepEqual(lp, c.logprobs, `echo ${echo}, choice ${i}: logprobs`);
    });
  }
});

test('logprobs: bad values get OpenAI-style errors naming the field', async () => {
  const ok = { prompt: 'the bank', max_tokens: 4 };
  const cases: Array<{ body: Record<string, unknown>; param: string; code: string }> = [
    { body: { ...ok, logprobs: 6 }, param: 'logprobs', code: 'invalid_value' },
    { body: { ...ok, logprobs: -1 }, param: 'logprobs', code: 'invalid_value' },
    { body: { ...ok, logprobs: 1.5 }, param: 'logprobs', code: 'invalid_type' },
    { body: { ...ok, logprobs: '2' }, param: 'logprobs', code: 'invalid_type' },
    { body: { ...ok, logprobs: true }, param: 'logprobs', code: 'invalid_type' },
    { body: { ...ok, echo: 'yes' }, param: 'echo', code: 'invalid_type' },
    { body: { ...ok, echo: 1 }, param: 'echo', code: 'invalid_type' },
    { body: { ...ok, max_tokens: 0 }, param: 'max_tokens', code: 'invalid_value' },
    { body: { ...ok, max_tokens: -1, echo: true }, param: 'max_tokens', code: 'invalid_value' },
  ];
  for (const c of cases) {
    const r = await complete(c.body);
    assert.equal(r.status, 400, `${JSON.stringify(c.body)}: ${r.text}`);
    assert.deepEqual(Object.keys(r.json.error).sort(), ['code', 'message', 'param', 'type']);
    assert.equal(r.json.error.type, 'invalid_request_error');
    assert.equal(r.json.error.param, c.param, JSON.stringify(c.body));
    assert.equal(r.json.error.code, c.code, JSON.stringify(c.body));
    assert.match(r.json.error.message, new RegExp(c.param));
  }
  for (const off of [null, false]) assert.equal((await complete({ ...ok, logprobs: off })).json.choices[0].logprobs, null, `logprobs ${off}: none`);
});

test('logprobs: concurrent requests with and without logprobs are batched and each gives what it gives alone', async () => {
  const ids = [bos, ...fx.tokenizer.encode('the match and')];
  const bodies: Array<Record<string, unknown>> = [
    { prompt: 'the match 1', max_tokens: 24, temperature: 1, seed: 1, ignore_eos: true },
    { prompt: 'the match 2', max_tokens: 20, temperature: 1, seed: 2, ignore_eos: true, logprobs: 2 },
    { prompt: [ids], max_tokens: 0, echo: true, logprobs: 1 },
    { prompt: [ids, ids.slice(0, -1)], max_tokens: 1, echo: true, logprobs: 1, temperature: 0 },
    { prompt: 'the match 3', max_tokens: 12, temperature: 0.8, seed: 3, echo: true, logprobs: 3, ignore_eos: true },
    { prompt: 'the match 4', max_tokens: 16, temperature: 1, seed: 4, ignore_eos: true },
  ];
  const before = server.metrics();
  const together = await Promise.all(bodies.map(complete));
  const m = server.metrics();
  for (const r of together) assert.equal(r.status, 200, r.text);
  assert.ok(m.maxBatchSize >= 2, `requests shared decode steps (batch sizes: ${JSON.stringify(m.batchSizes)})`);
  assert.equal(m.generatedTokens - before.generatedTokens, 24 + 20 + 0 + 2 + 12 + 16, 'tokens drawn: a scored prompt draws none');
  for (const [i, b] of bodies.entries()) {
    const alone = await complete(b);
    const strip = (j: any) => j.choices.map((c: any) => ({ ...c, logprobs: c.logprobs && { ...c.logprobs, token_logprobs: undefined, top_logprobs: undefined } }));
    assert.deepEqual(strip(alone.json), strip(together[i]!.json), `request ${i}: text, tokens and offsets`);
    const values = (j: any) => j.choices.flatMap((c: any) => (c.logprobs ? [...c.logprobs.token_logprobs, ...c.logprobs.top_logprobs.flatMap((t: any) => (t ? Object.values(t) : []))] : []));
    const va = values(alone.json);
    const vt = values(together[i]!.json);
    assert.equal(va.length, vt.length);
    va.forEach((x: number | null, k: number) => assert.ok(x === vt[k] || Math.abs(x! - vt[k]!) < 1e-6, `request ${i}: value ${k}`));
  }
});

test('completionJson keeps the order of a Map, integer-like keys included', () => {
  const body = { a: [new Map([['7', -0.5], ['x', -1], ['1', -2]]), null], b: 'q"' };
  assert.equal(completionJson(body), '{"a":[{"7":-0.5,"x":-1,"1":-2},null],"b":"q\\""}');
  assert.equal(JSON.stringify({ m: { 7: -0.5, x: -1, 1: -2 } }), '{"m":{"1":-2,"7":-0.5,"x":-1}}', 'what a plain object would have done');
});
