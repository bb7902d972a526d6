/**
 * The similarity threshold α. Absolute by default ((ours) 0.75, the paper keeps pairs with
 * similarity above α); or a quantile of the candidate similarities, because the useful α depends on
 * the embedder (a quantile of 0.9 keeps about the top 10% of candidate pairs).
 */
export interface AlphaSpec {
  alpha: number;
  alphaQuantile?: number;
}

export interface ResolvedAlpha {
  mode: 'absolute' | 'quantile';
  quantile: number | null;
  /** null when a quantile was asked of no candidates. */
  value: number | null;
}

export function resolveAlpha(candidateSims: Float32Array, spec: AlphaSpec): ResolvedAlpha {
  if (spec.alphaQuantile === undefined) return { mode: 'absolute', quantile: null, value: spec.alpha };
  const q = spec.alphaQuantile;
  if (!(q >= 0 && q <= 1)) throw new RangeError(`resolveAlpha: quantile must be in [0, 1], got ${q}`);
  return { mode: 'quantile', quantile: q, value: quantile(candidateSims, q) };
}

/** The q-quantile with linear interpolation between order statistics (R type 7, numpy's default). */
export function quantile(values: Float32Array, q: number): number | null {
  if (values.length === 0) return null;
  const sorted = Float32Array.from(values).sort();
  const pos = q * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo]! + (pos - lo) * (sorted[hi]! - sorted[lo]!);
}

/** Pairs are kept when their similarity is strictly above α. */
export function passesAlpha(sim: number, alpha: number | null): boolean {
  return alpha !== null && sim > alpha;
}
