import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { resolveConfig } from '../../src/config/load.js';
import { presetConfigPath, EXPERIMENT_PRESETS } from '../../src/cli/experiment.js';
import { runCli, tempDir } from '../helpers.js';

test('the shipped presets are valid configs, from tiny to base', () => {
  const budgets = EXPERIMENT_PRESETS.map((p) => resolveConfig({ file: presetConfigPath(p) }).experiment.budgetTokens);
  assert.deepEqual([...budgets].sort((a, b) => a - b), budgets, 'presets grow from tiny to base');
  for (const p of EXPERIMENT_PRESETS) {
    const cfg = resolveConfig({ file: presetConfigPath(p) });
    assert.ok(cfg.train.seqLen <= (cfg.model.maxSeqLen ?? Infinity), `${p}: train.seqLen fits the model`);
    assert.ok(cfg.experiment.budgetTokens >= cfg.experiment.uniqueTokens, `${p}: B >= U`);
  }
});

test('sbp experiment --preset tiny --plan: prepares Brown, prints the plan with an oracle shortfall, trains nothing', () => {
  const runsDir = tempDir();
  // U of 150k: Brown's train split (~1.8M tokens) cannot give the oracle 20×U.
  const r = runCli(['experiment', '--preset', 'tiny', '--plan', '--runs-dir', runsDir, '--run', 'p', '-q', '--set', 'experiment.probeSteps=0', '--set', 'experiment.uniqueTokens=150000']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /compute-matched plan: .*-parameter model, \d+ steps × 2048 tokens/);
  assert.match(r.stdout, /baseline +\S+ unique +\d+\.\d\d× repeated/);
  assert.match(r.stdout, /note: the corpus is too small for a 20× oracle/);
  const plan = JSON.parse(readFileSync(join(runsDir, 'p', 'experiment', 'plan.json'), 'utf8')) as { estimate: unknown; runs: { sbp: { syntheticTokens: number } } };
  assert.equal(plan.estimate, null, 'no probe, no estimate');
  assert.equal(plan.runs.sbp.syntheticTokens, 0.375 * 1_200_000);
  assert.ok(!existsSync(join(runsDir, 'p', 'models')), 'nothing trained');
});

test('sbp experiment: --preset with --config, an unknown preset and a bad experiment value are user errors', () => {
  const a = runCli(['experiment', '--preset', 'tiny', '-c', 'x.yaml', '--plan']);
  assert.equal(a.status, 2);
  assert.match(a.stderr, /--preset and --config both give a config file/);
  const b = runCli(['experiment', '--preset', 'huge']);
  assert.notEqual(b.status, 0);
  assert.match(b.stderr, /Allowed choices are tiny, small, gpu, base/);
  const c = runCli(['experiment', '--preset', 'tiny', '--plan', '--set', 'experiment.syntheticShare=1', '--runs-dir', tempDir()]);
  assert.equal(c.status, 2);
  assert.match(c.stderr, /experiment\.syntheticShare: got 1/);
});

test('the report path printed is the real one after the run folder was copied elsewhere (--runs-dir X --run Y)', async () => {
  const { cpSync } = await import('node:fs');
  const { writeToyConfig } = await import('./toy-experiment.js');
  const dir = tempDir();
  const config = writeToyConfig(dir);
  const first = runCli(['experiment', '-c', config, '-q']);
  assert.equal(first.status, 0, first.stderr);
  assert.match(first.stdout, new RegExp(`report: ${join(dir, 'runs', 'toy', 'report.html').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\n`));
  const elsewhere = join(dir, 'elsewhere');
  cpSync(join(dir, 'runs', 'toy'), join(elsewhere, 'copy'), { recursive: true });
  const again = runCli(['experiment', '-c', config, '--runs-dir', elsewhere, '--run', 'copy', '-q']);
  assert.equal(again.status, 0, again.stderr);
  assert.match(again.stdout, /stages ran/);
  assert.ok(again.stdout.includes(`report: ${join(elsewhere, 'copy', 'report.html')}\n`), again.stdout);
});
