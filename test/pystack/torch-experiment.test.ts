// `sbp experiment --set train.engine=torch` at the toy size: every training stage (baseline, synthesizer
// tuning, SBP, oracle) runs on the bundled PyTorch trainer, through the same stage graph, caching, resume
// and report as the native engine. Needs the Python stack (scripts/install-python-deps.sh).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeToyConfig } from '../experiment/toy-experiment.js';
import { runCli, tempDir } from '../helpers.js';

test('sbp experiment with train.engine=torch: stopped like Ctrl-C in the baseline, resumed, completes with every model trained by torch', () => {
  const dir = tempDir('sbp-torch-exp-');
  const configPath = writeToyConfig(dir);
  const runsDir = join(dir, 'runs');
  const args = ['experiment', '-c', configPath, '--runs-dir', runsDir, '-q', '--set', 'train.engine=torch'];
  const t0 = Date.now();
  // The stop hook counts training steps of this process: 5 lands inside the baseline's 24 steps. The
  // trainer sees the request asynchronously (the STOP file), so it stops at the end of step 5 or a later one.
  const stopped = runCli(args, { env: { SBP_TRAIN_STOP_AFTER_STEPS: '5' } });
  assert.equal(stopped.status, 130, stopped.stderr);
  const m = /training interrupted after step (\d+); checkpoint in .*models\/baseline\/checkpoint/.exec(stopped.stderr);
  assert.ok(m, stopped.stderr);
  const stoppedAt = Number(m[1]);
  assert.ok(stoppedAt >= 5 && stoppedAt < 24, `stopped at step ${stoppedAt}`);
  const state = JSON.parse(readFileSync(join(runsDir, 'toy', 'models', 'baseline', 'checkpoint', 'trainer-state.json'), 'utf8')) as { format: string; step: number };
  assert.deepEqual([state.format, state.step], ['sbp-torch-checkpoint', stoppedAt]);

  const r = runCli(args);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /experiment .*toy: \d+ of \d+ stages ran/);
  assert.match(r.stdout, /of oracle gain/);
  assert.match(r.stdout, /report: .*report\.html/);
  const models = join(runsDir, 'toy', 'models');
  for (const name of ['baseline', 'synthesizer', 'sbp', 'oracle']) {
    const job = JSON.parse(readFileSync(join(models, name, 'trainer-job', 'job.json'), 'utf8')) as { engine: string; steps: number };
    const result = JSON.parse(readFileSync(join(models, name, 'trainer-result.json'), 'utf8')) as { status: string; step: number; resumedFrom: number | null };
    assert.equal(job.engine, 'torch', name);
    assert.equal(result.status, 'finished', name);
    assert.equal(result.step, job.steps, name);
    if (name === 'baseline') assert.equal(result.resumedFrom, stoppedAt, 'the baseline resumed from its checkpoint');
    const steps = readFileSync(join(models, name, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { kind: string; step: number }).filter((row) => row.kind === 'step');
    assert.deepEqual(steps.map((s) => s.step), Array.from({ length: job.steps }, (_, i) => i + 1), `${name}: one metrics row per step, none twice after the resume`);
    assert.ok(existsSync(join(models, name, 'model.safetensors')) && existsSync(join(models, name, 'tokenizer.json')), `${name}: a Hugging Face folder`);
  }
  const tune = JSON.parse(readFileSync(join(models, 'synthesizer', 'trainer-job', 'job.json'), 'utf8')) as { data: { train: string } };
  assert.ok(tune.data.train, 'the synthesizer was tuned through the contract');

  // Nothing changed: every stage is cached.
  const again = runCli(args);
  assert.equal(again.status, 0, again.stderr);
  assert.match(again.stdout, /experiment .*toy: 0 of \d+ stages ran/);
  console.log(JSON.stringify({ experimentSeconds: (Date.now() - t0) / 1000 }));
});
