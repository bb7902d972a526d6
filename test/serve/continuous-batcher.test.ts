import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RefBackend } from '../../src/engine/ref-backend.js';
import { LlamaModel } from '../../src/model/llama.js';
import type { ModelConfig } from '../../src/model/types.js';
import { argmax } from '../../src/sample/logits-sampler.js';
import { generate } from '../../src/sample/sampler.js';
import { ContinuousBatcher, type FinishReason, type SequenceSpec } from '../../src/serve/continuous-batcher.js';

const CONFIG: ModelConfig = {
  vocabSize: 64,
  hiddenSize: 32,
  numLayers: 2,
  numHeads: 4,
  numKVHeads: 2,
  headDim: 8,
  intermediateSize: 48,
  maxSeqLen: 96,
  ropeTheta: 10_000,
  rmsNormEps: 1e-5,
  qkNorm: true,
  tieEmbeddings: false,
  bosTokenId: 1,
  eosTokenId: 2,
  padTokenId: 0,
};

/** A random model with peaked next-token distributions (weights ×8), so greedy choices are far from ties. */
function peakedModel(seed: number): LlamaModel {
  const model = new LlamaModel(CONFIG, new RefBackend(), { seed });
  for (const e of model.paramTable) {
    if (e.name.includes('norm')) continue;
    model.writeParam(e.name, model.readParam(e.name).map((w) => w * 8));
  }
  return model;
}

/** Each token "decodes" to its id and a comma, so the streamed text spells out the exact token ids. */
const idBytes = (t: number) => new TextEncoder().encode(`${t},`);
const idsOf = (text: string) => (text === '' ? [] : text.slice(0, -1).split(',').map(Number));

function prompt(len: number, salt: number): Int32Array {
  return Int32Array.from({ length: len }, (_, i) => (i === 0 ? CONFIG.bosTokenId : 3 + ((i * 7 + salt * 13) % 60)));
}

function spec(id: number, p: Int32Array, over: Partial<SequenceSpec> = {}): SequenceSpec {
  return { id, prompt: p, maxTokens: 12, sampling: { temperature: 1, topP: 0.9, topK: 0 }, seed: [99, id], stopTokens: [CONFIG.eosTokenId], stop: [], ...over };
}

interface Outcome {
  tokens: number[];
  reason: FinishReason;
  count: number;
}

/** Steps until idle, submitting `later[k]` before step k; returns each sequence's outcome and the batch sizes seen. */
function drive(b: ContinuousBatcher, now: SequenceSpec[], later: Record<number, SequenceSpec[]> = {}, onStep?: (k: number) => void): { out: Map<number, Outcome>; sizes: number[]; admitted: number[] } {
  const out = new Map<number, Outcome>();
  const text = new Map<number, string>();
  const sizes: number[] = [];
  const admitted: number[] = [];
  for (const s of now) b.submit(s);
  for (let k = 0; !b.idle || Object.keys(later).some((x) => Number(x) >= k); k++) {
    for (const s of later[k] ?? []) b.submit(s);
    onStep?.(k);
    if (b.idle) continue;
    const r = b.step();
    sizes.push(r.batchSize);
    admitted.push(r.admitted);
    for (const e of r.events) {
      text.set(e.id, (text.get(e.id) ?? '') + e.text);
      if (e.finishReason) out.set(e.id, { tokens: idsOf(text.get(e.id)!), reason: e.finishReason, count: e.tokens });
    }
    assert.ok(k < 10_000, 'the batcher must finish');
  }
  return { out, sizes, admitted };
}

test('batcher: temperature 0 equals the greedy continuation computed with full forward passes', () => {
  const model = peakedModel(3);
  const specs = [prompt(5, 1), prompt(9, 2), prompt(1, 3), prompt(17, 4), prompt(5, 5)].map((p, i) =>
    spec(i, p, { maxTokens: 6 + 3 * i, sampling: { temperature: 0, topP: 1, topK: 0 }, stopTokens: [] }),
  );
  const { out } = drive(new ContinuousBatcher(model, idBytes, 3), specs.slice(0, 3), { 2: specs.slice(3) });
  for (const s of specs) {
    const seq = Array.from(s.prompt);
    const want: number[] = [];
    while (want.length < s.maxTokens) {
      const logits = model.logits(Int32Array.from(seq), 1, seq.length); // (1, T, V)
      const tok = argmax(logits, (seq.length - 1) * CONFIG.vocabSize, CONFIG.vocabSize);
      want.push(tok);
      seq.push(tok);
    }
    assert.deepEqual(out.get(s.id)!.tokens, want, `sequence ${s.id}`);
    assert.equal(out.get(s.id)!.reason, 'length');
    assert.equal(out.get(s.id)!.count, s.maxTokens);
  }
});

