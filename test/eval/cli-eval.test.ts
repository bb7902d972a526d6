import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { resolveConfig } from '../../src/config/load.js';
import { RefBackend } from '../../src/engine/ref-backend.js';
import { runEvalStage } from '../../src/eval/eval-stage.js';
import { runStage } from '../../src/stage/stage.js';
import { saveModelFolder } from '../../src/model/hf-folder.js';
import { LlamaModel } from '../../src/model/llama.js';
import { trainTokenizer, tokenizerFiles } from '../../src/tokenizer/tokenizer.js';
import { PackedBatchSource } from '../../src/train/packed-batch-source.js';
import { train } from '../../src/train/trainer.js';
import { repoRoot, runCli, tempDir } from '../helpers.js';
import { brownTexts } from '../train/fixture-run.js';
import { tinyConfig } from './fixture.js';

// A tiny run: a prepared corpus (short Brown excerpts), its tokenizer, and three models of the same
// shape — baseline (initial weights), sbp (a few steps on the held-out text), oracle (more steps).
const runsDir = tempDir('sbp-eval-cli-');
const runDir = join(runsDir, 'tiny');
const heldout = brownTexts(5, 300).map((t, i) => ({ id: `brown:h${i}`, text: t.slice(0, 500).replace(/\s+\S*$/, '') }));
const trainDocs = brownTexts(5, 0).map((t, i) => ({ id: `brown:t${i}`, text: t.slice(0, 500) }));
const tokenizer = await trainTokenizer([...trainDocs, ...heldout].map((d) => d.text), { vocabSize: 300, minFrequency: 2, maxTrainBytes: 1e6, reservedTokens: 0 }, { threads: 1 });
await runStage({
  stage: 'corpus',
  runDir,
  config: { fixture: 'eval-cli' },
  run: async (ctx) => {
    for (const [split, docs] of [['train', trainDocs], ['heldout', heldout]] as const) {
      writeFileSync(join(ctx.dir, `${split}-00000.jsonl`), docs.map((d) => JSON.stringify({ ...d, meta: {} })).join('\n') + '\n');
    }
    return {};
  },
});
await runStage({ stage: 'tokenizer', runDir, config: { fixture: 'eval-cli' }, run: async (ctx) => (tokenizer.save(join(ctx.dir, 'tokenizer.json')), {}) });
const sp = tokenizer.special;
const modelCfg = tinyConfig(tokenizer.vocabSize, { hiddenSize: 16, headDim: 8, intermediateSize: 32, bosTokenId: sp.bos, eosTokenId: sp.eos, padTokenId: sp.pad });
for (const [name, steps] of [['baseline', 0], ['sbp', 3], ['oracle', 10]] as const) {
  await runStage({
    stage: join('models', name),
    runDir,
    config: { fixture: 'eval-cli', steps },
    run: async (ctx) => {
      const model = new LlamaModel(modelCfg, new RefBackend(), { seed: 1 });
      if (steps > 0) {
        const docs = heldout.map((d) => tokenizer.encode(d.text));
        await train({
          model,
          data: new PackedBatchSource({ numDocs: docs.length, doc: (i) => docs[i]! }, 2, 32, { bos: sp.bos, eos: sp.eos }, 1),
          cfg: { steps, gradAccumSteps: 1, lr: 3e-2, lrFloor: 3e-2, warmupFraction: 0, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0, decayEmbeddings: false, noDecay: [], clip: 1, evalEvery: 0, checkpointEvery: 0, logEvery: 1, maxBadSteps: 2 },
          dir: tempDir(),
          models: { save: () => {}, loadInto: () => {} },
          quiet: true,
          log: () => {},
        });
      }
      saveModelFolder(ctx.dir, model, { tokenizer: tokenizerFiles(join(runDir, 'tokenizer', 'tokenizer.json')) });
      return {};
    },
  });
}

const fixtures = join(repoRoot, 'test/fixtures/eval');
const evalArgs = ['eval', '--runs-dir', runsDir, '--run', 'tiny', '--backend', 'ref', '--window', '32', '--cloze', '4', '--task', join(fixtures, 'mini-qa.jsonl'), '--task', join(fixtures, 'mini-cloze.jsonl'), '--set', 'eval.cloze.minContextWords=5', '--set', 'eval.cloze.contextWords=30', '--set', 'eval.bootstrap.samples=200', '-q'];
const evalDir = join(runDir, 'eval');
const readJson = (name: string) => JSON.parse(readFileSync(join(evalDir, name), 'utf8'));

