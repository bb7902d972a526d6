import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { demoVerdict } from '../../src/cli/demo-verdict.js';
import type { ExperimentResult } from '../../src/experiment/experiment-runner.js';
import { tempDir } from '../helpers.js';

function result(b: number, s: number, o: number, ci: [number, number] | null, extra: Record<string, number> = {}): ExperimentResult {
  const est = (value: number) => ({ value, ci: null });
  const runDir = tempDir();
  mkdirSync(join(runDir, 'synth'));
  writeFileSync(join(runDir, 'synth', 'stats.json'), JSON.stringify({ conditioning: { conditionalGainNatsPerToken: 0.123, pairIrrelevanceRate: 0.5, heldoutPairs: 64, seedLift: 0.02 } }));
  const fraction = (s - b) / (o - b);
  return {
    runDir,
    plan: { uniqueDocs: 550, uniqueTokens: 60_000, budgetTokens: 1_200_000, params: 229_800 },
    comparison: [{ metric: 'heldout/ppl', higherIsBetter: false, items: 100, baseline: est(b), sbp: est(s), oracle: est(o), sbpGain: est(s - b), oracleGain: est(o - b), fraction: { value: fraction, ci: ci ? { lo: ci[0], hi: ci[1] } : null, note: null } }],
    results: { metrics: { 'heldout/ppl': { higherIsBetter: false, items: 100, values: Object.fromEntries(Object.entries({ baseline: b, sbp: s, oracle: o, ...extra }).map(([k, v]) => [k, est(v)])) } } },
  } as unknown as ExperimentResult;
}

test('demo verdict: helped, hurt, or no measurable effect, by the interval; other arms; the synthesizer', () => {
  const helped = demoVerdict(result(100, 90, 80, [0.3, 0.7], { selfdistill: 85 }))!;
  assert.match(helped, /U = 550 documents .*repeated 20× by the baseline/);
  assert.match(helped, /SBP recovered 50% \[30%, 70%\] of the oracle's gain/);
  assert.match(helped, /SBP helped/);
  assert.match(helped, /selfdistill: perplexity 85\.0, 75% of the oracle's gain; SBP does not beat it — the gain is not specific to pairs/);
  assert.match(helped, /lowers its loss on held-out d2 by 0\.123 nats\/token; 50% of its documents/);
  assert.match(helped, /Seed lift 0\.02 .*no more related to their seed than a random document is/);
  assert.doesNotMatch(helped, /No control arm ran/);
  const hurt = demoVerdict(result(100, 110, 80, [-0.8, -0.2]))!;
  assert.match(hurt, /SBP hurt/);
  assert.match(hurt, /No control arm ran, so this run cannot say whether the pairs matter/);
  assert.match(demoVerdict(result(100, 99, 80, [-0.1, 0.2]))!, /No measurable effect: the interval includes zero/);
  assert.match(demoVerdict(result(100, 99, 101, null))!, /repetition did not hurt here/);
});
