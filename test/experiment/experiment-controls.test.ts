import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { resolveConfig } from '../../src/config/load.js';
import { runExperiment } from '../../src/experiment/experiment-runner.js';
import { readDocList } from '../../src/experiment/doc-list-file.js';
import { formatPlan } from '../../src/experiment/compute-matched-plan.js';
import { formatResultsTable } from '../../src/eval/results-table.js';
import { readPairsFile } from '../../src/pairs/pairs-file.js';
import { drawRandomPairs } from '../../src/pairs/random-pairs.js';
import { PhasedSampler } from '../../src/experiment/phased-sampler.js';
import { formatSearch, searchEdgeNote, type SearchResult } from '../../src/experiment/baseline-search.js';
import { MixtureBatchSource } from '../../src/experiment/mixture-batch-source.js';
import type { TokenizedDocuments } from '../../src/tokens/token-dataset.js';
import { runCli, tempDir } from '../helpers.js';
import { writeToyConfig } from './toy-experiment.js';

/**
 * The toy experiment with both control arms, the baseline's weight-decay search and learning curves:
 * every arm trains on what its config says (sources and token counts), the search chooses on a
 * validation split outside every run's data and every run uses the choice, and eval reports SBP −
 * each control with paired-bootstrap intervals.
 */
type ArmStats = {
  arm: string;
  steps: number;
  tokens: number;
  data: Record<string, { docs: number; tokens: number; drawnTokens?: number }>;
  sources: Record<string, string>;
  train: { weightDecay: number; evalEvery: number; seed: number };
  heldout: { heldoutLoss: number } | null;
  validation?: { loss: number };
  copiedFrom?: string;
};

