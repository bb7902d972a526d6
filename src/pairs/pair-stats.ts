import type { PairList } from './pair-list.js';

/** A fixed-bin histogram of cosine similarities over [lo, hi); values outside land in the end bins. */
export interface SimilarityHistogram {
  lo: number;
  hi: number;
  binWidth: number;
  counts: number[];
}

export const SIMILARITY_BINS = { lo: -1, hi: 1, binWidth: 0.01 } as const;

export function similarityHistogram(sims: Float32Array): SimilarityHistogram {
  const { lo, hi, binWidth } = SIMILARITY_BINS;
  const bins = Math.round((hi - lo) / binWidth);
  const counts = new Array<number>(bins).fill(0);
  for (let i = 0; i < sims.length; i++) {
    const s = sims[i]!;
    if (Number.isNaN(s)) continue;
    const b = Math.min(bins - 1, Math.max(0, Math.floor((s - lo) / binWidth)));
    counts[b]!++;
  }
  return { lo, hi, binWidth, counts };
}

/** How the kept pairs spread over documents. */
export interface PartnerStats {
  /** perDocument[j] = documents with exactly j partners as d1 (j = 0..k). */
  perDocument: number[];
  meanPerDocument: number;
  /** Documents with at least one partner as d1, over all documents. */
  shareWithPartner: number;
  /** Documents in at least one pair, as d1 or d2, over all documents. */
  shareInAnyPair: number;
  /** The most pairs any one document is the d2 of (hub documents). */
  maxAsD2: number;
}

export function partnerStats(pairs: PairList, documents: number, k: number): PartnerStats {
  const out = new Uint32Array(documents);
  const inn = new Uint32Array(documents);
  for (let i = 0; i < pairs.d1.length; i++) {
    out[pairs.d1[i]!]!++;
    inn[pairs.d2[i]!]!++;
  }
  const perDocument = new Array<number>(k + 1).fill(0);
  let withPartner = 0;
  let inAny = 0;
  let maxAsD2 = 0;
  for (let r = 0; r < documents; r++) {
    perDocument[Math.min(out[r]!, k)]!++;
    if (out[r]! > 0) withPartner++;
    if (out[r]! > 0 || inn[r]! > 0) inAny++;
    if (inn[r]! > maxAsD2) maxAsD2 = inn[r]!;
  }
  return {
    perDocument,
    meanPerDocument: documents > 0 ? pairs.d1.length / documents : 0,
    shareWithPartner: documents > 0 ? withPartner / documents : 0,
    shareInAnyPair: documents > 0 ? inAny / documents : 0,
    maxAsD2,
  };
}

export interface SimilaritySummary {
  min: number | null;
  mean: number | null;
  max: number | null;
}

export function summarize(sims: Float32Array): SimilaritySummary {
  if (sims.length === 0) return { min: null, mean: null, max: null };
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  for (let i = 0; i < sims.length; i++) {
    const s = sims[i]!;
    if (s < min) min = s;
    if (s > max) max = s;
    sum += s;
  }
  return { min, mean: sum / sims.length, max };
}
