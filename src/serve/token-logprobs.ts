import type { Backend, Tensor } from '../engine/backend.js';

/** The log-probability of one token at one position, and the most likely alternatives there. */
export interface TokenLogprob {
  token: number; // the token at this position (drawn, or given in the prompt)
  logprob: number; // natural log of its probability under the model
  top: Array<{ token: number; logprob: number }>; // the N most likely tokens, most likely first (ties: lower id first)
}

/** Most alternatives a request may ask for (OpenAI's limit for legacy completions). */
export const MAX_LOGPROBS = 5;

/**
 * Log-probabilities from one row of logits, `logits[offset, offset + V)`, whose log-sum-exp is
 * `lse`: log-softmax of the raw logits — the model's own distribution, before temperature, top-k or
 * top-p reshape it for sampling. The token and the alternatives use the same expression, so a token
 * that is also the most likely one gets exactly the top-1 value.
 */
export function tokenLogprob(logits: Float32Array, offset: number, V: number, lse: number, token: number, topN: number): TokenLogprob {
  if (!Number.isFinite(lse)) throw new Error(`log-probabilities of non-finite logits (log-sum-exp ${lse})`);
  const lp = (t: number) => logits[offset + t]! - lse;
  return { token, logprob: lp(token), top: topTokens(logits, offset, V, topN).map((t) => ({ token: t, logprob: lp(t) })) };
}

/**
 * Log-sum-exp of rows of host logits, by the backend's cross-entropy (vectorised and threaded on
 * `cpu`): with target 0, loss = lse − x₀, so lse = x₀ + loss. A JavaScript pass of V exponentials a
 * row would cost about as much as the forward pass of a small model. Keeps its device buffers
 * between calls, grown as needed.
 */
export class RowLogSumExp {
  private rows = 0;
  private logits: Tensor | null = null; // (rows, V) f32
  private targets: Tensor | null = null; // (rows) i32, all 0
  private losses: Tensor | null = null; // (rows) f32

  constructor(
    private readonly backend: Backend,
    readonly V: number,
  ) {}

  /** lse (R) of `logits` (R, V). */
  of(logits: Float32Array, R: number): Float64Array {
    const V = this.V;
    if (logits.length < R * V) throw new RangeError(`RowLogSumExp: ${logits.length} logits for ${R} rows of ${V}`);
    const out = new Float64Array(R);
    if (R === 0) return out;
    if (R > this.rows) {
      this.rows = Math.max(R, 2 * this.rows);
      this.logits = this.backend.alloc([this.rows, V]);
      this.targets = this.backend.alloc([this.rows], 'i32');
      this.losses = this.backend.alloc([this.rows]);
    }
    const be = this.backend;
    const x = be.view(this.logits!, 0, [R, V]);
    const loss = be.view(this.losses!, 0, [R]);
    be.upload(x, logits.length === R * V ? logits : logits.subarray(0, R * V));
    be.crossEntropyForward(loss, x, be.view(this.targets!, 0, [R]), null);
    const l = be.download(loss);
    for (let r = 0; r < R; r++) out[r] = logits[r * V]! + l[r]!;
    return out;
  }
}

/** Ids of the n largest logits, largest first, ties by lower id (n is small: an insertion into a short sorted list). */
function topTokens(logits: Float32Array, offset: number, V: number, n: number): number[] {
  const ids: number[] = [];
  const vals: number[] = [];
  if (n <= 0) return ids;
  let floor = -Infinity; // the n-th largest so far once n are kept: anything not above it stays out
  for (let i = 0; i < V; i++) {
    const v = logits[offset + i]!;
    if (v <= floor && ids.length === n) continue;
    let at = ids.length;
    while (at > 0 && vals[at - 1]! < v) at--;
    ids.splice(at, 0, i);
    vals.splice(at, 0, v);
    if (ids.length > n) {
      ids.pop();
      vals.pop();
    }
    if (ids.length === n) floor = vals[n - 1]!;
  }
  return ids;
}
