import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import { saveModelFolder } from '../../src/model/hf-folder.js';
import { startServer, type SbpServer } from '../../src/serve/server.js';
import { fetchJson, serveFixture, type ServeFixture } from './fixture.js';
import { tokenizerFiles } from '../../src/tokenizer/tokenizer.js';

// A checkpoint whose embedding has 20 more rows than its tokenizer has tokens, with those rows of
// the output layer made so large that greedy decoding draws them.
const EXTRA = 20;
let fx: ServeFixture;
let server: SbpServer;
let tokenizerSize: number;

before(async () => {
  fx = await serveFixture({ extraVocab: EXTRA });
  tokenizerSize = fx.tokenizer.vocabSize;
  const head = fx.model.readParam('lm_head.weight');
  const C = fx.model.config.hiddenSize;
  for (let i = tokenizerSize * C; i < head.length; i++) head[i] *= 1000;
  fx.model.writeParam('lm_head.weight', head);
  saveModelFolder(fx.dir, fx.model, { tokenizer: tokenizerFiles(join(dirname(fx.dir), 'tokenizer.json')) });
  server = await startServer({ modelDir: fx.dir, port: 0, backend: 'ref', maxBatch: 4 });
});
after(async () => {
  await server.close({ graceMs: 1000 });
});

function complete(body: Record<string, unknown>): Promise<{ status: number; json: any }> {
  return fetchJson(server.url + '/v1/completions', { model: 'tiny-serve', ...body });
}

test('ids past the tokenizer (a padded vocabulary) decode to no text: drawn, echoed and scored without failing', async () => {
  assert.equal(fx.model.config.vocabSize, tokenizerSize + EXTRA);
  const drawn = await complete({ prompt: 'the', max_tokens: 6, temperature: 0, logprobs: 1 });
  assert.equal(drawn.status, 200, JSON.stringify(drawn.json));
  const lp = drawn.json.choices[0].logprobs;
  assert.equal(lp.tokens.length, 6);
  assert.ok(lp.token_logprobs.every((x: number) => Number.isFinite(x)));
  assert.equal(lp.tokens.filter((t: string) => t === '').length, 6, 'greedy drew padded ids, listed with no text');
  assert.equal(drawn.json.choices[0].text, '');

  const padded = tokenizerSize + 3;
  const scored = await complete({ prompt: [fx.tokenizer.special.bos, padded, 5], max_tokens: 0, echo: true, logprobs: 0 });
  assert.equal(scored.status, 200, JSON.stringify(scored.json));
  assert.equal(scored.json.choices[0].logprobs.tokens.length, 3);
  assert.ok(Number.isFinite(scored.json.choices[0].logprobs.token_logprobs[2]));

  // The worker survived: an ordinary request still works.
  const after = await complete({ prompt: 'the', max_tokens: 2, temperature: 0 });
  assert.equal(after.status, 200);
});
