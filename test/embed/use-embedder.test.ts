import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UseEmbedder, USE_DIM } from '../../src/embed/use-embedder.js';
import { dotRows, normalizeRows } from '../../src/embed/embedder.js';

/** (anchor, paraphrase, unrelated): the paraphrase must be closer. No word overlap is needed for USE. */
const TRIPLES: Array<[string, string, string]> = [
  ['The cat sat on the mat.', 'A kitten is resting on a rug.', 'Stock markets fell sharply today.'],
  ['How do I reset my password?', 'I forgot my login credentials and need to change them.', 'The recipe needs two cups of flour.'],
  ['The central bank raised interest rates.', 'Borrowing costs went up after the monetary authority acted.', 'The striker scored in the final minute.'],
  ['Plants turn sunlight into chemical energy.', 'Photosynthesis lets leaves make sugar from light.', 'The compiler reported a syntax error.'],
];

test('use: loads the weights shipped in npm (without fetch), 512-d vectors, paraphrases closer than unrelated text', async () => {
  const realFetch = globalThis.fetch;
  globalThis.fetch = () => Promise.reject(new Error('the use embedder must not fetch anything'));
  let e: UseEmbedder;
  try {
    e = await UseEmbedder.load({ batchSize: 4 });
  } finally {
    globalThis.fetch = realFetch;
  }
  assert.equal(e.dim, USE_DIM);
  const texts = TRIPLES.flat();
  const rows = await e.embedTexts(texts);
  assert.equal(rows.length, texts.length * USE_DIM);
  // The model's own output is (nearly) unit length; the stage normalises exactly.
  for (let i = 0; i < texts.length; i++) assert.ok(Math.abs(Math.sqrt(dotRows(rows, i, rows, i, USE_DIM)) - 1) < 1e-3);
  normalizeRows(rows, USE_DIM);
  TRIPLES.forEach(([a], t) => {
    const near = dotRows(rows, 3 * t, rows, 3 * t + 1, USE_DIM);
    const far = dotRows(rows, 3 * t, rows, 3 * t + 2, USE_DIM);
    assert.ok(near > far + 0.1, `${JSON.stringify(a)}: paraphrase ${near.toFixed(3)} vs unrelated ${far.toFixed(3)}`);
  });
});

test('use: batching does not change vectors; an empty text gives a zero row instead of a crash', async () => {
  const e1 = await UseEmbedder.load({ batchSize: 1 });
  const e3 = await UseEmbedder.load({ batchSize: 3 });
  const texts = ['first document here', '', 'a second, longer document about something else entirely', 'x'];
  const a = await e1.embedTexts(texts);
  const b = await e3.embedTexts(texts);
  let maxDiff = 0;
  for (let i = 0; i < a.length; i++) maxDiff = Math.max(maxDiff, Math.abs(a[i]! - b[i]!));
  assert.ok(maxDiff < 1e-4, `batch 1 vs 3 differ by ${maxDiff}`);
  assert.ok(a.subarray(USE_DIM, 2 * USE_DIM).every((v) => v === 0));
  assert.ok(dotRows(a, 0, a, 0, USE_DIM) > 0.9);
});
