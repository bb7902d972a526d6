// Where SBP starts to pay: the compute-matched experiment at several scale points (configs/scale-*.yaml:
// model size and U grow together, B = 20×U) on several real corpora, then, per point, every arm's
// held-out perplexity and its fraction of the oracle's gain with a paired-bootstrap interval over
// held-out documents (read from eval/items.json, so any arm the experiment trains — sbp and whatever
// control arms exist — is picked up), and each arm's gap to sbp (fraction_sbp − fraction_arm, paired).
// Runs `sbp experiment` for each point that has not finished (finished stages are reused), one at a
// time. Prints one JSON object; --dry lists the runs without running them.
// Usage: nice -n 10 npx tsx bench/scaling.ts [--corpora brown-passages,gcide,linux-doc] [--points scale-1,scale-2,scale-3]
//        [--runs-dir runs/scaling] [--samples 1000] [--dry] [--only-read]
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { compareMetric, pairedBootstrap, percentileInterval, metricValue, type ItemMetric, type Interval } from '../src/eval/compare.js';
import { flag } from './train.js';

/** Real corpora sbp reads, by the names this runner takes. */
export const CORPORA: Record<string, unknown[]> = {
  'brown-passages': [{ kind: 'brown', passageWords: 80 }],
  gcide: [{ kind: 'gcide' }],
  'linux-doc': [{ kind: 'linux-doc' }],
  manpages: [{ kind: 'manpages' }],
  'python-doc': [{ kind: 'python-doc' }],
  'spam-assassin': [{ kind: 'spam-assassin' }],
};

interface ItemsFile {
  sets: Record<string, { kind: string; ids: string[]; models: Record<string, { nats: number[]; tokens: number[] }> }>;
}

interface ArmPoint {
  heldoutPpl: number;
  fraction: number | null;
  ci: Interval | null;
  /** fraction(sbp) − fraction(this arm), paired over documents; absent for sbp itself. */
  sbpMinusArm?: { value: number; ci: Interval | null };
}

/** Every arm of one finished run, against its baseline and oracle, on the held-out split. */
export function armsOfRun(evalDir: string, samples: number, seed: number): { models: Record<string, number>; arms: Record<string, ArmPoint> } | null {
  const itemsPath = join(evalDir, 'items.json');
  if (!existsSync(itemsPath)) return null;
  const items = JSON.parse(readFileSync(itemsPath, 'utf8')) as ItemsFile;
  const set = items.sets.heldout;
  if (!set || set.kind !== 'perplexity') return null;
  const metric: ItemMetric = {
    name: 'heldout/ppl',
    higherIsBetter: false,
    transform: 'exp',
    items: Object.fromEntries(Object.entries(set.models).map(([label, m]) => [label, { num: Float64Array.from(m.nats), den: Float64Array.from(m.tokens) }])),
  };
  const labels = Object.keys(metric.items);
  const models = Object.fromEntries(labels.map((l) => [l, metricValue('exp', metric.items[l]!)]));
  if (!labels.includes('baseline') || !labels.includes('oracle')) return { models, arms: {} };
  const opts = { samples, confidence: 0.95, seed };
  const arms: Record<string, ArmPoint> = {};
  const frac = (arm: string, idx: Uint32Array | null) => {
    const b = metricValue('exp', metric.items.baseline!, idx);
    const o = metricValue('exp', metric.items.oracle!, idx);
    return (metricValue('exp', metric.items[arm]!, idx) - b) / (o - b);
  };
  const n = set.ids.length;
  for (const arm of labels.filter((l) => l !== 'baseline' && l !== 'oracle')) {
    const c = compareMetric(metric, { baseline: 'baseline', sbp: arm, oracle: 'oracle' }, opts);
    arms[arm] = { heldoutPpl: models[arm]!, fraction: c.fraction.value, ci: c.fraction.ci };
    if (arm !== 'sbp' && labels.includes('sbp')) {
      const reps = samples > 0 ? pairedBootstrap(n, opts, (idx) => [frac('sbp', idx) - frac(arm, idx)])[0]! : null;
      arms[arm]!.sbpMinusArm = { value: frac('sbp', null) - frac(arm, null), ci: reps ? percentileInterval(reps, 0.95) : null };
    }
  }
  return { models, arms };
}

async function main(): Promise<void> {
  const corpora = flag('corpora', 'brown-passages,gcide,linux-doc').split(',');
  const points = flag('points', 'scale-1,scale-2,scale-3').split(',');
  const runsDir = flag('runs-dir', 'runs/scaling');
  const samples = Number(flag('samples', '1000'));
  const dry = process.argv.includes('--dry');
  const onlyRead = process.argv.includes('--only-read');
  const out: unknown[] = [];
  for (const corpus of corpora) {
    const sources = CORPORA[corpus];
    if (!sources) throw new Error(`unknown corpus ${corpus}; one of ${Object.keys(CORPORA).join(', ')}`);
    for (const point of points) {
      const run = `${corpus}-${point}`;
      const args = ['bin/sbp.js', 'experiment', '-c', `configs/${point}.yaml`, '--run', run, '--runs-dir', runsDir, '--set', `prepare.sources=${JSON.stringify(sources)}`, '-q'];
      if (dry) {
        out.push({ run, command: `node ${args.join(' ')}` });
        continue;
      }
      let seconds: number | null = null;
      if (!onlyRead) {
        const t0 = performance.now();
        const r = spawnSync('node', args, { stdio: ['ignore', 'ignore', 'inherit'] });
        seconds = Math.round((performance.now() - t0) / 1000);
        if (r.status !== 0) {
          out.push({ run, corpus, point, error: `sbp experiment exited ${r.status}` });
          continue;
        }
      }
      const dir = join(runsDir, run);
      const plan = existsSync(join(dir, 'experiment/plan.json')) ? (JSON.parse(readFileSync(join(dir, 'experiment/plan.json'), 'utf8')) as Record<string, unknown>) : null;
      const synthStats = existsSync(join(dir, 'synth/stats.json')) ? (JSON.parse(readFileSync(join(dir, 'synth/stats.json'), 'utf8')) as { conditioning?: unknown }) : null;
      out.push({
        run,
        corpus,
        point,
        seconds,
        params: (plan as { params?: number } | null)?.params ?? null,
        uniqueTokens: (plan as { uniqueTokens?: number } | null)?.uniqueTokens ?? null,
        budgetTokens: (plan as { budgetTokens?: number } | null)?.budgetTokens ?? null,
        conditioning: synthStats?.conditioning ?? null,
        ...armsOfRun(join(dir, 'eval'), samples, 1),
      });
    }
  }
  console.log(JSON.stringify({ bench: 'scaling', metric: 'heldout/ppl', interval: 'paired bootstrap over held-out documents, 95%', points: out }, null, 1));
}

if (import.meta.url === pathToFileURL(process.argv[1]!).href) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
