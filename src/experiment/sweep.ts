import { UserError } from '../common/errors.js';
import type { PairConfig, RunConfig } from '../config/schema.js';
import type { VariantComparisonSpec } from '../eval/variant-summary.js';
import { ARM_TABLE, type Arm, type Control } from './arm-table.js';

/**
 * The experiment's runs. A plain experiment is a sweep of one: one share, one α, one seed, and every
 * name without a suffix. A sweep has several synthetic shares, α thresholds and seeds. What can be
 * shared is shared: the corpus, tokenizer, tokens and embeddings once; a baseline and an oracle per
 * seed; pairs, synthesizer and synthetic corpus once per α (synthesized for the largest share; a
 * smaller share trains on a prefix of that stream); one SBP run per (share, α, seed); one run per
 * control arm and (share, seed), each control's synthetic corpus made once.
 *
 * Names: a run is its arm followed by one suffix per swept dimension that concerns it —
 * `-share<S>` and `-alpha<α>` (or `-alphaq<q>` for α quantiles) for SBP runs, `-share<S>` for control
 * runs, `-seed<n>` for every run — e.g. `sbp-share0.25-alpha0.75-seed2`, `baseline-seed2`,
 * `selfdistill-seed2`. A dimension counts as swept when its list is given, even with one value. The
 * per-α stages carry the α suffix: `pairs-alpha0.75/`, `models/synthesizer-alpha0.75/`,
 * `synth-alpha0.75/`, `synth-tokens-alpha0.75/`; the controls' stages carry the arm:
 * `pairs-random/`, `models/synthesizer-randompairs/`, `synth-randompairs/`, `synth-selfdistill/`, ….
 * Without any sweep field every name is the plain one (`baseline`, `sbp`, `pairs/`, ...).
 */
export interface ExperimentSweep {
  shares: number[];
  /** One entry per α variant: its name suffix ('' when α is not swept) and the pair section it mines with. */
  alphas: AlphaVariant[];
  /** One entry per seed: its suffix ('' when seeds are not swept) and the seed (undefined: the config's). */
  seeds: SeedVariant[];
  swept: { shares: boolean; alphas: boolean; seeds: boolean };
  /** The share synthesis runs for: the largest. */
  synthesisShare: number;
  controls: Control[];
}

export interface AlphaVariant {
  suffix: string;
  /** The value shown in tables: α, or the α quantile; null when α is not swept. */
  value: number | null;
  kind: 'alpha' | 'quantile' | null;
  pair: PairConfig;
}

export interface SeedVariant {
  suffix: string;
  seed: number | undefined;
}

/**
 * How one synthetic corpus is made, as stage folders: pairs → synthesizer → synth → synth-tokens.
 * `pairs` is the mined pairs stage (SBP), a random-pairs stage (randompairs) or null (selfdistill:
 * no tuning, the first seed's baseline samples without a seed document).
 */
export interface SynthChain {
  arm: Arm;
  alpha: AlphaVariant | null;
  pairs: string | null;
  /** The mined pairs stage this chain's synthesis quality is measured against (and random pairs match in number). */
  minedPairs: string;
  synthesizer: string | null;
  synth: string;
  synthTokens: string;
  conditioning: 'seed' | 'none';
}

/** One training run of the experiment (`models/<name>`). */
export interface TrainingRun {
  name: string;
  arm: Arm;
  /** The run without its seed: the seeds of one group are averaged. */
  group: string;
  /** S / B of a synthetic arm; null for baseline and oracle. */
  share: number | null;
  alpha: AlphaVariant | null;
  seed: SeedVariant;
  chain: SynthChain | null;
}

export function isSweep(cfg: RunConfig): boolean {
  const e = cfg.experiment;
  return e.syntheticShares !== undefined || e.alphas !== undefined || e.alphaQuantiles !== undefined || e.seeds !== undefined;
}

export function experimentSweep(cfg: RunConfig): ExperimentSweep {
  const e = cfg.experiment;
  if (e.alphas && e.alphaQuantiles) throw new UserError('experiment.alphas and experiment.alphaQuantiles are both set; sweep one of them');
  if (e.alphas && cfg.pair.alphaQuantile !== undefined) {
    throw new UserError(`experiment.alphas: pair.alphaQuantile (${cfg.pair.alphaQuantile}) is set and would replace every α; sweep experiment.alphaQuantiles instead, or remove pair.alphaQuantile`);
  }
  const shares = e.syntheticShares ?? [e.syntheticShare];
  let alphas: AlphaVariant[];
  if (e.alphas) alphas = e.alphas.map((a) => ({ suffix: `-alpha${a}`, value: a, kind: 'alpha', pair: { ...cfg.pair, alpha: a } }));
  else if (e.alphaQuantiles) alphas = e.alphaQuantiles.map((q) => ({ suffix: `-alphaq${q}`, value: q, kind: 'quantile', pair: { ...cfg.pair, alphaQuantile: q } }));
  else alphas = [{ suffix: '', value: null, kind: null, pair: cfg.pair }];
  const seeds: SeedVariant[] = e.seeds ? e.seeds.map((s) => ({ suffix: `-seed${s}`, seed: s })) : [{ suffix: '', seed: undefined }];
  const synthesisShare = Math.max(...shares);
  if (e.controls.length > 0 && !(synthesisShare > 0)) throw new UserError(`experiment.controls: the control arms train on synthetic data, but experiment.syntheticShare is ${synthesisShare}; set a share > 0 or controls: []`);
  return {
    shares,
    alphas,
    seeds,
    swept: { shares: e.syntheticShares !== undefined, alphas: e.alphas !== undefined || e.alphaQuantiles !== undefined, seeds: e.seeds !== undefined },
    synthesisShare,
    controls: [...e.controls],
  };
}

