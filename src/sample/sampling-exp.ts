/**
 * exp(d) for the host samplers, written so that the TypeScript sampler and the native one
 * (`native/logits-sampler.cc`, the same steps in C++) compute the same bits: only IEEE double +, −, ×
 * and a table of exact powers of two — no platform `exp`, whose last bit differs between V8
 * and the C library — so both samplers pick the same token from the same logits and uniform draw.
 *
 * d = k·ln 2 + r with k = round(d·log2 e) and |r| ≤ ln 2 / 2 (ln 2 split in two parts so k·LN2_HI
 * is exact), exp(r) by its Taylor series to r¹³ (truncation < 2⁻⁵² relative), times 2^k from the
 * table. Within 2 ulp of exp over the sampler's range d ≤ 0; 0 below −745.5, NaN stays NaN.
 */

const LOG2E = 1.4426950408889634;
const LN2_HI = 0.6931471806019545; // ln 2 rounded to 32 bits: k·LN2_HI is exact for |k| < 2^21
const LN2_LO = -4.2009150726810846e-11; // ln 2 − LN2_HI
const SHIFTER = 6755399441055744; // 1.5·2^52: x + SHIFTER − SHIFTER rounds x to a whole number (|x| < 2^51)
// 1/n! for n = 2 … 13
const C2 = 0.5;
const C3 = 0.16666666666666666;
const C4 = 0.041666666666666664;
const C5 = 0.008333333333333333;
const C6 = 0.001388888888888889;
const C7 = 0.0001984126984126984;
const C8 = 2.48015873015873e-5;
const C9 = 2.7557319223985893e-6;
const C10 = 2.755731922398589e-7;
const C11 = 2.505210838544172e-8;
const C12 = 2.08767569878681e-9;
const C13 = 1.6059043836821613e-10;

const MIN_K = -1076; // 2^-1075 and below round to 0
const MAX_K = 1023;
/** (MAX_K − MIN_K + 1) exact powers of two: POW2[k − MIN_K] = 2^k. */
const POW2 = (() => {
  const t = new Float64Array(MAX_K - MIN_K + 1);
  let v = 1;
  for (let k = 0; k >= MIN_K; k--, v *= 0.5) t[k - MIN_K] = v;
  v = 1;
  for (let k = 0; k <= MAX_K; k++, v *= 2) t[k - MIN_K] = v;
  return t;
})();

export function samplingExp(d: number): number {
  if (d !== d) return d;
  if (d < -745.5) return 0;
  if (d > 709) return Infinity;
  const k = d * LOG2E + SHIFTER - SHIFTER; // round to the nearest whole number, ties to even
  const r = d - k * LN2_HI - k * LN2_LO;
  let p = C13;
  p = C12 + r * p;
  p = C11 + r * p;
  p = C10 + r * p;
  p = C9 + r * p;
  p = C8 + r * p;
  p = C7 + r * p;
  p = C6 + r * p;
  p = C5 + r * p;
  p = C4 + r * p;
  p = C3 + r * p;
  p = C2 + r * p;
  p = 1 + r * p;
  p = 1 + r * p;
  return p * POW2[k - MIN_K]!;
}
