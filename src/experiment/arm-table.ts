/**
 * The arms of the compute-matched experiment: every run trains the same model with the same
 * hyper-parameters, seed and token budget B; an arm says only what data it trains on. Adding an arm
 * is one entry here (plus, for a synthetic arm, how its synthetic corpus is made).
 *
 *   baseline     U unique real tokens, repeated to fill B
 *   sbp          U (repeated) + S synthetic tokens from the synthesizer tuned on mined pairs
 *   selfdistill  U (repeated) + S synthetic tokens sampled from the baseline LM without a seed
 *                document: what training on the model's own samples does by itself
 *   randompairs  U (repeated) + S synthetic tokens from a synthesizer tuned on as many random
 *                document pairs as SBP mined: isolates the value of nearest-neighbour pairs
 *   oracle       up to oracleFactor × U unique real tokens (a superset of U)
 */
export type Arm = 'baseline' | 'sbp' | 'selfdistill' | 'randompairs' | 'oracle';

/** The control arms a config can ask for (`experiment.controls`). */
export type Control = 'selfdistill' | 'randompairs';
export const CONTROLS: readonly Control[] = ['selfdistill', 'randompairs'];

export interface ArmSpec {
  /** What the run trains on. */
  data: 'real' | 'real+synthetic' | 'oracle';
  /**
   * A synthetic arm's synthetic corpus: the pairs its synthesizer is tuned on ('mined': the pairs
   * stage; 'random': random document pairs, as many as were mined; null: no tuning, the baseline LM
   * samples) and whether synthesis prompts with a seed document.
   */
  synthesis: { pairs: 'mined' | 'random' | null; conditioning: 'seed' | 'none' } | null;
  /** One line for the plan and the docs. */
  describe: string;
}

export const ARM_TABLE: Readonly<Record<Arm, ArmSpec>> = {
  baseline: { data: 'real', synthesis: null, describe: 'U repeated to fill B' },
  sbp: { data: 'real+synthetic', synthesis: { pairs: 'mined', conditioning: 'seed' }, describe: 'U + S from the synthesizer tuned on mined pairs' },
  selfdistill: { data: 'real+synthetic', synthesis: { pairs: null, conditioning: 'none' }, describe: 'U + S sampled from the baseline LM, no seed document' },
  randompairs: { data: 'real+synthetic', synthesis: { pairs: 'random', conditioning: 'seed' }, describe: 'U + S from a synthesizer tuned on random pairs' },
  oracle: { data: 'oracle', synthesis: null, describe: 'up to oracleFactor × U unique real tokens' },
};

export const ARMS = Object.keys(ARM_TABLE) as Arm[];

export function isSyntheticArm(arm: Arm): boolean {
  return ARM_TABLE[arm].data === 'real+synthetic';
}