test('batcher: a sampled sequence does not depend on its batch partners, arrival time or cache resizes', () => {
  const model = peakedModel(5);
  const specs = Array.from({ length: 9 }, (_, i) => spec(i, prompt(2 + ((i * 5) % 11), i % 4), { maxTokens: 3 + ((i * 7) % 17), stopTokens: [] }));
  // A late long one makes the cache grow from 64 to 96 positions while others are running.
  specs.push(spec(9, prompt(45, 2), { maxTokens: 30, stopTokens: [] }));
  const alone = new Map<number, Outcome>();
  for (const s of specs) alone.set(s.id, drive(new ContinuousBatcher(model, idBytes, 1), [s]).out.get(s.id)!);
  for (const maxBatch of [2, 4, 8]) {
    const { out, sizes } = drive(new ContinuousBatcher(model, idBytes, maxBatch), specs.slice(0, 4), { 1: specs.slice(4, 6), 5: specs.slice(6) });
    for (const s of specs) assert.deepEqual(out.get(s.id), alone.get(s.id), `maxBatch ${maxBatch}, sequence ${s.id}`);
    assert.ok(Math.max(...sizes) <= maxBatch, `maxBatch ${maxBatch}: never more than maxBatch at once`);
    assert.ok(Math.max(...sizes) >= Math.min(maxBatch, 4), `maxBatch ${maxBatch}: the four sequences submitted together run together`);
    assert.equal(sizes.reduce((a, x) => a + x, 0), specs.reduce((a, s) => a + s.maxTokens, 0), 'one drawn token per running sequence per step');
  }
  // A prefill budget of 12 prompt tokens: sequences join a few at a time, with the same outputs.
  const { out, admitted } = drive(new ContinuousBatcher(model, idBytes, 8, 12), specs);
  for (const s of specs) assert.deepEqual(out.get(s.id), alone.get(s.id), `prefillTokens 12, sequence ${s.id}`);
  let k = 0;
  for (const n of admitted) {
    const joined = specs.slice(k, k + n);
    k += n;
    const distinct = new Map(joined.map((s) => [s.prompt.join(','), s.prompt.length])); // an identical prompt is prefilled once
    const cost = [...distinct.values()].reduce((a, x) => a + x, 0);
    assert.ok(n === 1 || cost <= 12, `a step admitted ${n} prompts costing ${cost} tokens`);
  }
  assert.equal(k, specs.length);
  assert.ok(admitted.filter((n) => n > 0).length > 3, 'the budget spread admissions over several steps');
});

test('batcher: the same seeds give what `generate` (sbp sample) gives', () => {
  const model = peakedModel(11);
  const prompts = [prompt(6, 1), prompt(6, 2), prompt(6, 3)];
  const opts = { temperature: 0.9, topP: 0.8, topK: 20, maxTokens: 15, seed: 4242, stopTokens: [CONFIG.eosTokenId] };
  const want = generate(model, prompts, opts);
  const specs = prompts.map((p, i) => spec(i, p, { maxTokens: opts.maxTokens, sampling: { temperature: 0.9, topP: 0.8, topK: 20 }, seed: [opts.seed, i] }));
  const { out } = drive(new ContinuousBatcher(model, idBytes, 2), specs);
  for (const g of want) {
    assert.deepEqual(out.get(g.index)!.tokens, Array.from(g.tokens), `prompt ${g.index}`);
    assert.equal(out.get(g.index)!.reason, g.finishReason);
  }
});

test('batcher: stop tokens, stop strings, identical prompts and cancellation', () => {
  const model = peakedModel(3);
  const greedy = { temperature: 0, topP: 1, topK: 0 };
  const p = prompt(7, 9);
  const free = drive(new ContinuousBatcher(model, idBytes, 4), [spec(0, p, { sampling: greedy, stopTokens: [], maxTokens: 10 })]).out.get(0)!.tokens;
  const third = free[2]!;
  const firstAt = free.indexOf(third); // the stop fires at the token's first appearance
  const cases: Array<{ over: Partial<SequenceSpec>; tokens: number[]; reason: FinishReason; count: number }> = [
    { over: { stopTokens: [third] }, tokens: free.slice(0, firstAt), reason: 'stop', count: firstAt },
    { over: { stop: [`${third},`] }, tokens: free.slice(0, firstAt), reason: 'stop', count: firstAt + 1 },
    { over: { stop: [`${free[0]},${free[1]},`] }, tokens: [], reason: 'stop', count: 2 },
    { over: { maxTokens: 4 }, tokens: free.slice(0, 4), reason: 'length', count: 4 },
  ];
  const specs = cases.map((c, i) => spec(10 + i, p, { sampling: greedy, stopTokens: [], maxTokens: 10, ...c.over }));
  const { out } = drive(new ContinuousBatcher(model, idBytes, 8), specs); // one prefill shared by all
  cases.forEach((c, i) => {
    const got = out.get(10 + i)!;
    assert.deepEqual(got.tokens, c.tokens, `case ${i}`);
    assert.equal(got.reason, c.reason, `case ${i}`);
    assert.equal(got.count, c.count, `case ${i}`);
  });

  // Cancelling one sequence mid-flight leaves the other untouched and frees its slot.
  const b = new ContinuousBatcher(model, idBytes, 2);
  const a = spec(1, prompt(4, 1), { maxTokens: 20, stopTokens: [] });
  const c = spec(2, prompt(8, 2), { maxTokens: 20, stopTokens: [] });
  const solo = drive(new ContinuousBatcher(model, idBytes, 2), [a]).out.get(1)!;
  const { out: mixed } = drive(b, [a, c], {}, (k) => {
    if (k === 5) assert.equal(b.cancel(2), true);
  });
  assert.deepEqual(mixed.get(1), solo);
  assert.equal(mixed.has(2), false, 'a cancelled sequence never finishes');
  assert.equal(b.cancel(2), false, 'cancelling twice finds nothing');
  assert.throws(() => b.submit(spec(3, prompt(90, 1), { maxTokens: 10 })), /exceed the context/);
});

