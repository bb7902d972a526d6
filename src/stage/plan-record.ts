/**
 * What the experiment's plan (experiment/plan.json) says about each α of a sweep: written by the
 * experiment, read by the report. It lives here, below both, so the report reads the plan without
 * importing the experiment that sits above it.
 */

/** One α of a sweep: its value (α, or the α quantile; null when α is not swept) and its stage folders. */
export interface SweepAlpha {
  value: number | null;
  kind: 'alpha' | 'quantile' | null;
  pairs: string;
  synthesizer: string; // models/<synthesizer>
  synth: string;
  synthTokens: string;
}
