import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { resolveConfig } from '../../src/config/load.js';
import { UserError } from '../../src/common/errors.js';
import { runExperiment } from '../../src/experiment/experiment-runner.js';
import { experimentSweep } from '../../src/experiment/sweep.js';
import { formatResultsTable } from '../../src/eval/results-table.js';
import { runCli, tempDir } from '../helpers.js';
import { writeToyConfig } from './toy-experiment.js';

/**
 * A sweep at toy size: 2 synthetic shares × 2 α quantiles × 2 seeds in one experiment — 2 baselines,
 * 8 SBP runs and 2 oracles, pairs / synthesizer / synthesis once per α — checked for its folders,
 * the synthetic tokens each share's run drew, the results rows and a fully cached rerun.
 */
const SHARES = [0.25, 0.5];
const QUANTILES = [0.4, 0.6];
const SEEDS = [1, 2];

type ArmStats = { steps: number; tokens: number; data: Record<string, { docs: number; tokens: number; drawnTokens?: number }> };
type SynthStats = { targetTokens: number; keptTokens: number; shards: number };

test('a sweep of shares, α quantiles and seeds: shared stages once, synthesis once per α, each share a prefix, rows per variant, cached rerun', async () => {
  const dir = tempDir('sbp-sweep-');
  const configPath = writeToyConfig(dir, { syntheticShares: SHARES, alphaQuantiles: QUANTILES, seeds: SEEDS });
  const cfg = resolveConfig({ file: configPath });
  const first = await runExperiment({ cfg, quiet: true, log: () => {} });
  const runDir = first.runDir;
  const sbpRuns = SHARES.flatMap((s) => QUANTILES.flatMap((q) => SEEDS.map((seed) => `sbp-share${s}-alphaq${q}-seed${seed}`)));
  const expectedRuns = [...SEEDS.map((s) => `baseline-seed${s}`), ...sbpRuns, ...SEEDS.map((s) => `oracle-seed${s}`)];
  const names = first.stages.map((s) => s.name);
  for (const n of [...expectedRuns, 'embed', 'eval', 'report']) assert.equal(names.filter((x) => x === n).length, 1, `${n} runs once`);
  for (const q of QUANTILES) for (const st of ['pairs', 'synthesizer', 'synth', 'synth-tokens']) assert.equal(names.filter((x) => x === `${st}-alphaq${q}`).length, 1, `${st} once per α`);
  assert.ok(!names.includes('sbp') && !names.includes('pairs') && !names.includes('synth'), 'no unsuffixed variant stage');

  // Every run and per-α stage has its own folder with a manifest.
  const models = readdirSync(join(runDir, 'models')).sort();
  assert.deepEqual(models, [...expectedRuns, ...QUANTILES.map((q) => `synthesizer-alphaq${q}`)].sort());
  for (const m of models) assert.ok(existsSync(join(runDir, 'models', m, 'manifest.json')), `models/${m} finished`);
  for (const q of QUANTILES) for (const st of ['pairs', 'synth', 'synth-tokens']) assert.ok(existsSync(join(runDir, `${st}-alphaq${q}`, 'manifest.json')));

  const manifest = <T>(stage: string) => (JSON.parse(readFileSync(join(runDir, stage, 'manifest.json'), 'utf8')) as { stats: T }).stats;
  const plan = first.plan;
  // Synthesis ran once per α, for the largest share; each α mined its own pairs.
  const largest = Math.round(Math.max(...SHARES) * plan.requested.budgetTokens);
  for (const q of QUANTILES) assert.equal(manifest<SynthStats>(`synth-alphaq${q}`).targetTokens, largest);
  const alphas = QUANTILES.map((q) => manifest<{ alpha: { value: number; quantile: number } }>(`pairs-alphaq${q}`).alpha);
  assert.deepEqual(alphas.map((a) => a.quantile), QUANTILES);
  assert.ok(alphas[0]!.value < alphas[1]!.value, 'a higher quantile is a higher α');

  // Compute-matched: every run takes the same steps; each share's SBP run drew its share of synthetic tokens
  // from a prefix of its α's stream (the largest share from the whole stream), and each seed is its own run.
  const steps = new Set(expectedRuns.map((r) => manifest<ArmStats>(`models/${r}`).steps));
  assert.deepEqual([...steps], [plan.steps]);
  for (const q of QUANTILES) {
    const stream = manifest<{ splits: { train: { docs: number; tokens: number } } }>(`synth-tokens-alphaq${q}`).splits.train;
    for (const share of SHARES) {
      const S = Math.round(share * plan.requested.budgetTokens);
      const data = manifest<ArmStats>(`models/sbp-share${share}-alphaq${q}-seed1`).data;
      const drawn = data.synthetic!.drawnTokens!;
      assert.ok(drawn > 0.8 * S && drawn <= S + 200, `share ${share}: drew ${drawn} synthetic tokens for S = ${S}`);
      if (share === Math.max(...SHARES)) assert.equal(data.synthetic!.docs, stream.docs, 'the largest share reads the whole stream');
      else assert.ok(data.synthetic!.docs < stream.docs && data.synthetic!.tokens >= S, `share ${share}: a prefix of ${data.synthetic!.docs} of ${stream.docs} documents holding ${data.synthetic!.tokens} >= ${S} tokens`);
    }
  }
  const weights = (run: string) => readFileSync(join(runDir, 'models', run, 'model.safetensors'));
  assert.notDeepEqual(weights('baseline-seed1'), weights('baseline-seed2'), 'two seeds, two baselines');

  // The plan lists every run; the results hold one row per variant, each averaged over its seeds.
  const planFile = JSON.parse(readFileSync(join(runDir, 'experiment', 'plan.json'), 'utf8')) as { sweep: { runs: Array<{ name: string; syntheticTokens: number }> } };
  assert.deepEqual(planFile.sweep.runs.map((r) => r.name), expectedRuns);
  assert.ok(first.results && first.sweep);
  assert.deepEqual(Object.keys(first.results.models), expectedRuns);
  const groups = SHARES.flatMap((s) => QUANTILES.map((q) => `sbp-share${s}-alphaq${q}`));
  assert.deepEqual(first.sweep.groups.map((g) => g.group), groups);
  for (const g of first.sweep.groups) {
    assert.deepEqual(g.runs, SEEDS.map((s) => `${g.group}-seed${s}`));
    const ppl = g.metrics.find((m) => m.metric === 'heldout/ppl')!;
    const perSeed = first.sweep.variants.filter((v) => v.group === g.group).map((v) => v.metrics.find((m) => m.metric === 'heldout/ppl')!);
    // Each seed's SBP run is compared with the baseline and oracle of that seed.
    perSeed.forEach((c, k) => {
      assert.equal(c.baseline.value, first.results!.metrics['heldout/ppl']!.values[`baseline-seed${SEEDS[k]}`]!.value);
      assert.equal(c.oracle.value, first.results!.metrics['heldout/ppl']!.values[`oracle-seed${SEEDS[k]}`]!.value);
    });
    const fractions = perSeed.map((c) => c.fraction.value!);
    assert.ok(Math.abs(ppl.fraction!.mean - (fractions[0]! + fractions[1]!) / 2) < 1e-12);
    assert.equal(ppl.fraction!.n, 2);
  }
  const table = formatResultsTable(first.results, first.comparison, first.sweep);
  for (const g of groups) assert.match(table, new RegExp(`^${g.replace(/\./g, '\\.')} +2 +-?\\d+% ± \\d+%`, 'm'));
  // The report: one row per variant in the results, one held-out-loss line per variant (seeds averaged), the first α's pairs.
  const html = readFileSync(join(runDir, 'report.html'), 'utf8');
  const results = html.slice(html.indexOf('<section id="results"'), html.indexOf('</section>', html.indexOf('<section id="results"')));
  assert.match(results, /Fraction of oracle gain per variant/);
  for (const g of groups) assert.match(results, new RegExp(`<td>${g.replace(/\./g, '\\.')}</td><td>2</td>`), `a results row for ${g}`);
  assert.match(html, /one line per variant \(the mean over its seeds\)/);
  assert.match(html, /the first, α quantile 0\.4 \(pairs-alphaq0\.4\//);
  assert.doesNotMatch(html, /Not run yet/);

  // `sbp eval` on the sweep's config finds the same evaluation done and prints the same rows.
  const cli = runCli(['eval', '-c', configPath, '-q']);
  assert.equal(cli.status, 0, cli.stderr);
  assert.match(cli.stderr, /eval: .* is up to date/);
  for (const g of groups) assert.match(cli.stdout, new RegExp(`^${g.replace(/\./g, '\\.')} +2 +-?\\d+% ± \\d+%`, 'm'));

  // A rerun is fully cached.
  const again = await runExperiment({ cfg, quiet: true, log: () => {} });
  assert.deepEqual(again.stages.filter((s) => !s.skipped).map((s) => s.name), []);
  // Adding a seed trains only that seed's runs (and re-plans, re-evaluates).
  const more = resolveConfig({ file: configPath, sets: ['experiment.seeds=[1,2,3]'] });
  const third = await runExperiment({ cfg: more, quiet: true, log: () => {} });
  const ran = third.stages.filter((s) => !s.skipped).map((s) => s.name);
  assert.deepEqual(ran.filter((n) => !['plan', 'eval', 'report'].includes(n)).sort(), ['baseline-seed3', 'oracle-seed3', ...groups.map((g) => `${g}-seed3`)].sort());
});

const bad: Array<[string, string[], RegExp]> = [
  ['an empty list', ['experiment.seeds=[]'], /experiment\.seeds: got \[\]; a list of at least one value/],
  ['a share of 1', ['experiment.syntheticShares=[0.25,1]'], /experiment\.syntheticShares\.1: got 1; Number must be less than 1/],
  ['a share of 0', ['experiment.syntheticShares=[0]'], /experiment\.syntheticShares\.0: got 0; Number must be greater than 0/],
  ['a duplicate', ['experiment.alphas=[0.6,0.75,0.6]'], /experiment\.alphas: got \[0\.6,0\.75,0\.6\]; each value once \(0\.6 given twice\)/],
  ['an α outside [-1, 1]', ['experiment.alphas=[1.5]'], /experiment\.alphas\.0: got 1\.5/],
  ['a fractional seed', ['experiment.seeds=[1.5]'], /experiment\.seeds\.0: got 1\.5; Expected integer/],
];
for (const [name, sets, re] of bad) {
  test(`sweep config error: ${name}`, () => {
    assert.throws(() => resolveConfig({ sets }), (err: unknown) => err instanceof UserError && re.test(err.message));
  });
}

test('sweep: α values next to pair.alphaQuantile, or both α lists, are user errors', () => {
  const q = resolveConfig({ sets: ['experiment.alphas=[0.6]', 'pair.alphaQuantile=0.5'] });
  assert.throws(() => experimentSweep(q), (e: unknown) => e instanceof UserError && /experiment\.alphas: pair\.alphaQuantile \(0\.5\) is set/.test((e as Error).message));
  const both = resolveConfig({ sets: ['experiment.alphas=[0.6]', 'experiment.alphaQuantiles=[0.5]'] });
  assert.throws(() => experimentSweep(both), /experiment\.alphas and experiment\.alphaQuantiles are both set/);
  const none = experimentSweep(resolveConfig());
  assert.deepEqual([none.shares, none.alphas.map((a) => a.suffix), none.seeds.map((s) => s.suffix)], [[0.375], [''], ['']]);
});
