import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { createHash } from 'node:crypto';
import { resolveConfig } from '../../src/config/load.js';
import { runExperiment } from '../../src/experiment/experiment-runner.js';
import { repoRoot, runCli, tempDir } from '../helpers.js';
import { writeToyConfig } from './toy-experiment.js';

/*
 * The whole experiment at a toy size (toy-experiment.ts: a ~20k-parameter model, a generated corpus
 * of short documents on a few topics), run three ways: once through, with one option changed, and
 * killed at a random moment and resumed. Each run takes seconds.
 */

/** Every manifest of a run directory: stage folder → when it started (a redone stage gets a new time). */
function manifests(runDir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (name === 'manifest.json') out.set(relative(runDir, dir), (JSON.parse(readFileSync(p, 'utf8')) as { timings: { startedAt: string } }).timings.startedAt);
    }
  };
  walk(runDir);
  return out;
}

const sha = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

/** The outputs that must not depend on whether the run was interrupted. */
function fingerprint(runDir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of ['baseline', 'synthesizer', 'sbp', 'oracle']) out[`models/${m}`] = sha(join(runDir, 'models', m, 'model.safetensors'));
  for (const f of ['corpus/oracle-docs.bin', 'pairs/pairs.bin']) out[f] = sha(join(runDir, f));
  for (const name of readdirSync(join(runDir, 'synth')).filter((n) => /^train-\d+\.jsonl$/.test(n)).sort()) out[`synth/${name}`] = sha(join(runDir, 'synth', name));
  const results = JSON.parse(readFileSync(join(runDir, 'eval', 'results.json'), 'utf8')) as { metrics: unknown };
  out['eval/metrics'] = createHash('sha256').update(JSON.stringify(results.metrics)).digest('hex');
  const plan = JSON.parse(readFileSync(join(runDir, 'experiment', 'plan.json'), 'utf8')) as Record<string, unknown>;
  out.plan = JSON.stringify({ ...plan, estimate: null });
  return out;
}

const dir = tempDir('sbp-experiment-');
const configPath = writeToyConfig(dir);
let reference: Record<string, string> | null = null;
let referenceSeconds = 0;

test('the whole graph runs once; a rerun skips every stage; a changed synthesize.topP reruns only its dependents', async () => {
  const cfg = resolveConfig({ file: configPath });
  const t0 = performance.now();
  const first = await runExperiment({ cfg, quiet: true, log: () => {} });
  referenceSeconds = (performance.now() - t0) / 1000;
  const runDir = first.runDir;
  assert.ok(first.stages.every((s) => !s.skipped), 'a fresh run runs every stage');
  assert.deepEqual(first.stages.map((s) => s.name), [
    'source-corpus', 'source-tokenizer', 'source-tokens', 'corpus', 'tokenizer', 'tokens', 'plan', 'baseline',
    'embed', 'pairs', 'synthesizer', 'synth', 'synth-tokens', 'sbp', 'oracle', 'eval', 'report',
  ]);
  assert.ok(existsSync(join(runDir, 'report.html')));
  assert.ok(first.results && Object.keys(first.results.metrics).length > 0);
  // The three runs are compute-matched: same steps and tokens.
  const stats = (arm: string) => JSON.parse(readFileSync(join(runDir, 'models', arm, 'manifest.json'), 'utf8')).stats as { steps: number; tokens: number; data: Record<string, { drawnTokens?: number }> };
  assert.deepEqual(new Set(['baseline', 'sbp', 'oracle'].map((a) => `${stats(a).steps}/${stats(a).tokens}`)).size, 1);
  assert.equal(stats('sbp').steps, first.plan.steps);
  assert.ok((stats('sbp').data.synthetic?.drawnTokens ?? 0) > 0, 'the SBP run drew synthetic tokens');
  reference = fingerprint(runDir);
  const before = manifests(runDir);

  const again = await runExperiment({ cfg, quiet: true, log: () => {} });
  assert.deepEqual(again.stages.filter((s) => !s.skipped).map((s) => s.name), []);
  assert.deepEqual(manifests(runDir), before, 'nothing was redone');

  const changed = resolveConfig({ file: configPath, sets: ['synthesize.topP=0.8'] });
  const third = await runExperiment({ cfg: changed, quiet: true, log: () => {} });
  assert.deepEqual(third.stages.filter((s) => !s.skipped).map((s) => s.name), ['synth', 'synth-tokens', 'sbp', 'eval', 'report']);
  const after = manifests(runDir);
  for (const [stage, startedAt] of before) {
    const rerun = ['synth', 'synth-tokens', 'models/sbp', 'eval', 'report'].includes(stage);
    assert.equal(after.get(stage) !== startedAt, rerun, `${stage} ${rerun ? 'should' : 'should not'} have rerun`);
  }
});

