// docs/library.md is true: every ```js example in it runs (through the package's own entry points, as a
// user's program would import them) against a small model folder, and the claims it makes about
// loadModel — seeded, encode/generate agree, stop strings cut, score is the model's loss — hold.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { loadModel } from '../src/sample/text-model.js';
import { UserError } from '../src/common/errors.js';
import { fixtureDocs } from './embed/fixture-run.js';
import { serveFixture } from './serve/fixture.js';
import { repoRoot, tempDir } from './helpers.js';

/** The ```js blocks of a markdown file, in order. */
export function jsBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/^```js\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);
}

test('docs/library.md: every example runs against a small model', async () => {
  const doc = readFileSync(join(repoRoot, 'docs/library.md'), 'utf8');
  const blocks = jsBlocks(doc);
  assert.ok(blocks.length >= 5, `expected the documented examples, found ${blocks.length} js blocks`);
  const fx = await serveFixture();
  const work = tempDir('sbp-library-');
  const corpus = join(work, 'my-corpus.jsonl');
  writeFileSync(corpus, fixtureDocs(60, 'lib').map((d) => JSON.stringify({ id: d.id, text: d.text })).join('\n') + '\n');
  // Inside the package folder, so that `import … from 'sbp'` resolves through package.json's exports.
  const examples = join(repoRoot, 'dist', 'library-examples');
  mkdirSync(examples, { recursive: true });
  blocks.forEach((code, i) => {
    const src = code
      .replaceAll("'runs/demo/models/baseline'", JSON.stringify(fx.dir))
      .replaceAll("'my-corpus.jsonl'", JSON.stringify(corpus))
      .replaceAll("runsDir: 'runs'", `runsDir: ${JSON.stringify(join(work, 'runs'))}`);
    assert.ok(!/from '(?!sbp(\/[a-z]+)?')/.test(src), `example ${i + 1} imports something other than sbp entries`);
    const file = join(examples, `example-${i + 1}.mjs`);
    writeFileSync(file, src);
    const r = spawnSync(process.execPath, [file], { cwd: work, encoding: 'utf8', timeout: 120_000 });
    assert.equal(r.status, 0, `example ${i + 1} failed:\n${src}\n--- stderr\n${r.stderr}`);
    assert.notEqual(r.stdout.trim(), '', `example ${i + 1} printed nothing`);
    // Examples that print a comparison document it as true.
    for (const line of r.stdout.trim().split('\n')) assert.notEqual(line, 'false', `example ${i + 1} printed false:\n${src}`);
  });
});

test('loadModel: seeded, encode and generate agree, stop cuts, score is the model loss', async () => {
  const fx = await serveFixture();
  const lm = await loadModel(fx.dir, { backend: 'ref' });
  const opts = { maxTokens: 24, temperature: 0.9, seed: 3 };
  const a = await lm.generate('topic words', opts);
  assert.equal(await lm.generate('topic words', opts), a, 'same seed, same text');
  assert.equal(await lm.generate(lm.encode('topic words'), opts), a, 'ids from encode frame like the text');
  assert.ok(lm.encode('x') instanceof Int32Array);
  assert.equal(lm.decode(lm.encode('The jury said')), 'The jury said');

  const greedy = await lm.generate('The', { maxTokens: 20, temperature: 0, stopAtEos: false });
  assert.ok(greedy.length > 2, 'a random model with stopAtEos off still writes text');
  const stop = greedy.slice(1, 2);
  const cut = await lm.generate('The', { maxTokens: 20, temperature: 0, stopAtEos: false, stop: [stop] });
  assert.equal(cut, greedy.slice(0, greedy.indexOf(stop)));

  const ids = lm.encode('The jury said it was fair.');
  const s = lm.score(ids);
  const tokens = Int32Array.from([fx.tokenizer.special.bos, ...ids.subarray(0, ids.length - 1)]);
  const { sumLoss } = fx.model.evalLoss({ B: 1, T: ids.length, tokens, targets: ids, mask: null });
  assert.equal(s.tokens, ids.length);
  assert.ok(Math.abs(s.logprob + sumLoss) < 1e-3 * Math.max(1, sumLoss), `score ${s.logprob} vs model loss ${sumLoss}`);
  assert.ok(Math.abs(s.perplexity - Math.exp(sumLoss / ids.length)) < 1e-3 * s.perplexity);

  assert.throws(() => lm.score(''), UserError);
  await assert.rejects(loadModel(join(fx.dir, 'nope')), /not a model folder/);
});
