import type { LanguageModel } from '../model/types.js';

export interface ScoringTokenizer {
  readonly special: { bos: number; eos: number };
  encode(text: string): ArrayLike<number>;
}

/**
 * Loss per token (nats) of each text under a causal LM, framed as documents are in training:
 * `[bos] text [eos]`, cut to the model's context. One sequence per forward pass: `evalLoss` sums over
 * the batch, and a per-row sum is what this needs (synthetic documents are short, so the passes are
 * cheap next to generating them).
 */
export function documentLosses(model: LanguageModel, tokenizer: ScoringTokenizer, texts: readonly string[]): Float64Array {
  const { bos, eos } = tokenizer.special;
  const maxT = model.config.maxSeqLen;
  const out = new Float64Array(texts.length);
  texts.forEach((text, i) => {
    const ids = tokenizer.encode(text);
    const n = Math.min(ids.length + 2, maxT + 1); // tokens of the framed row, inputs + last target
    const row = new Int32Array(n);
    row[0] = bos;
    for (let k = 1; k < n; k++) row[k] = k - 1 < ids.length ? ids[k - 1]! : eos;
    const T = n - 1;
    const r = model.evalLoss({ B: 1, T, tokens: row.subarray(0, T), targets: row.subarray(1, n), mask: null });
    out[i] = r.tokens > 0 ? r.sumLoss / r.tokens : 0;
  });
  return out;
}

/** The q-quantile of `values` by nearest rank (the smallest value with at least q of them at or below it). */
export function quantileOf(values: ArrayLike<number>, q: number): number {
  if (values.length === 0) return Infinity;
  const sorted = Float64Array.from(values).sort();
  const rank = Math.max(1, Math.ceil(q * sorted.length));
  return sorted[rank - 1]!;
}

/**
 * The perplexity filter's verdicts for one shard's candidates (documents the rule filters kept):
 * true = drop, its loss per token is above the shard's q-quantile. Per shard, so a resumed run
 * decides exactly as the first one did; ties at the threshold are kept.
 */
export function perplexityDrops(losses: ArrayLike<number>, q: number): { drop: boolean[]; threshold: number } {
  const threshold = quantileOf(losses, q);
  return { drop: Array.from(losses, (l) => l > threshold), threshold };
}