test('controls, baseline search and learning curves: each arm trains on its own data, every run uses the searched weight decay, SBP − control with intervals', async () => {
  const dir = tempDir('sbp-controls-');
  const configPath = writeToyConfig(dir, { controls: ['selfdistill', 'randompairs'], baselineSearch: { weightDecay: [0.1, 1.6], validationTokens: 300 }, evalPoints: 4 });
  const cfg = resolveConfig({ file: configPath });
  const lines: string[] = [];
  const first = await runExperiment({ cfg, quiet: true, log: (l) => lines.push(l) });
  const runDir = first.runDir;
  const names = first.stages.map((s) => s.name);
  for (const n of ['search-wd0.1', 'search-wd1.6', 'search', 'pairs-random', 'synthesizer-randompairs', 'synth-randompairs', 'synth-tokens-randompairs', 'synth-selfdistill', 'synth-tokens-selfdistill', 'selfdistill', 'randompairs']) {
    assert.equal(names.filter((x) => x === n).length, 1, `${n} runs once`);
  }
  assert.ok(names.indexOf('search') < names.indexOf('baseline'), 'the search decides before the baseline trains');
  const stats = <T>(stage: string) => (JSON.parse(readFileSync(join(runDir, stage, 'manifest.json'), 'utf8')) as { stats: T }).stats;

  // The plan lists every run and the search (grid, cost); the search's choice is every run's weight decay.
  const plan = first.plan;
  assert.deepEqual(plan.trainingRuns.map((r) => r.name), ['baseline', 'sbp', 'selfdistill', 'randompairs', 'oracle']);
  assert.deepEqual(plan.search?.weightDecay, [0.1, 1.6]);
  assert.equal(plan.search?.cost.runs, 1, 'the chosen search run is the baseline: one extra run');
  assert.match(formatPlan(plan), /baseline search: weight decay ∈ \{0\.1, 1\.6\}.*cost 1 extra runs/);
  const search = stats<{ chosen: number; grid: Array<{ value: number; validationLoss: number }> }>('search');
  const best = search.grid.reduce((a, b) => (b.validationLoss < a.validationLoss ? b : a));
  assert.equal(search.chosen, best.value);
  assert.ok(lines.some((l) => l.includes(`every run trains with weight decay ${search.chosen}`)));
  for (const v of [0.1, 1.6]) {
    const s = stats<ArmStats>(`models/search-wd${v}`);
    assert.equal(s.train.weightDecay, v);
    assert.match(s.sources.validation!, /validation-docs\.bin/);
    assert.equal(s.validation!.loss, search.grid.find((g) => g.value === v)!.validationLoss);
    assert.notEqual(s.validation!.loss, s.heldout!.heldoutLoss, 'scored on the validation split, not the held-out one');
  }
  // The first seed's baseline is the chosen search run (it trained exactly that), copied, not trained again.
  assert.equal(stats<ArmStats>('models/baseline').copiedFrom, `search-wd${search.chosen}`);
  assert.deepEqual(readFileSync(join(runDir, 'models', 'baseline', 'model.safetensors')), readFileSync(join(runDir, 'models', `search-wd${search.chosen}`, 'model.safetensors')));

  // The validation split is outside U and outside the oracle (a superset of U).
  const sel = stats<{ uniqueDocs: number; oracleDocs: number; validationDocs: number; availableDocs: number }>('corpus');
  const oracleDocs = new Set(readDocList(join(runDir, 'corpus', 'oracle-docs.bin'), ''));
  const validationDocs = readDocList(join(runDir, 'corpus', 'validation-docs.bin'), '');
  assert.equal(validationDocs.length, sel.validationDocs);
  assert.ok(validationDocs.length > 0);
  for (const d of validationDocs) assert.ok(!oracleDocs.has(d), `validation document ${d} is in the oracle subset`);
  assert.ok(sel.oracleDocs + sel.validationDocs <= sel.availableDocs);

  // Each arm: compute-matched (same steps and tokens), the searched weight decay, and its own data.
  const arms = ['baseline', 'sbp', 'selfdistill', 'randompairs', 'oracle'].map((a) => ({ a, s: stats<ArmStats>(`models/${a}`) }));
  for (const { a, s } of arms) {
    assert.equal(s.steps, plan.steps, a);
    assert.equal(s.tokens, arms[0]!.s.tokens, a);
    assert.equal(s.train.weightDecay, search.chosen, `${a} trains with the searched weight decay`);
    assert.equal(s.train.evalEvery, Math.floor(plan.steps / 4));
  }
  const arm = (a: string) => arms.find((x) => x.a === a)!.s;
  assert.deepEqual(Object.keys(arm('baseline').sources), ['real', 'validation']);
  assert.deepEqual(Object.keys(arm('oracle').sources), ['oracle']);
  const S = plan.syntheticTokens;
  for (const [a, folder] of [['sbp', 'synth-tokens'], ['selfdistill', 'synth-tokens-selfdistill'], ['randompairs', 'synth-tokens-randompairs']] as const) {
    const s = arm(a);
    assert.equal(s.sources.synthetic, `${folder} (train)`, `${a} reads its own synthetic tokens`);
    const stream = stats<{ splits: { train: { docs: number; tokens: number } } }>(folder).splits.train;
    assert.deepEqual([s.data.synthetic!.docs, s.data.synthetic!.tokens], [stream.docs, stream.tokens], `${a}: the synthetic component is ${folder}`);
    const drawn = s.data.synthetic!.drawnTokens!;
    assert.ok(drawn > 0.8 * S && drawn <= S + 200, `${a} drew ${drawn} synthetic tokens for S = ${S}`);
  }
  // selfdistill samples the baseline without a seed; randompairs tunes on as many random pairs as were mined.
  const sd = stats<{ model: string; framing: { d1Budget: number } }>('synth-selfdistill');
  assert.equal(sd.model, 'baseline');
  const sdDocs = readFileSync(join(runDir, 'synth-selfdistill', 'train-00000.jsonl'), 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { meta: { max_tokens: number } });
  assert.ok(sdDocs.every((d) => d.meta.max_tokens === 32 + 1 - 3 - sd.framing.d1Budget), 'an unconditioned sample has the length limit of an SBP sample with a full d1');
  const mined = readPairsFile(join(runDir, 'pairs', 'pairs.bin')).pairs;
  const random = readPairsFile(join(runDir, 'pairs-random', 'pairs.bin')).pairs;
  assert.equal(random.d1.length, mined.d1.length);
  assert.ok(random.d1.every((d, i) => d !== random.d2[i]), 'no self-pairs');
  assert.equal(stats<{ model: string }>('synth-randompairs').model, 'synthesizer-randompairs');

  // Eval: every run, learning curves, SBP − each control with intervals, and the controls' own fraction.
  const r = first.results!;
  assert.deepEqual(Object.keys(r.models), ['baseline', 'sbp', 'selfdistill', 'randompairs', 'oracle']);
  for (const m of Object.keys(r.models)) {
    const curve = r.curves![m]!;
    assert.ok(curve.length >= 5, `${m}: ${curve.length} curve points`);
    assert.equal(curve[0]!.step, 0);
    assert.equal(curve.at(-1)!.step, plan.steps);
  }
  const cmp = JSON.parse(readFileSync(join(runDir, 'eval', 'comparison.json'), 'utf8')) as { controls: Array<{ control: string; run: string; metrics: Array<{ metric: string; sbp: { value: number }; control: { value: number }; difference: { value: number; ci: { lo: number; hi: number } } }> }> };
  assert.deepEqual(cmp.controls.map((c) => c.control), ['selfdistill', 'randompairs']);
  for (const c of cmp.controls) {
    const ppl = c.metrics.find((m) => m.metric === 'heldout/ppl')!;
    assert.equal(ppl.sbp.value, r.metrics['heldout/ppl']!.values.sbp!.value);
    assert.equal(ppl.control.value, r.metrics['heldout/ppl']!.values[c.run]!.value);
    assert.ok(Math.abs(ppl.difference.value - (ppl.sbp.value - ppl.control.value)) < 1e-9);
    assert.ok(ppl.difference.ci.lo <= ppl.difference.value && ppl.difference.value <= ppl.difference.ci.hi);
  }
  const table = formatResultsTable(r, first.comparison, first.sweep);
  assert.match(table, /baseline +sbp +selfdistill +randompairs +oracle/);
  assert.match(table, /SBP − selfdistill +SBP − randompairs/);
  assert.match(table, /^heldout\/ppl ↓ +[+-]\d+\.\d+ \[[+-]\d/m);
  assert.match(table, /the controls' own fraction of oracle gain on heldout\/ppl: selfdistill -?\d+%/);
  const html = readFileSync(join(runDir, 'report.html'), 'utf8');
  assert.match(html, /SBP − selfdistill/);
  assert.match(html, /SBP − randompairs/);

  // `sbp eval` on the experiment's config finds the same evaluation.
  const cli = runCli(['eval', '-c', configPath, '-q']);
  assert.equal(cli.status, 0, cli.stderr);
  assert.match(cli.stderr, /is up to date/);
  assert.match(cli.stdout, /SBP − selfdistill/);

  // Synthetic first: the same runs, the synthetic documents drawn before any real one; only the synthetic arms rerun.
  const ordered = await runExperiment({ cfg: resolveConfig({ file: configPath, sets: ['experiment.dataOrder=synthetic-first'] }), quiet: true, log: () => {} });
  const reran = ordered.stages.filter((s) => !s.skipped).map((s) => s.name);
  assert.deepEqual(reran.filter((n) => !['plan', 'eval', 'report'].includes(n)).sort(), ['randompairs', 'sbp', 'selfdistill']);
  assert.equal(stats<{ dataOrder: string }>('models/sbp').dataOrder, 'synthetic-first');
  assert.ok(existsSync(join(runDir, 'models', 'sbp', 'model.safetensors')));
});

test('random pairs: as many as asked, distinct, never a document with itself, deterministic', () => {
  const a = drawRandomPairs(20, 150, 3);
  assert.equal(a.d1.length, 150);
  const keys = new Set(Array.from(a.d1, (d, i) => `${d}-${a.d2[i]}`));
  assert.equal(keys.size, 150);
  assert.ok(a.d1.every((d, i) => d !== a.d2[i] && d < 20 && a.d2[i]! < 20));
  assert.deepEqual(drawRandomPairs(20, 150, 3), a);
  assert.notDeepEqual(drawRandomPairs(20, 150, 4), a);
  assert.deepEqual(drawRandomPairs(3, 6, 1).d1.length, 6); // every distinct pair of 3 documents
  assert.throws(() => drawRandomPairs(3, 7, 1), /holds only 6 distinct pairs|hold only 6/);
});

/** Documents of given lengths whose tokens name their collection and number. */
function docs(lengths: number[], base: number): TokenizedDocuments {
  return {
    numDocs: lengths.length,
    numTokens: lengths.reduce((a, b) => a + b, 0),
    vocabSize: 1000,
    docLength: (i) => lengths[i]!,
    doc: (i) => Uint32Array.from({ length: lengths[i]! }, () => base + i),
    docId: (i) => `${base}-${i}`,
  } as TokenizedDocuments;
}

test('PhasedSampler: every synthetic document once, then only real ones; a saved state resumes exactly', () => {
  const synthetic = docs([3, 4, 5], 100);
  const real = docs([2, 2], 200);
  const make = () => new PhasedSampler([{ name: 'synthetic', source: synthetic, weight: 1, epochs: 1 }, { name: 'real', source: real, weight: 1 }], { seed: 5 });
  const s = make();
  const draws = Array.from({ length: 9 }, () => s.next()!);
  assert.deepEqual(draws.slice(0, 3).map((d) => d.component), [0, 0, 0]);
  assert.deepEqual(new Set(draws.slice(0, 3).map((d) => d.doc)), new Set([0, 1, 2]));
  assert.ok(draws.slice(3).every((d) => d.component === 1));
  assert.deepEqual(s.drawnTokens(), { synthetic: 12, real: 12 });
  const t = make();
  const src = new MixtureBatchSource(t, 2, 4, { bos: 1, eos: 2, sep: 3, pad: 0 });
  src.next();
  const saved = JSON.parse(JSON.stringify(src.state()));
  const expected = Array.from(src.next().tokens);
  const resumed = new MixtureBatchSource(make(), 2, 4, { bos: 1, eos: 2, sep: 3, pad: 0 });
  resumed.restore(saved);
  assert.deepEqual(Array.from(resumed.next().tokens), expected);
});

test('baseline search: a choice at either end of the grid says the best value may lie beyond it', () => {
  const result = (chosen: number): SearchResult => ({
    parameter: 'weightDecay',
    grid: [0.1, 0.4, 1.6].map((value) => ({ value, run: `search-wd${value}`, validationLoss: value === chosen ? 5 : 6 })),
    chosen,
  });
  assert.match(formatSearch(result(1.6)), /weight decay 1\.6 — the largest value of the grid: a larger one may be better; add e\.g\. 6\.4 to experiment\.baselineSearch\.weightDecay/);
  assert.match(searchEdgeNote(result(0.1)), /the smallest value of the grid: .* add e\.g\. 0\.025/);
  assert.equal(searchEdgeNote(result(0.4)), '');
  assert.equal(searchEdgeNote({ parameter: 'weightDecay', grid: [{ value: 0.4, run: 'search-wd0.4', validationLoss: 5 }], chosen: 0.4 }), '');
});
