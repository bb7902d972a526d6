import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { LlamaModel } from '../../src/model/llama.js';
import { saveModelFolder } from '../../src/model/hf-folder.js';
import { RefBackend } from '../../src/engine/ref-backend.js';
import type { ModelConfig } from '../../src/model/types.js';
import { LmEmbedder } from '../../src/embed/lm-embedder.js';
import { runStage } from '../../src/stage/stage.js';
import { EmbedConfigSchema } from '../../src/config/schema.js';
import { runEmbedStage } from '../../src/embed/embed-stage.js';
import { readVectorsFile } from '../../src/embed/vectors-file.js';
import { documentPrefix } from '../../src/embed/document-prefix.js';
import { normalizeRows } from '../../src/embed/embedder.js';
import { fixtureRun } from './fixture-run.js';

const TINY: ModelConfig = {
  vocabSize: 320,
  hiddenSize: 16,
  numLayers: 2,
  numHeads: 2,
  numKVHeads: 1,
  headDim: 8,
  intermediateSize: 32,
  maxSeqLen: 48,
  ropeTheta: 10_000,
  rmsNormEps: 1e-5,
  qkNorm: true,
  tieEmbeddings: true,
  bosTokenId: 1,
  eosTokenId: 2,
  padTokenId: 0,
};

/** The definition, one document at a time: mean of hiddenStates([bos, t1..tn]) over t1..tn. */
function manualMeanPool(model: LlamaModel, tokens: Int32Array): Float32Array {
  const C = model.config.hiddenSize;
  const n = Math.min(tokens.length, model.config.maxSeqLen - 1);
  const out = new Float32Array(C);
  if (n === 0) return out;
  const seq = Int32Array.from([model.config.bosTokenId, ...tokens.subarray(0, n)]);
  const h = model.hiddenStates(seq, 1, n + 1); // (1, n+1, C)
  for (let t = 1; t <= n; t++) for (let c = 0; c < C; c++) out[c] += h[t * C + c]! / n;
  return out;
}

function randomDocs(count: number, seed: number): Int32Array[] {
  let s = seed;
  const next = () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0);
  return Array.from({ length: count }, (_, i) => Int32Array.from({ length: i === 2 ? 0 : 1 + (next() % 70) }, () => 3 + (next() % 300)));
}

test('lm: batched, length-sorted, padded mean pooling equals the one-document-at-a-time definition', async () => {
  const model = new LlamaModel(TINY, new RefBackend(), { seed: 5 });
  const docs = randomDocs(11, 9); // lengths 0..70, some beyond the 47-token context
  const want = docs.map((d) => manualMeanPool(model, d));
  for (const batchTokens of [48, 200, 4096]) {
    const e = new LmEmbedder(model, { batchTokens, lengthQuantum: 8 });
    let progressed = 0;
    const got = await e.embedTokens(docs, (n) => (progressed += n));
    assert.equal(progressed, docs.length);
    let maxDiff = 0;
    docs.forEach((_, i) => want[i]!.forEach((v, c) => (maxDiff = Math.max(maxDiff, Math.abs(got[i * 16 + c]! - v)))));
    assert.ok(maxDiff < 1e-5, `batchTokens ${batchTokens}: max difference ${maxDiff}`);
    assert.ok(got.subarray(2 * 16, 3 * 16).every((v) => v === 0), 'an empty document gives a zero row');
  }
});

test('lm: embed stage loads a saved checkpoint of this run and writes the normalised mean-pooled vectors', async () => {
  const { runDir, train, tokenizer } = await fixtureRun({ trainDocs: [9] });
  const model = new LlamaModel({ ...TINY, vocabSize: 320 }, new RefBackend(), { seed: 11 });
  await runStage({
    stage: 'models/baseline',
    runDir,
    config: { fixture: 'tiny' },
    run: async (ctx) => {
      saveModelFolder(ctx.dir, model);
      return {};
    },
  });
  const config = EmbedConfigSchema.parse({ embedder: 'lm', maxTokens: 100, dtype: 'f32', docsPerShard: 4, lm: { backend: 'ref', batchTokens: 96 } });
  const r = await runEmbedStage({ runDir, config, quiet: true });
  assert.equal(r.manifest.stats.dim, 16);
  assert.ok(r.manifest.stats.source.endsWith(join('models', 'baseline')));
  const v = readVectorsFile(join(runDir, 'embed', 'vectors.bin'));
  assert.deepEqual(v.ids, train.map((d) => d.id));
  train.forEach((d, i) => {
    const want = manualMeanPool(model, documentPrefix(tokenizer, d.text, 100).tokens);
    normalizeRows(want, 16);
    for (let c = 0; c < 16; c++) assert.ok(Math.abs(v.rows[i * 16 + c]! - want[c]!) < 1e-5, `doc ${i} dim ${c}`);
  });
});