/** `models/<name>` of a baseline or oracle run of one seed. */
export function armRunName(arm: 'baseline' | 'oracle', seed: SeedVariant): string {
  return `${arm}${seed.suffix}`;
}

/** The stage folders of one α variant's SBP chain. */
export function alphaStages(alpha: AlphaVariant): { pairs: string; synthesizer: string; synth: string; synthTokens: string } {
  return { pairs: `pairs${alpha.suffix}`, synthesizer: `synthesizer${alpha.suffix}`, synth: `synth${alpha.suffix}`, synthTokens: `synth-tokens${alpha.suffix}` };
}

/** Every synthetic corpus the experiment makes: one per α (SBP), one per control arm. */
export function synthChains(sweep: ExperimentSweep): SynthChain[] {
  const minedPairs = alphaStages(sweep.alphas[0]!).pairs;
  const chains: SynthChain[] = sweep.alphas.map((alpha) => ({ arm: 'sbp', alpha, ...alphaStages(alpha), minedPairs: alphaStages(alpha).pairs, conditioning: 'seed' }));
  for (const arm of sweep.controls) {
    const spec = ARM_TABLE[arm].synthesis!;
    chains.push({
      arm,
      alpha: null,
      pairs: spec.pairs === 'random' ? 'pairs-random' : null,
      minedPairs,
      synthesizer: spec.pairs === null ? null : `synthesizer-${arm}`,
      synth: `synth-${arm}`,
      synthTokens: `synth-tokens-${arm}`,
      conditioning: spec.conditioning,
    });
  }
  return chains;
}

/**
 * Every training run in plan order: the baselines, the SBP runs (shares outermost, then α, then
 * seeds: the order of the config's lists), the control runs (per arm, share, seed), the oracles.
 */
export function trainingRuns(sweep: ExperimentSweep): TrainingRun[] {
  const chains = synthChains(sweep);
  const shareSuffix = (share: number) => (sweep.swept.shares ? `-share${share}` : '');
  const out: TrainingRun[] = sweep.seeds.map((seed) => ({ name: armRunName('baseline', seed), arm: 'baseline', group: 'baseline', share: null, alpha: null, seed, chain: null }));
  for (const share of sweep.shares) {
    for (const alpha of sweep.alphas) {
      const group = `sbp${shareSuffix(share)}${alpha.suffix}`;
      const chain = chains.find((c) => c.arm === 'sbp' && c.alpha === alpha)!;
      for (const seed of sweep.seeds) out.push({ name: `${group}${seed.suffix}`, arm: 'sbp', group, share, alpha, seed, chain });
    }
  }
  for (const arm of sweep.controls) {
    const chain = chains.find((c) => c.arm === arm)!;
    for (const share of sweep.shares) {
      const group = `${arm}${shareSuffix(share)}`;
      for (const seed of sweep.seeds) out.push({ name: `${group}${seed.suffix}`, arm, group, share, alpha: null, seed, chain });
    }
  }
  out.push(...sweep.seeds.map((seed): TrainingRun => ({ name: armRunName('oracle', seed), arm: 'oracle', group: 'oracle', share: null, alpha: null, seed, chain: null })));
  return out;
}

/** What `sbp eval` compares in an experiment: every run; each synthetic run against the baseline and oracle of its seed; each SBP run against the controls of its share and seed. */
export interface ExperimentEvalPlan {
  models: string[];
  comparisons: VariantComparisonSpec[];
}

export function experimentEvalPlan(cfg: RunConfig): ExperimentEvalPlan {
  const runs = trainingRuns(experimentSweep(cfg));
  const bySeed = (arm: Arm, seed: SeedVariant, share: number | null) => runs.find((r) => r.arm === arm && r.seed === seed && r.share === share)?.name;
  const comparisons = runs
    .filter((r) => r.chain !== null)
    .map((r): VariantComparisonSpec => {
      const controls: Partial<Record<Control, string>> = {};
      if (r.arm === 'sbp') for (const c of cfg.experiment.controls) controls[c] = bySeed(c, r.seed, r.share)!;
      return {
        name: r.name,
        group: r.group,
        roles: { baseline: bySeed('baseline', r.seed, null)!, sbp: r.name, oracle: bySeed('oracle', r.seed, null)! },
        ...(Object.keys(controls).length > 0 ? { controls } : {}),
      };
    });
  return { models: runs.map((r) => r.name), comparisons };
}
