/**
 * The engine contract: model code never touches raw arrays; it asks a backend for buffers and ops.
 * Buffers may live on a device; the host sees their contents only through `upload` / `download`.
 * The same model code runs on `ref` (pure TypeScript, the oracle), `cpu` (native addon) and later
 * `cuda`. Every op of every fast backend is tested against `ref`.
 *
 * Conventions (llm.c style):
 * - Dimensions: B batch, T time, C model width, H query heads, KVH key/value heads, D head size,
 *   F MLP hidden width, V vocabulary, N = B*T rows. Row-major, last dimension contiguous.
 * - Forward ops write their outputs. Backward ops ACCUMULATE (+=) into every gradient they produce
 *   (`d`-prefixed), so the caller zeroes gradients once per step and residual branches just add.
 *   The one exception is `crossEntropyBackward`, which starts the chain and writes `dlogits`.
 * - Linear weights are stored like PyTorch / Hugging Face: W (out, in); y = x @ W^T.
 * - Every op validates shapes on the TypeScript side before work is dispatched (RangeError).
 */

export type DType = 'f32' | 'i32';

/** A view of `size` elements starting at `offset` inside a backend-owned allocation. */
export interface Tensor {
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly size: number; // product of shape
  readonly offset: number; // in elements, inside `storage`
  readonly storage: unknown; // backend-specific (a Float32Array / Int32Array for host backends)
}

export interface AdamWParams {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number; // decoupled: p -= lr * wd * p
  step: number; // 1-based, for bias correction
}

export interface Backend {
  readonly name: string;

  // ---- memory ----
  /** A new zero-filled allocation. */
  alloc(shape: readonly number[], dtype?: DType): Tensor;
  /** A view into `t` (same storage) starting `offset` elements after t's own offset. */
  view(t: Tensor, offset: number, shape: readonly number[]): Tensor;
  upload(dst: Tensor, src: Float32Array | Int32Array): void;
  download(src: Tensor): Float32Array | Int32Array; // a fresh host copy
  fill(t: Tensor, value: number): void;
  copy(dst: Tensor, src: Tensor): void;
  /** Wait for queued work (a no-op on synchronous backends). */
  sync(): void;
  setThreads?(n: number): void;

  // ---- elementwise ----
  /** out = a + b (out may alias a or b). */
  add(out: Tensor, a: Tensor, b: Tensor): void;
  /** x *= s */
  scale(x: Tensor, s: number): void;
  /** Σ x² over the tensor, as a float64 on the host (for gradient norms and finite checks). */
  sumSquares(x: Tensor): number;

  // ---- matmul ----
  /**
   * out = alpha * op(a) @ op(b) + beta * out, op(x) = x or xᵀ.
   * op(a): (M, K), op(b): (K, N), out: (M, N). With beta = 1 it accumulates (weight gradients).
   */
  matmul(out: Tensor, a: Tensor, b: Tensor, opts?: { transA?: boolean; transB?: boolean; alpha?: number; beta?: number }): void;

  // ---- layers ----
  /** out (N, C) = wte[tokens] ; tokens (N) i32, wte (V, C). */
  embeddingForward(out: Tensor, tokens: Tensor, wte: Tensor): void;
  /** dwte[tokens[i]] += dout[i] */
  embeddingBackward(dwte: Tensor, dout: Tensor, tokens: Tensor): void;

  /** out (N, C) = x / rms(x) * w ; rstd (N) saves 1/rms for backward. */
  rmsnormForward(out: Tensor, rstd: Tensor, x: Tensor, w: Tensor, eps: number): void;
  /** dx (N, C) +=, dw (C) += */
  rmsnormBackward(dx: Tensor, dw: Tensor, dout: Tensor, x: Tensor, w: Tensor, rstd: Tensor): void;

  /**
   * Rotary embedding, Llama "rotate-half" layout (pairs i and i + D/2), in place allowed.
   * x, out: (N, NH, D); positions (N) i32; cos, sin: (maxPos, D/2).
   */
  ropeForward(out: Tensor, x: Tensor, positions: Tensor, cos: Tensor, sin: Tensor): void;
  /** dx += Rᵀ dout */
  ropeBackward(dx: Tensor, dout: Tensor, positions: Tensor, cos: Tensor, sin: Tensor): void;

  /**
   * Causal self-attention without materialising (T × T) per head (online softmax).
   * q (B, T, H, D); k, v (B, T, KVH, D) with H % KVH == 0 (grouped KV); out (B, T, H, D);
   * lse (B, H, T) saves the log-sum-exp of each row for backward. Scale 1/sqrt(D).
   */
  attentionForward(out: Tensor, lse: Tensor, q: Tensor, k: Tensor, v: Tensor): void;
  /** dq, dk, dv += */
  attentionBackward(dq: Tensor, dk: Tensor, dv: Tensor, dout: Tensor, out: Tensor, lse: Tensor, q: Tensor, k: Tensor, v: Tensor): void;

  /**
   * Decoding with a KV cache. q (B, H, D) for one new token per sequence; kCache, vCache
   * (B, Tcap, KVH, D); lens (B) i32: sequence b attends to cache rows [0, lens[b]). out (B, H, D).
   */
  attentionDecode(out: Tensor, q: Tensor, kCache: Tensor, vCache: Tensor, lens: Tensor): void;
  /** cache[b, pos[b] + t] = x[b, t] ; x (B, T, KVH, D), cache (B, Tcap, KVH, D), pos (B) i32. */
  kvCacheWrite(cache: Tensor, x: Tensor, pos: Tensor): void;

  /** out (N, F) = silu(gate) * up */
  swigluForward(out: Tensor, gate: Tensor, up: Tensor): void;
  /** dgate, dup += */
  swigluBackward(dgate: Tensor, dup: Tensor, dout: Tensor, gate: Tensor, up: Tensor): void;

  /**
   * Per-row cross-entropy: losses (N) = -log softmax(logits)[targets] * (mask ?? 1).
   * logits (N, V); targets (N) i32; mask (N) f32 (0 = no loss on that token) or null.
   */
  crossEntropyForward(losses: Tensor, logits: Tensor, targets: Tensor, mask: Tensor | null): void;
  /** dlogits (N, V) = (softmax(logits) - onehot(targets)) * mask * scale   (writes, not +=) */
  crossEntropyBackward(dlogits: Tensor, logits: Tensor, targets: Tensor, mask: Tensor | null, scale: number): void;

  // ---- optimizer ----
  /** One AdamW step on a parameter view and its gradient and moment views (all the same size). */
  adamw(param: Tensor, grad: Tensor, m: Tensor, v: Tensor, p: AdamWParams): void;
}
