// `sbp demo` benchmark, printed as one JSON object: the whole tiny experiment (configs/tiny.yaml,
// the Brown corpus installed by npm) in a fresh run directory, with per-stage seconds and the total
// (target: under 15 minutes on 2 cores). Peers measured in the same run:
// 1. the plan's training-time estimate (throughput probe) against the measured time of the three
//    training runs — is the estimate printed before the experiment worth trusting?
// 2. the same command again on the finished run directory: every stage skipped, so the cost of
//    the cache checks alone.
// Usage: npx tsx bench/demo.ts [--set key=value ...]   (e.g. --set threads=2)
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { presetConfigPath } from '../src/cli/experiment.js';
import { resolveConfig } from '../src/config/load.js';
import { runExperiment } from '../src/experiment/experiment-runner.js';

const sets: string[] = [];
for (let i = 2; i < process.argv.length; i++) if (process.argv[i] === '--set' && process.argv[i + 1]) sets.push(process.argv[++i]!);

const work = mkdtempSync(join(tmpdir(), 'sbp-bench-demo-'));
try {
  const cfg = resolveConfig({ file: presetConfigPath('tiny'), sets: [`runsDir=${JSON.stringify(work)}`, 'name="demo"', ...sets] });
  const loadBefore = loadavg()[0];
  const quietLog = () => {};
  const first = await runExperiment({ cfg, quiet: true, log: quietLog });
  const second = await runExperiment({ cfg, quiet: true, log: quietLog });
  const armSeconds = (arm: string) =>
    (JSON.parse(readFileSync(join(first.runDir, 'models', arm, 'manifest.json'), 'utf8')) as { timings: { seconds: number } }).timings.seconds;
  // Every training run the plan lists (the estimate covers these), and the baseline search's runs apart.
  const trainingSeconds = first.plan.trainingRuns.reduce((s, r) => s + armSeconds(r.name), 0);
  const searchSeconds = (first.plan.search?.runs ?? []).reduce((s, r) => s + armSeconds(r), 0);
  const round = (x: number) => Math.round(x * 100) / 100;
  const metrics = first.results
    ? Object.fromEntries(Object.entries(first.results.metrics).map(([m, v]) => [m, Object.fromEntries(Object.entries(v.values).map(([k, e]) => [k, round(e.value)]))]))
    : null;
  console.log(
    JSON.stringify(
      {
        bench: 'demo',
        machine: { cpus: availableParallelism(), cpu: cpus()[0]?.model ?? 'unknown', loadavg1Before: round(loadBefore ?? 0), loadavg1After: round(loadavg()[0] ?? 0) },
        config: 'configs/tiny.yaml',
        overrides: sets,
        totalSeconds: round(first.seconds),
        targetSeconds: 15 * 60,
        stages: Object.fromEntries(first.stages.map((s) => [s.name, round(s.seconds)])),
        plan: {
          params: first.plan.params,
          uniqueTokens: first.plan.uniqueTokens,
          budgetTokens: first.plan.budgetTokens,
          syntheticTokens: first.plan.syntheticTokens,
          oracleTokens: first.plan.oracle.tokens,
          estimate: first.plan.estimate,
        },
        trainingEstimateVsMeasured: {
          estimatedSeconds: first.plan.estimate ? round(first.plan.estimate.totalSeconds) : null,
          measuredSeconds: round(trainingSeconds),
          ratio: first.plan.estimate ? round(trainingSeconds / first.plan.estimate.totalSeconds) : null,
        },
        cachedRerun: { seconds: round(second.seconds), stagesRun: second.stages.filter((s) => !s.skipped).map((s) => s.name) },
        metrics,
        fractionOfOracleGain: first.comparison
          ? Object.fromEntries(first.comparison.map((c) => [c.metric, c.fraction.value === null ? null : { value: round(c.fraction.value), ci: c.fraction.ci ? [round(c.fraction.ci.lo), round(c.fraction.ci.hi)] : null }]))
          : null,
        search: first.plan.search ? { grid: first.plan.search.weightDecay, seconds: round(searchSeconds), estimatedSeconds: first.plan.search.cost.seconds !== null ? round(first.plan.search.cost.seconds) : null, chosen: JSON.parse(readFileSync(join(first.runDir, 'search', 'search.json'), 'utf8')) } : null,
        sbpMinusControls: first.sweep?.variants.find((v) => v.name === 'sbp')?.versus
          ? Object.fromEntries(
              Object.entries(first.sweep.variants.find((v) => v.name === 'sbp')!.versus!).map(([c, ds]) => [
                c,
                Object.fromEntries(ds.map((d) => [d.metric, { value: round(d.difference.value), ci: d.difference.ci ? [round(d.difference.ci.lo), round(d.difference.ci.hi)] : null }])),
              ]),
            )
          : null,
        controlFractions: first.sweep ? Object.fromEntries(first.sweep.variants.filter((v) => v.name !== 'sbp').map((v) => { const f = v.metrics.find((m) => m.metric === 'heldout/ppl')!.fraction; return [v.name, f.value === null ? null : { value: round(f.value), ci: f.ci ? [round(f.ci.lo), round(f.ci.hi)] : null }]; })) : null,
      },
      null,
      2,
    ),
  );
} finally {
  rmSync(work, { recursive: true, force: true });
}
