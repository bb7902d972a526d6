/** The log-probability of one token at one position, and the most likely alternatives there. */
export interface TokenLogprob {
  token: number; // the token at this position (drawn, or given in the prompt)
  logprob: number; // natural log of its probability under the model
  top: Array<{ token: number; logprob: number }>; // the N most likely tokens, most likely first (ties: lower id first)
}

/** Most alternatives a request may ask for (OpenAI's limit for legacy completions). */
export const MAX_LOGPROBS = 5;

/**
 * Log-probabilities from one row of logits, `logits[offset, offset + V)`: log-softmax of the raw
 * logits — the model's own distribution, before temperature, top-k or top-p reshape it for
 * sampling. Computed in float64 and with the same expression for the token and for the
 * alternatives, so a token that is also the most likely one gets exactly the top-1 value.
 */
export function tokenLogprob(logits: Float32Array, offset: number, V: number, token: number, topN: number): TokenLogprob {
  let max = -Infinity;
  for (let i = 0; i < V; i++) {
    const v = logits[offset + i]!;
    if (v > max) max = v;
  }
  if (!Number.isFinite(max)) throw new Error(`log-probabilities of non-finite logits (max ${max})`);
  let sum = 0;
  for (let i = 0; i < V; i++) sum += Math.exp(logits[offset + i]! - max);
  const lse = max + Math.log(sum);
  const lp = (t: number) => logits[offset + t]! - lse;
  return { token, logprob: lp(token), top: topTokens(logits, offset, V, topN).map((t) => ({ token: t, logprob: lp(t) })) };
}

/** Ids of the n largest logits, largest first, ties by lower id (n is small: an insertion into a short sorted list). */
function topTokens(logits: Float32Array, offset: number, V: number, n: number): number[] {
  const ids: number[] = [];
  const vals: number[] = [];
  if (n <= 0) return ids;
  for (let i = 0; i < V; i++) {
    const v = logits[offset + i]!;
    if (ids.length === n && v <= vals[n - 1]!) continue;
    let at = ids.length === n ? n - 1 : ids.length;
    while (at > 0 && vals[at - 1]! < v) at--;
    ids.splice(at, 0, i);
    vals.splice(at, 0, v);
    if (ids.length > n) {
      ids.pop();
      vals.pop();
    }
  }
  return ids;
}
