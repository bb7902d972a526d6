import type { Backend, Tensor } from '../engine/backend.js';

/**
 * A Llama-3-style decoder (optionally with QK-norm, as in Qwen3 and the SBP paper). Sizes from ~1M to
 * ~1B parameters by config. Field names follow Hugging Face's LlamaConfig / Qwen3Config where one exists.
 */
export interface ModelConfig {
  vocabSize: number; // V
  hiddenSize: number; // C
  numLayers: number; // L
  numHeads: number; // H
  numKVHeads: number; // KVH (grouped KV when < H)
  headDim: number; // D (usually C / H)
  intermediateSize: number; // F, SwiGLU hidden width
  maxSeqLen: number; // longest context (RoPE tables are built up to here)
  ropeTheta: number;
  rmsNormEps: number;
  qkNorm: boolean; // RMSNorm on q and k per head before RoPE (Qwen3 style)
  tieEmbeddings: boolean; // lm_head shares the token embedding
  bosTokenId: number;
  eosTokenId: number;
  padTokenId: number;
}

/** One parameter tensor inside the single contiguous parameter allocation. */
export interface ParamEntry {
  name: string; // Hugging Face tensor name, e.g. "model.layers.0.self_attn.q_proj.weight"
  shape: number[];
  offset: number; // in elements, inside `params` (and `grads`, which mirrors it)
  size: number;
  decay: boolean; // weight decay applies (matrices) or not (norms; embeddings by config)
}

/** A training/eval batch; all host arrays of B*T elements, row-major (B, T). */
export interface Batch {
  B: number;
  T: number;
  tokens: Int32Array; // inputs
  targets: Int32Array; // next tokens
  mask: Float32Array | null; // 1 = this position's loss counts (synthesizer: d2 tokens only); null = all
}

export interface KVCache {
  readonly B: number;
  readonly capacity: number; // Tcap
  /** Tokens already in the cache, per sequence. */
  readonly lens: Int32Array;
  reset(): void;
}

export interface LanguageModel {
  readonly config: ModelConfig;
  readonly backend: Backend;
  readonly params: Tensor; // every parameter, one allocation, laid out by `paramTable`
  readonly grads: Tensor; // mirrors `params`
  readonly paramTable: readonly ParamEntry[];
  readonly numParams: number;

  zeroGrads(): void;
  /**
   * Forward + backward. Returns the mean loss over counted tokens; ADDS d(mean loss)·gradScale into
   * `grads` (gradient accumulation: call several times with gradScale = 1/steps, then step).
   */
  forwardBackward(batch: Batch, opts?: { gradScale?: number }): { loss: number; tokens: number };
  /** Forward only: summed loss and counted tokens (for held-out loss / perplexity). */
  evalLoss(batch: Batch): { sumLoss: number; tokens: number };
  /** Logits (B, T, V) for a batch of inputs, on the host (tests, small scale). */
  logits(tokens: Int32Array, B: number, T: number): Float32Array;
  /** Final-norm hidden states (B, T, C) on the host (the bootstrapped embedder mean-pools them). */
  hiddenStates(tokens: Int32Array, B: number, T: number): Float32Array;

  // ---- generation with a KV cache ----
  createKVCache(B: number, capacity: number): KVCache;
  /**
   * Feeds `tokens` (B, T) — the same T for every sequence, at each sequence's current cache length —
   * and returns the logits of the last fed position per sequence, (B, V) on the host.
   * `active` (B) marks the sequences to advance (others are left untouched); default all.
   */
  step(cache: KVCache, tokens: Int32Array, T: number, active?: Uint8Array): Float32Array;

  /** Drops the buffers a forward or decode pass allocated (activations, scratch); parameters stay. */
  dispose?(): void;
}
