import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RefBackend } from '../../src/engine/ref-backend.js';
import { runTuneStage, TUNE_EVAL_FILE, type TuneEval } from '../../src/synth/tune-stage.js';
import { synthFixtureRun } from './fixture-run.js';

const fx = await synthFixtureRun();

test('tune on a real tiny run: held-out conditional loss beats the baseline unconditional loss on the same d2', async () => {
  const t0 = Date.now();
  const r = await runTuneStage({ runDir: fx.runDir, config: fx.cfg.tune, seed: fx.cfg.seed, createBackend: () => new RefBackend(), quiet: true, log: () => {} });
  const s = r.manifest.stats;
  console.log(`# tune: ${JSON.stringify(s.pairs)} ${((Date.now() - t0) / 1000).toFixed(1)} s; eval ${JSON.stringify(s.eval)}`);
  assert.ok(s.pairs.train > 50 && s.pairs.heldout > 5, JSON.stringify(s.pairs));
  assert.equal(s.pairs.train + s.pairs.heldout + s.pairs.straddling, s.pairs.mined);
  const e = JSON.parse(readFileSync(join(fx.runDir, 'models/synthesizer', TUNE_EVAL_FILE), 'utf8')) as TuneEval;
  assert.deepEqual(e, s.eval);
  assert.equal(e.baselineUnconditional.tokens, e.synthesizerConditional.tokens, 'the same d2 targets are scored');
  assert.ok(e.synthesizerConditional.loss < e.baselineUnconditional.loss, `conditional ${e.synthesizerConditional.loss} vs unconditional ${e.baselineUnconditional.loss}`);
  assert.ok(e.synthesizerConditional.loss < e.baselineConditional.loss, 'tuning improves on the untuned model given d1');
  for (const f of ['config.json', 'model.safetensors', 'tokenizer.json', 'metrics.jsonl', 'manifest.json']) assert.ok(existsSync(join(fx.runDir, 'models/synthesizer', f)), f);
});