test('batcher: logprobs of drawn and prompt tokens equal a full forward pass; scoring-only sequences draw nothing', () => {
  const model = peakedModel(13);
  const V = CONFIG.vocabSize;
  const logSoftmax = (ids: number[]): Float64Array[] => {
    const logits = model.logits(Int32Array.from(ids), 1, ids.length); // (T, V)
    return ids.map((_, t) => {
      const row = Float64Array.from(logits.subarray(t * V, (t + 1) * V));
      const max = Math.max(...row);
      const lse = max + Math.log(row.reduce((a, x) => a + Math.exp(x - max), 0));
      return row.map((x) => x - lse);
    });
  };
  const p = prompt(9, 6);
  const specs = [
    spec(0, p, { maxTokens: 0, logprobs: 2, promptLogprobs: true }), // score only
    spec(1, p, { maxTokens: 1, logprobs: 1, promptLogprobs: true, sampling: { temperature: 0, topP: 1, topK: 0 } }),
    spec(2, prompt(5, 7), { maxTokens: 10, logprobs: 3, stopTokens: [], sampling: { temperature: 1.3, topP: 0.7, topK: 0 } }),
    spec(3, p, { maxTokens: 6, logprobs: 0, promptLogprobs: true, stopTokens: [] }), // scored and continued
  ];
  const b = new ContinuousBatcher(model, idBytes, 4);
  for (const s of specs) b.submit(s);
  const drawn = new Map<number, number[]>(specs.map((s) => [s.id, []]));
  const lps = new Map<number, Array<{ token: number; logprob: number; top: Array<{ token: number; logprob: number }> }>>(specs.map((s) => [s.id, []]));
  const scored = new Map<number, unknown[]>();
  let tokensDrawn = 0;
  while (!b.idle) {
    const r = b.step();
    tokensDrawn += r.batchSize;
    for (const e of r.events) {
      for (const x of e.logprobs ?? []) {
        drawn.get(e.id)!.push(x.token);
        lps.get(e.id)!.push(x);
      }
      if (e.promptLogprobs) {
        assert.ok(!scored.has(e.id), 'prompt scores come once');
        scored.set(e.id, e.promptLogprobs);
      }
    }
  }
  assert.equal(tokensDrawn, 0 + 1 + 10 + 6, 'a score-only sequence draws no token');
  assert.deepEqual([...scored.keys()].sort(), [0, 1, 3]);
  const promptRows = logSoftmax(Array.from(p));
  for (const id of [0, 1, 3]) {
    const got = scored.get(id) as Array<{ token: number; logprob: number; top: Array<{ token: number; logprob: number }> } | null>;
    assert.equal(got.length, p.length);
    assert.equal(got[0], null);
    for (let t = 1; t < p.length; t++) {
      assert.equal(got[t]!.token, p[t]);
      assert.ok(Math.abs(got[t]!.logprob - promptRows[t - 1]![p[t]!]!) < 1e-4, `sequence ${id}, prompt token ${t}`);
      assert.equal(got[t]!.top.length, specs[id]!.logprobs);
    }
  }
  for (const s of specs.slice(1)) {
    const ids = [...s.prompt, ...drawn.get(s.id)!];
    const rows = logSoftmax(ids);
    assert.equal(drawn.get(s.id)!.length, s.maxTokens);
    lps.get(s.id)!.forEach((x, i) => {
      const row = rows[s.prompt.length - 1 + i]!;
      assert.ok(Math.abs(x.logprob - row[x.token]!) < 1e-4, `sequence ${s.id}, token ${i}`);
      const want = [...row.keys()].sort((a, c) => row[c]! - row[a]! || a - c).slice(0, s.logprobs!);
      assert.deepEqual(x.top.map((t) => t.token), want, `sequence ${s.id}, token ${i}: top ${s.logprobs}, most likely first`);
    });
  }
});
