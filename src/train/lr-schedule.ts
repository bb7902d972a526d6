/**
 * Learning rate at a step: linear warm-up from 0 to the peak over the first `warmupSteps`, then a
 * half cosine from the peak down to the floor at `totalSteps` (SBP paper: 5% warm-up, cosine to a floor).
 * `step` is 0-based: the rate used for the update that ends step `step`.
 */
export interface LrSchedule {
  peak: number;
  floor: number;
  warmupSteps: number;
  totalSteps: number;
}

export function learningRate(s: LrSchedule, step: number): number {
  if (step < s.warmupSteps) return (s.peak * (step + 1)) / s.warmupSteps;
  const decaySteps = s.totalSteps - s.warmupSteps;
  if (decaySteps <= 0) return s.peak;
  const progress = Math.min(1, (step - s.warmupSteps) / Math.max(1, decaySteps - 1));
  return s.floor + 0.5 * (s.peak - s.floor) * (1 + Math.cos(Math.PI * progress));
}
