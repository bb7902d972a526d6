import { test } from 'node:test';
import assert from 'node:assert/strict';
import { computeMatchedPlan, formatPlan, type PlanInput } from '../../src/experiment/compute-matched-plan.js';
import { UserError } from '../../src/common/errors.js';
import { resolveModelConfig, trainFlopsPerToken } from '../../src/model/config.js';

const model = resolveModelConfig({ preset: 'tiny', hiddenSize: 32, numLayers: 1, numHeads: 2, numKVHeads: 1, headDim: 16, intermediateSize: 64, maxSeqLen: 64 }, { vocabSize: 300 });

function input(over: Partial<PlanInput> & { sel?: Partial<PlanInput['selection']> } = {}): PlanInput {
  const { sel, ...rest } = over;
  return {
    uniqueTokens: 1000,
    budgetTokens: 8000,
    syntheticShare: 0.375,
    oracleFactor: 20,
    selection: { uniqueDocs: 10, uniqueTokens: 1000, oracleDocs: 200, oracleTokens: 20_000, ...sel },
    availableTokens: 50_000,
    model,
    seqLen: 50,
    tokensPerStep: 1000,
    ...rest,
  };
}

// [name, input, steps, budget, S, baseline reps, sbp real reps, oracle reps, shortfall pattern or null]
const table: Array<[string, PlanInput, number, number, number, number, number, number, RegExp | null]> = [
  ['paper shape: 8 repetitions, 37.5% synthetic', input(), 8, 8000, 3000, 8, 5, 0.4, null],
  ['budget rounds up to whole steps; S from the asked B', input({ budgetTokens: 8500 }), 9, 9000, 3188, 9, 5.812, 0.45, null],
  ['no synthetic share: the SBP run is the baseline', input({ syntheticShare: 0 }), 8, 8000, 0, 8, 8, 0.4, null],
  ['U overshoots (documents end where they end)', input({ sel: { uniqueTokens: 1250, oracleTokens: 25_000 } }), 8, 8000, 3000, 6.4, 4, 0.32, null],
  [
    'corpus too small for 20×: oracle gets what there is',
    input({ sel: { oracleDocs: 60, oracleTokens: 6000 }, availableTokens: 6000 }),
    8, 8000, 3000, 8, 5, 8000 / 6000,
    /too small for a 20× oracle: its train split holds 6000 tokens, so the oracle gets 6000 \(6\.0×U\)/,
  ],
  ['oracle factor 5 is met', input({ oracleFactor: 5, sel: { oracleDocs: 50, oracleTokens: 5000 } }), 8, 8000, 3000, 8, 5, 1.6, null],
];

for (const [name, inp, steps, budget, S, baseReps, sbpReps, oracleReps, shortfall] of table) {
  test(`plan: ${name}`, () => {
    const p = computeMatchedPlan(inp);
    assert.equal(p.steps, steps);
    assert.equal(p.budgetTokens, budget);
    assert.equal(p.syntheticTokens, S);
    assert.equal(p.runs.baseline.realTokens, budget);
    assert.equal(p.runs.sbp.realTokens + p.runs.sbp.syntheticTokens, budget, 'SBP is compute-matched');
    assert.equal(p.runs.oracle.realTokens, budget);
    assert.ok(Math.abs(p.runs.baseline.repetitions - baseReps) < 1e-9, `baseline reps ${p.runs.baseline.repetitions}`);
    assert.ok(Math.abs(p.runs.sbp.repetitions - sbpReps) < 1e-9, `sbp reps ${p.runs.sbp.repetitions}`);
    assert.ok(Math.abs(p.runs.oracle.repetitions - oracleReps) < 1e-9, `oracle reps ${p.runs.oracle.repetitions}`);
    if (shortfall) {
      assert.match(p.oracle.shortfall ?? '', shortfall);
      assert.ok(p.notes.includes(p.oracle.shortfall!));
      assert.match(formatPlan(p), /note: the corpus is too small/);
    } else assert.equal(p.oracle.shortfall, null);
  });
}

test('plan: FLOPs are per-token FLOPs × budget, three runs; time from the throughput', () => {
  const p = computeMatchedPlan(input({ throughput: { trainTokensPerSec: 500, source: 'calibration', backend: 'cpu' } }));
  // 6·N_matmul + attention, by hand for this config: C=32, q=32, kv=16, I=64, L=1, V=300, H=2, D=16, T=50.
  const byHand = 6 * (1 * (32 * 32 + 2 * 32 * 16 + 32 * 32 + 3 * 32 * 64) + 300 * 32) + 12 * 1 * 2 * 16 * 50;
  assert.equal(trainFlopsPerToken(model, 50), byHand);
  assert.equal(p.flops.perToken, byHand);
  assert.equal(p.flops.perRun, byHand * 8000);
  assert.equal(p.flops.total, 3 * byHand * 8000);
  assert.equal(p.estimate?.secondsPerRun, 16);
  assert.equal(p.estimate?.totalSeconds, 48);
  assert.match(formatPlan(p), /stored calibration/);
});

test('plan: notes when the budget does not cover U once', () => {
  const p = computeMatchedPlan(input({ budgetTokens: 900, tokensPerStep: 100 }));
  assert.ok(p.notes.some((n) => /smaller than U .* baseline does not see all/.test(n)), p.notes.join('\n'));
  assert.ok(p.notes.some((n) => /real share .* smaller than U/.test(n)));
});

const bad: Array<[string, Partial<PlanInput>, RegExp]> = [
  ['share of 1', { syntheticShare: 1 }, /experiment\.syntheticShare: got 1; a share in \[0, 1\)/],
  ['negative share', { syntheticShare: -0.1 }, /experiment\.syntheticShare/],
  ['zero U', { uniqueTokens: 0 }, /experiment\.uniqueTokens: got 0/],
  ['fractional B', { budgetTokens: 10.5 }, /experiment\.budgetTokens: got 10\.5/],
  ['oracle factor below 1', { oracleFactor: 0.5 }, /experiment\.oracleFactor: got 0\.5/],
];
for (const [name, over, re] of bad) {
  test(`plan error: ${name}`, () => {
    assert.throws(() => computeMatchedPlan(input(over)), (e: unknown) => e instanceof UserError && re.test((e as Error).message));
  });
}
