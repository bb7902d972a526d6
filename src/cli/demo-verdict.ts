import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ExperimentResult } from '../experiment/experiment-runner.js';
import type { ConditioningSummary } from '../synth/synthesize-stage.js';
import { formatCount } from '../common/progress.js';

const pct = (x: number) => `${Math.round(100 * x)}%`;

/**
 * The demo's result in plain words: what the fraction of oracle gain on held-out perplexity says
 * (helped, hurt, or no measurable effect, by its interval), how any other arm compares, and whether
 * the synthesizer used its seed. Null when the run has no baseline/sbp/oracle comparison.
 */
export function demoVerdict(result: ExperimentResult): string | null {
  const ppl = result.comparison?.find((m) => m.metric === 'heldout/ppl');
  if (!ppl) return null;
  const p = result.plan;
  const lines = ['What this means:'];
  lines.push(
    `  U = ${p.uniqueDocs} documents (${formatCount(p.uniqueTokens)} tokens), repeated ${(p.budgetTokens / p.uniqueTokens).toFixed(0)}× by the baseline; a ${formatCount(p.params)}-parameter model.`,
  );
  const b = ppl.baseline.value;
  const o = ppl.oracle.value;
  const s = ppl.sbp.value;
  if (!(o < b)) {
    lines.push(`  The oracle (${o.toFixed(1)}) is not better than the baseline (${b.toFixed(1)}): repetition did not hurt here, so there is no gain for SBP to recover.`);
  } else {
    const f = ppl.fraction;
    const ci = f.ci ? ` [${pct(f.ci.lo)}, ${pct(f.ci.hi)}]` : '';
    lines.push(`  Held-out perplexity: baseline ${b.toFixed(1)}, SBP ${s.toFixed(1)}, oracle ${o.toFixed(1)}; SBP recovered ${f.value === null ? 'an undefined share' : pct(f.value)}${ci} of the oracle's gain.`);
    if (f.ci && f.ci.lo > 0) lines.push('  SBP helped: on held-out text its model is measurably better than the repetition baseline trained on the same budget.');
    else if (f.ci && f.ci.hi < 0) lines.push('  SBP hurt: its model is measurably worse than the repetition baseline; the synthetic text cost more than it gave.');
    else lines.push('  No measurable effect: the interval includes zero, so this run cannot tell SBP from the repetition baseline.');
    const values = result.results?.metrics['heldout/ppl']?.values ?? {};
    const others = Object.keys(values).filter((l) => !['baseline', 'sbp', 'oracle'].includes(l));
    if (others.length === 0) lines.push('  No control arm ran, so this run cannot say whether the pairs matter: training on any sampled text can also help a baseline that repeats U many times.');
    for (const label of others) {
      const est = values[label]!;
      const fa = (est.value - b) / (o - b);
      lines.push(`  ${label}: perplexity ${est.value.toFixed(1)}, ${pct(fa)} of the oracle's gain; SBP ${s < est.value ? 'beats' : 'does not beat'} it${s < est.value ? '' : ' — the gain is not specific to pairs'}.`);
    }
  }
  const statsPath = join(result.runDir, 'synth', 'stats.json');
  const c = existsSync(statsPath) ? (JSON.parse(readFileSync(statsPath, 'utf8')) as { conditioning?: ConditioningSummary | null }).conditioning : null;
  if (c && c.conditionalGainNatsPerToken !== null) {
    const irr = c.pairIrrelevanceRate === null ? '' : `; ${pct(c.pairIrrelevanceRate)} of its documents are less similar to their seed than mined pairs are (pair-irrelevance)`;
    lines.push(`  The synthesizer: seeing d1 lowers its loss on held-out d2 by ${c.conditionalGainNatsPerToken.toFixed(3)} nats/token${irr}.`);
    if (c.seedLift !== undefined && c.seedLift !== null) {
      const related = c.seedLift < 0.1 ? 'no more related to their seed than a random document is' : c.seedLift < 0.5 ? 'somewhat related to their seed' : 'clearly related to their seed';
      lines.push(`  Seed lift ${c.seedLift.toFixed(2)} (0 = random document, 1 = mined neighbour): what it writes is ${related}.`);
    }
  }
  lines.push('  This is a toy scale: the result says what SBP does for this model on this corpus, not what it does at the paper\'s scale.');
  return lines.join('\n');
}
