import type { Rng } from './rng.js';
import { samplingExp } from './sampling-exp.js';

export interface SamplingOptions {
  temperature: number; // 0 = greedy (argmax)
  topK: number; // 0 = off; keep the k most likely tokens
  topP: number; // 1 = off; keep the smallest set of most likely tokens whose probability reaches p
}

/**
 * Draws one token from a row of logits on the host: temperature, then top-k, then top-p (nucleus)
 * on the renormalised top-k distribution. Holds scratch buffers of size V so decoding allocates
 * nothing per token.
 *
 * This is the reference of the native sampler (`CpuBackend.sampleLogits`, `native/logits-sampler.cc`),
 * which repeats every step below in the same order and float64 arithmetic (exp included, see
 * `samplingExp`), so that both pick the same token from the same logits and the same uniform draw.
 * A change here must be made there too (test/sample/native-sampler.test.ts compares them).
 */
export class LogitsSampler {
  private readonly scaled: Float64Array; // (V) logits / temperature
  private readonly prob: Float64Array; // (V) unnormalised probabilities of candidates
  private readonly cand: Int32Array; // candidate token ids
  private readonly select: Float64Array; // scratch for the k-th largest search

  constructor(
    readonly vocabSize: number,
    readonly opts: SamplingOptions,
  ) {
    if (!(opts.temperature >= 0) || !Number.isFinite(opts.temperature)) throw new RangeError(`temperature must be >= 0, got ${opts.temperature}`);
    if (!Number.isInteger(opts.topK) || opts.topK < 0) throw new RangeError(`topK must be a whole number >= 0, got ${opts.topK}`);
    if (!(opts.topP > 0 && opts.topP <= 1)) throw new RangeError(`topP must be in (0, 1], got ${opts.topP}`);
    this.scaled = new Float64Array(vocabSize);
    this.prob = new Float64Array(vocabSize);
    this.cand = new Int32Array(vocabSize);
    this.select = new Float64Array(vocabSize);
  }

  get greedy(): boolean {
    return this.opts.temperature === 0 || this.opts.topK === 1;
  }

  /** Samples from logits[offset, offset + V). */
  sample(logits: Float32Array, offset: number, rng: Rng): number {
    const V = this.vocabSize;
    if (this.greedy) return argmax(logits, offset, V);
    const { temperature, topK, topP } = this.opts;
    const x = this.scaled;
    let max = -Infinity;
    for (let i = 0; i < V; i++) {
      const v = logits[offset + i]! / temperature;
      x[i] = v;
      if (v > max) max = v;
    }
    if (!Number.isFinite(max)) throw new Error(`sampling from non-finite logits (max ${max})`);

    // Candidates: every token, or the top k (ties at the k-th value broken by lower id).
    let n = 0;
    if (topK > 0 && topK < V) {
      const kth = kthLargest(x, V, topK, this.select);
      let ties = topK;
      for (let i = 0; i < V; i++) if (x[i]! > kth) ties--;
      for (let i = 0; i < V; i++) {
        const v = x[i]!;
        if (v > kth || (v === kth && ties-- > 0)) this.cand[n++] = i;
      }
    } else {
      for (let i = 0; i < V; i++) this.cand[i] = i;
      n = V;
    }
    let total = 0;
    for (let j = 0; j < n; j++) {
      const p = samplingExp(x[this.cand[j]!]! - max);
      this.prob[j] = p;
      total += p;
    }

    if (topP < 1) n = this.nucleus(n, total, topP);
    let mass = 0;
    for (let j = 0; j < n; j++) mass += this.prob[j]!;
    let u = rng.float() * mass;
    for (let j = 0; j < n; j++) {
      u -= this.prob[j]!;
      if (u < 0) return this.cand[j]!;
    }
    return this.cand[n - 1]!; // rounding left u at ~0: the last kept token
  }

  /**
   * Moves the nucleus to the front of cand/prob and returns its size: the most likely tokens whose
   * mass first reaches topP·total, ties at the boundary taken by lower id (as a stable sort by
   * descending probability would). Sorting V tokens per draw is the slow way; this is a quickselect
   * on mass instead — a three-way partition around a pivot, then only the side that holds the
   * boundary is searched further — so a draw costs O(V) expected.
   */
  private nucleus(n: number, total: number, topP: number): number {
    const p = this.prob;
    const c = this.cand;
    const swap = (i: number, j: number) => {
      const tp = p[i]!;
      p[i] = p[j]!;
      p[j] = tp;
      const tc = c[i]!;
      c[i] = c[j]!;
      c[j] = tc;
    };
    let need = topP * total;
    let lo = 0; // [0, lo) is kept: every one of them is at least as likely as anything in [lo, hi)
    let hi = n; // [hi, n) is dropped
    while (lo < hi) {
      const pivot = p[lo + ((hi - lo) >>> 1)]!;
      let gtEnd = lo; // [lo, gtEnd) > pivot
      let i = lo; // [gtEnd, i) == pivot
      let ltStart = hi; // [ltStart, hi) < pivot
      while (i < ltStart) {
        const v = p[i]!;
        if (v > pivot) swap(i++, gtEnd++);
        else if (v < pivot) swap(i, --ltStart);
        else i++;
      }
      let massGreater = 0;
      for (let j = lo; j < gtEnd; j++) massGreater += p[j]!;
      if (massGreater >= need) {
        hi = gtEnd; // the boundary lies among the more likely tokens
        continue;
      }
      const massEqual = (ltStart - gtEnd) * pivot;
      if (massGreater + massEqual >= need) {
        // The boundary falls inside the tie: keep the lowest ids of it until the mass is reached.
        const ties = Array.from(c.subarray(gtEnd, ltStart)).sort((x, y) => x - y);
        let cum = massGreater;
        let k = 0;
        while (k < ties.length && cum < need) {
          c[gtEnd + k] = ties[k]!;
          p[gtEnd + k] = pivot;
          cum += pivot;
          k++;
        }
        return gtEnd + k;
      }
      need -= massGreater + massEqual;
      lo = ltStart; // keep the greater and equal parts; the boundary is among the less likely
    }
    return Math.max(lo, 1);
  }
}

export function argmax(x: Float32Array, offset: number, n: number): number {
  let best = 0;
  let bestV = -Infinity;
  for (let i = 0; i < n; i++) {
    const v = x[offset + i]!;
    if (v > bestV) {
      bestV = v;
      best = i;
    }
  }
  return best;
}

/** The k-th largest of x[0, n) (k is 1-based), by quickselect on a copy in `scratch`. */
function kthLargest(x: Float64Array, n: number, k: number, scratch: Float64Array): number {
  scratch.set(x.subarray(0, n));
  let lo = 0;
  let hi = n - 1;
  const target = k - 1; // index in descending order
  while (lo < hi) {
    const pivot = scratch[(lo + hi) >>> 1]!;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (scratch[i]! > pivot) i++;
      while (scratch[j]! < pivot) j--;
      if (i <= j) {
        const t = scratch[i]!;
        scratch[i] = scratch[j]!;
        scratch[j] = t;
        i++;
        j--;
      }
    }
    if (target <= j) hi = j;
    else if (target >= i) lo = i;
    else return scratch[target]!;
  }
  return scratch[target]!;
}