test('sbp eval end to end: results, items, comparison and manifest; the table; a rerun is skipped', () => {
  const r = runCli(evalArgs);
  assert.equal(r.status, 0, r.stderr);
  for (const f of ['results.json', 'items.json', 'comparison.json', 'manifest.json']) assert.ok(existsSync(join(evalDir, f)), f);
  const results = readJson('results.json');
  assert.deepEqual(Object.keys(results.models), ['baseline', 'sbp', 'oracle']);
  assert.deepEqual(Object.keys(results.metrics), ['heldout/ppl', 'heldout/bpb', 'mini-qa/acc', 'mini-qa/acc_norm', 'mini-cloze/acc', 'mini-cloze/ppl', 'cloze/acc', 'cloze/ppl']);
  assert.deepEqual(results.settings.window, 32);
  assert.equal(results.sets.heldout.items, 5);
  assert.equal(results.sets['mini-qa'].items, 5);
  assert.equal(results.sets.cloze.items, 4);
  assert.equal(results.synthQuality, null);

  // results.json agrees with the item-level scores in items.json
  const items = readJson('items.json');
  assert.deepEqual(items.sets.heldout.ids, heldout.map((d) => d.id));
  for (const m of ['baseline', 'sbp', 'oracle']) {
    const h = items.sets.heldout.models[m];
    const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
    const ppl = Math.exp(sum(h.nats) / sum(h.tokens));
    assert.ok(Math.abs(results.metrics['heldout/ppl'].values[m].value / ppl - 1) < 1e-12);
    assert.deepEqual(h.bytes, heldout.map((d) => Buffer.byteLength(d.text)));
    const acc = sum(items.sets['mini-qa'].models[m].correct) / 5;
    assert.equal(results.metrics['mini-qa/acc'].values[m].value, acc);
    const ci = results.metrics['heldout/ppl'].values[m].ci;
    assert.ok(ci.lo <= results.metrics['heldout/ppl'].values[m].value && results.metrics['heldout/ppl'].values[m].value <= ci.hi);
  }
  const ppl = (m: string) => results.metrics['heldout/ppl'].values[m].value;
  console.log(`# held-out ppl: baseline ${ppl('baseline').toFixed(1)}, sbp ${ppl('sbp').toFixed(1)}, oracle ${ppl('oracle').toFixed(1)}`);
  assert.ok(ppl('oracle') < ppl('sbp') && ppl('sbp') < ppl('baseline'), 'training on the held-out text lowers its perplexity');

  const cmp = readJson('comparison.json');
  assert.deepEqual(cmp.roles, { baseline: 'baseline', sbp: 'sbp', oracle: 'oracle' });
  const h = cmp.metrics.find((c: { metric: string }) => c.metric === 'heldout/ppl');
  const want = (ppl('sbp') - ppl('baseline')) / (ppl('oracle') - ppl('baseline'));
  assert.ok(Math.abs(h.fraction.value - want) < 1e-12);
  assert.ok(h.fraction.value > 0 && h.fraction.value < 1);

  assert.match(r.stdout, /^metric +baseline +sbp +oracle +of oracle gain$/m);
  assert.match(r.stdout, /^heldout\/ppl ↓ +[\d.]+ +[\d.]+ +[\d.]+ +\d+%/m);
  assert.match(r.stdout, /^mini-qa\/acc_norm ↑/m);
  assert.match(r.stdout, /results: .*eval\/results\.json/);

  const again = runCli(evalArgs);
  assert.equal(again.status, 0, again.stderr);
  assert.match(again.stderr, /up to date/);
  assert.equal(again.stdout, r.stdout);
});

test('sbp eval: synthetic quality metrics are included when synth/quality.json exists; an interrupted evaluation resumes from its markers', async () => {
  const quality = { samples: 500, synthetic: { repetitionRate: 0.043, duplicateRate: 0.008, pairCopyingRate: null }, real: { repetitionRate: 0.018 } };
  await runStage({ stage: 'synth', runDir, config: { fixture: 'eval-cli' }, run: async (ctx) => (writeFileSync(join(ctx.dir, 'quality.json'), JSON.stringify(quality)), {}) });
  const r = runCli(evalArgs);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(readJson('results.json').synthQuality, quality);
  assert.match(r.stdout, /synthetic data quality[^\n]*\n {2}samples: 500\n {2}synthetic\.repetitionRate: 0\.0430\n {2}synthetic\.duplicateRate: 0\.0080\n {2}real\.repetitionRate: 0\.0180\n/);

  // Lose the manifest as if the process died before the end: the rerun uses every (model, set)
  // marker and never opens a backend.
  const before = readJson('results.json');
  rmSync(join(evalDir, 'manifest.json'));
  rmSync(join(evalDir, 'results.json'));
  const cfg = resolveConfig({ overrides: [{ runsDir, name: 'tiny', eval: { window: 32, backend: 'ref', tasks: [join(fixtures, 'mini-qa.jsonl'), join(fixtures, 'mini-cloze.jsonl')], cloze: { passages: 4, minContextWords: 5, contextWords: 30 }, bootstrap: { samples: 200 } } }] });
  let backends = 0;
  const resumed = await runEvalStage({
    cfg,
    runDir,
    quiet: true,
    createBackend: () => {
      backends++;
      return new RefBackend();
    },
  });
  assert.equal(resumed.skipped, false);
  assert.equal(backends, 0);
  assert.deepEqual(readJson('results.json'), before);
});

test('sbp eval: user errors name the file and line; without all three roles there is no fraction', () => {
  const bad = runCli([...evalArgs, '--task', join(fixtures, 'bad-gold.jsonl')]);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /bad-gold\.jsonl:2: "gold" 2 is out of range: there are 2 choices/);
  const missing = runCli([...evalArgs, '--models', 'baseline,nope']);
  assert.equal(missing.status, 2);
  assert.match(missing.stderr, /"nope" is neither a model folder nor a finished model of this run/);
  const wide = runCli([...evalArgs, '--window', '100']);
  assert.equal(wide.status, 2);
  assert.match(wide.stderr, /eval\.window 100 exceeds the context of model "baseline" \(64 tokens/);

  const two = runCli([...evalArgs, '--models', `baseline,trained=${join(runDir, 'models/oracle')}`, '--cloze', '0', '--max-docs', '2']);
  assert.equal(two.status, 0, two.stderr);
  assert.doesNotMatch(two.stdout, /of oracle gain/);
  assert.match(two.stdout, /^metric +baseline +trained$/m);
  const cmp = readJson('comparison.json');
  assert.equal(cmp.roles, null);
  assert.match(cmp.note, /needs models labelled baseline, sbp and oracle/);
  assert.equal(readJson('results.json').sets.heldout.items, 2);
});
