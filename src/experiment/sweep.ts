import { UserError } from '../common/errors.js';
import type { PairConfig, RunConfig } from '../config/schema.js';
import type { Arm } from './arm-train-stage.js';

/**
 * A sweep: several synthetic shares, α thresholds and seeds in one experiment. What can be shared is
 * shared: the corpus, tokenizer, tokens and embeddings once; a baseline and an oracle per seed; pairs,
 * synthesizer and synthetic corpus once per α (synthesized for the largest share; a smaller share
 * trains on a prefix of that stream); one SBP run per (share, α, seed).
 *
 * Names: a run is its arm followed by one suffix per swept dimension that concerns it —
 * `-share<S>` and `-alpha<α>` (or `-alphaq<q>` for α quantiles) for SBP runs, `-seed<n>` for every
 * run — e.g. `sbp-share0.25-alpha0.75-seed2`, `baseline-seed2`. A dimension counts as swept when its
 * list is given, even with one value. The per-α stages carry the α suffix: `pairs-alpha0.75/`,
 * `models/synthesizer-alpha0.75/`, `synth-alpha0.75/`, `synth-tokens-alpha0.75/`. Without any sweep
 * field every name is the plain one (`baseline`, `sbp`, `pairs/`, ...).
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

/** One SBP run of the sweep. */
export interface SbpVariant {
  name: string;
  /** The variant without its seed: seeds of one group are averaged. */
  group: string;
  share: number;
  alpha: AlphaVariant;
  seed: SeedVariant;
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
  return {
    shares,
    alphas,
    seeds,
    swept: { shares: e.syntheticShares !== undefined, alphas: e.alphas !== undefined || e.alphaQuantiles !== undefined, seeds: e.seeds !== undefined },
    synthesisShare: Math.max(...shares),
  };
}

/** `models/<name>` of a baseline or oracle run of one seed. */
export function armRunName(arm: Exclude<Arm, 'sbp'>, seed: SeedVariant): string {
  return `${arm}${seed.suffix}`;
}

/** Every SBP run, shares outermost, then α, then seeds (the order of the config's lists). */
export function sbpVariants(sweep: ExperimentSweep): SbpVariant[] {
  const out: SbpVariant[] = [];
  for (const share of sweep.shares) {
    for (const alpha of sweep.alphas) {
      const group = `sbp${sweep.swept.shares ? `-share${share}` : ''}${alpha.suffix}`;
      for (const seed of sweep.seeds) out.push({ name: `${group}${seed.suffix}`, group, share, alpha, seed });
    }
  }
  return out;
}

/** The stage folders of one α variant. */
export function alphaStages(alpha: AlphaVariant): { pairs: string; synthesizer: string; synth: string; synthTokens: string } {
  return { pairs: `pairs${alpha.suffix}`, synthesizer: `synthesizer${alpha.suffix}`, synth: `synth${alpha.suffix}`, synthTokens: `synth-tokens${alpha.suffix}` };
}

/** The models `sbp eval` compares in a sweep, and which baseline and oracle each SBP run is compared with (those of its seed). */
export function sweepEvalPlan(cfg: RunConfig): { models: string[]; comparisons: Array<{ name: string; group: string; roles: { baseline: string; sbp: string; oracle: string } }> } {
  const sweep = experimentSweep(cfg);
  const variants = sbpVariants(sweep);
  const models = [...sweep.seeds.map((s) => armRunName('baseline', s)), ...variants.map((v) => v.name), ...sweep.seeds.map((s) => armRunName('oracle', s))];
  const comparisons = variants.map((v) => ({ name: v.name, group: v.group, roles: { baseline: armRunName('baseline', v.seed), sbp: v.name, oracle: armRunName('oracle', v.seed) } }));
  return { models, comparisons };
}
