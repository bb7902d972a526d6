import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RefBackend } from '../../src/engine/ref-backend.js';
import { resolveModelConfig } from '../../src/model/config.js';
import { LlamaModel } from '../../src/model/llama.js';
import { argmax } from '../../src/sample/logits-sampler.js';
import { generate, type GenerateOptions } from '../../src/sample/sampler.js';
import { UserError } from '../../src/common/errors.js';

const config = resolveModelConfig({ preset: 'tiny', vocabSize: 96, hiddenSize: 32, numLayers: 2, numHeads: 4, numKVHeads: 2, headDim: 8, intermediateSize: 64, maxSeqLen: 48 });
const model = new LlamaModel(config, new RefBackend(), { seed: 3 });
const prompts = [Int32Array.from([1, 40, 41, 42, 43]), Int32Array.from([1]), Int32Array.from([1, 7, 8]), Int32Array.from([1, 50, 51, 52, 53, 54, 55])];
const opts = (over: Partial<GenerateOptions> = {}): GenerateOptions => ({ temperature: 1, topK: 0, topP: 0.9, maxTokens: 10, seed: 11, stopTokens: [], ...over });

test('temperature 0 is greedy: every token is the argmax of a full forward pass over the sequence so far', () => {
  const out = generate(model, prompts, opts({ temperature: 0 }));
  for (const g of out) {
    assert.equal(g.tokens.length, 10);
    assert.equal(g.finishReason, 'length');
    const seq = [...g.prompt];
    for (const tok of g.tokens) {
      const T = seq.length;
      const logits = model.logits(Int32Array.from(seq), 1, T);
      assert.equal(tok, argmax(logits, (T - 1) * config.vocabSize, config.vocabSize));
      seq.push(tok);
    }
  }
  const k1 = generate(model, prompts, opts({ temperature: 0.8, topK: 1 }));
  assert.deepEqual(k1.map((g) => [...g.tokens]), out.map((g) => [...g.tokens]), 'top-k 1 is greedy too');
});

test('same seed → same samples, whatever the batching; another seed → other samples', () => {
  const all = generate(model, prompts, opts());
  const again = generate(model, prompts, opts({ batchSize: 3 }));
  const alone = prompts.flatMap((p, i) => generate(model, [p], opts()).map((g) => ({ ...g, index: i })));
  const tokens = (gs: { tokens: Int32Array }[]) => gs.map((g) => [...g.tokens]);
  assert.deepEqual(tokens(again), tokens(all));
  // alone, prompt i gets stream (seed, 0); in the batch it had (seed, i): only prompt 0 must agree
  assert.deepEqual(tokens(alone)[0], tokens(all)[0]);
  const other = generate(model, prompts, opts({ seed: 12 }));
  assert.notDeepEqual(tokens(other), tokens(all));
  assert.deepEqual(all.map((g) => g.index), [0, 1, 2, 3]);
});

test('prompts of different lengths decoded together equal each decoded alone (greedy)', () => {
  const batched = generate(model, prompts, opts({ temperature: 0, maxTokens: 6 }));
  for (const [i, p] of prompts.entries()) {
    const [alone] = generate(model, [p], opts({ temperature: 0, maxTokens: 6 }));
    assert.deepEqual([...batched[i]!.tokens], [...alone!.tokens], `prompt ${i}`);
  }
});

test('a sequence stops at its stop token (not included) while the others go on', () => {
  const greedy = generate(model, prompts, opts({ temperature: 0, maxTokens: 8 }));
  const stopTok = greedy[0]!.tokens[3]!; // prompt 0 draws it at position 3 (or earlier)
  const firstAt = greedy[0]!.tokens.indexOf(stopTok);
  const out = generate(model, prompts, opts({ temperature: 0, maxTokens: 8, stopTokens: [stopTok] }));
  assert.equal(out[0]!.finishReason, 'stop');
  assert.deepEqual([...out[0]!.tokens], [...greedy[0]!.tokens.subarray(0, firstAt)]);
  for (let i = 1; i < prompts.length; i++) {
    const cut = greedy[i]!.tokens.indexOf(stopTok);
    const want = cut < 0 ? greedy[i]!.tokens : greedy[i]!.tokens.subarray(0, cut);
    assert.deepEqual([...out[i]!.tokens], [...want], `prompt ${i}`);
    assert.equal(out[i]!.finishReason, cut < 0 ? 'length' : 'stop');
  }
});

test('user errors: context overflow, empty prompt, out-of-vocabulary ids', () => {
  assert.throws(() => generate(model, [new Int32Array(40).fill(1)], opts({ maxTokens: 10 })), (e: unknown) => e instanceof UserError && /exceeds the model's context of 48/.test((e as Error).message));
  assert.equal(generate(model, [new Int32Array(40).fill(1)], opts({ maxTokens: 9 }))[0]!.tokens.length, 9, 'prompt + maxTokens - 1 = context fits');
  assert.throws(() => generate(model, [new Int32Array(0)], opts()), /prompt 0 is empty/);
  assert.throws(() => generate(model, [Int32Array.from([1, 96])], opts()), /token id 96, outside the vocabulary/);
});
