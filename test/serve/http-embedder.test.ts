import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { EmbedConfigSchema } from '../../src/config/schema.js';
import { documentPrefix } from '../../src/embed/document-prefix.js';
import { normalizeRows } from '../../src/embed/embedder.js';
import { runEmbedStage } from '../../src/embed/embed-stage.js';
import { HttpEmbedder, HTTP_DEFAULTS } from '../../src/embed/http-embedder.js';
import { LmEmbedder } from '../../src/embed/lm-embedder.js';
import { readVectorsFile } from '../../src/embed/vectors-file.js';
import { RefBackend } from '../../src/engine/ref-backend.js';
import { runStage } from '../../src/stage/stage.js';
import { saveModelFolder } from '../../src/model/hf-folder.js';
import { LlamaModel } from '../../src/model/llama.js';
import { startServer } from '../../src/serve/server.js';
import { fixtureRun } from '../embed/fixture-run.js';
import { tokenizerFiles } from '../../src/tokenizer/tokenizer.js';

/**
 * The test: the `http` embedder, run by the embed stage against `sbp serve`, gives the same
 * vectors as the bootstrapped `lm` embedder on the same checkpoint.
 */
test('http embedder against sbp serve: the embed stage writes the lm embedder vectors', async () => {
  const { runDir, train, tokenizer } = await fixtureRun({ trainDocs: [11, 6] });
  const model = new LlamaModel(
    { vocabSize: tokenizer.vocabSize, hiddenSize: 24, numLayers: 2, numHeads: 3, numKVHeads: 1, headDim: 8, intermediateSize: 40, maxSeqLen: 64, ropeTheta: 10_000, rmsNormEps: 1e-5, qkNorm: false, tieEmbeddings: true, bosTokenId: tokenizer.special.bos, eosTokenId: tokenizer.special.eos, padTokenId: tokenizer.special.pad },
    new RefBackend(),
    { seed: 21 },
  );
  await runStage({
    stage: 'models/baseline',
    runDir,
    config: { fixture: 'serve' },
    run: async (ctx) => {
      saveModelFolder(ctx.dir, model, { tokenizer: tokenizerFiles(join(runDir, 'tokenizer', 'tokenizer.json')) });
      return {};
    },
  });
  const server = await startServer({ modelDir: join(runDir, 'models', 'baseline'), modelName: 'baseline-lm', port: 0, backend: 'ref', embedBatchTokens: 256 });
  try {
    const maxTokens = 4000; // above every fixture document: the stage sends whole texts, the server cuts at its context
    const config = EmbedConfigSchema.parse({
      embedder: 'http',
      maxTokens,
      dtype: 'f32',
      docsPerShard: 5,
      http: { baseUrl: `${server.url}/v1`, model: 'baseline-lm', batchSize: 3, concurrency: 2, maxRetries: 0 },
    });
    const r = await runEmbedStage({ runDir, config, quiet: true });
    assert.equal(r.manifest.stats.dim, 24);
    const got = readVectorsFile(join(runDir, 'embed', 'vectors.bin'));
    assert.deepEqual(got.ids, train.map((d) => d.id));

    const lm = new LmEmbedder(model, { batchTokens: 256, lengthQuantum: 32 });
    const docs = train.map((d) => documentPrefix(tokenizer, d.text, maxTokens));
    assert.ok(docs.some((d) => d.tokens.length > lm.maxDocTokens), 'some documents are longer than the context, so the cut is exercised');
    assert.ok(docs.every((d) => !d.truncated), 'no document is cut by embed.maxTokens');
    const want = await lm.embedTokens(docs.map((d) => d.tokens));
    normalizeRows(want, 24);
    let maxDiff = 0;
    for (let i = 0; i < want.length; i++) maxDiff = Math.max(maxDiff, Math.abs(want[i]! - got.rows[i]!));
    assert.ok(maxDiff < 1e-6, `http-through-serve vs lm: max difference ${maxDiff}`);
    assert.ok(server.metrics().embedRequests >= Math.ceil(train.length / 3), 'the vectors came from the server');

    // A client asking for another model learns the served name.
    const wrong = await HttpEmbedder.connect({ ...HTTP_DEFAULTS, baseUrl: `${server.url}/v1`, maxRetries: 0 }).then(
      () => null,
      (e: Error) => e,
    );
    assert.match(String(wrong?.message), /HTTP 404.*baseline-lm/);
  } finally {
    await server.close({ graceMs: 1000 });
  }
});