test('sbp experiment killed (SIGKILL) twice at random moments and rerun: completes, keeps finished stages, same outputs', async () => {
  assert.ok(reference, 'needs the uninterrupted run of the test above');
  const runsDir = join(dir, 'killed');
  const runDir = join(runsDir, 'toy');
  const args = [join(repoRoot, 'bin/sbp.js'), 'experiment', '-c', configPath, '--runs-dir', runsDir, '-q'];
  const kept = new Map<string, string>();
  for (let attempt = 0; attempt < 2; attempt++) {
    // Somewhere between the CLI's start (~0.5 s) and the end of an uninterrupted run.
    const delayMs = Math.round(300 + Math.random() * (referenceSeconds * 1000 + 700));
    const child = spawn(process.execPath, args, { cwd: repoRoot, stdio: 'ignore' });
    const timer = setTimeout(() => child.kill('SIGKILL'), delayMs);
    const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
    clearTimeout(timer);
    const finished = existsSync(runDir) ? manifests(runDir) : new Map<string, string>();
    for (const [stage, startedAt] of kept) assert.equal(finished.get(stage), startedAt, `${stage} finished before an earlier kill and must not be redone`);
    for (const [stage, startedAt] of finished) kept.set(stage, startedAt);
    console.log(`uninterrupted run ${referenceSeconds.toFixed(1)} s; attempt ${attempt + 1} killed after ${delayMs} ms (${exit.signal ?? `exit ${exit.code}`}); ${finished.size} stages had finished`);
  }

  const r = runCli(['experiment', '-c', configPath, '--runs-dir', runsDir, '-q']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /experiment .*toy: \d+ of 17 stages ran/);
  assert.match(r.stdout, /of oracle gain/);
  assert.match(r.stdout, /baseline +sbp +oracle/);
  assert.match(r.stdout, /report: .*report\.html/);
  const after = manifests(runDir);
  for (const [stage, startedAt] of kept) assert.equal(after.get(stage), startedAt, `${stage} finished before a kill and must not be redone`);
  assert.deepEqual(fingerprint(runDir), reference);
});

test('sbp experiment stopped like Ctrl-C during training exits 130 with a checkpoint, and the rerun ends where an uninterrupted run does', () => {
  assert.ok(reference, 'needs the uninterrupted run of the first test');
  const runsDir = join(dir, 'stopped');
  const args = ['experiment', '-c', configPath, '--runs-dir', runsDir, '-q'];
  // The stop hook counts steps of this process: 5 lands inside the baseline's 24 steps, after its first checkpoint.
  const stopped = runCli(args, { env: { SBP_TRAIN_STOP_AFTER_STEPS: '5' } });
  assert.equal(stopped.status, 130, stopped.stderr);
  assert.match(stopped.stderr, /training interrupted after step 5; checkpoint in .*models\/baseline\/checkpoint.*finished stages are kept/);
  assert.ok(!existsSync(join(runsDir, 'toy', 'models', 'baseline', 'manifest.json')));
  const r = runCli(args);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(fingerprint(join(runsDir, 'toy')), reference);
});
