import type { Backend, Tensor } from '../engine/backend.js';
import type { KVCache, ModelConfig } from './types.js';

/** Per-layer key and value caches of a Llama model, (B, Tcap, KVH, D) each, keys stored after RoPE. */
export class LlamaKVCache implements KVCache {
  readonly lens: Int32Array; // (B) tokens already cached per sequence
  readonly k: Tensor[]; // L × (B, Tcap, KVH, D)
  readonly v: Tensor[]; // L × (B, Tcap, KVH, D)

  constructor(backend: Backend, readonly config: ModelConfig, readonly B: number, readonly capacity: number) {
    if (!Number.isInteger(B) || B < 1) throw new RangeError(`KV cache: batch size must be a positive integer, got ${B}`);
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > config.maxSeqLen) {
      throw new RangeError(`KV cache: capacity ${capacity} must be in [1, maxSeqLen = ${config.maxSeqLen}]`);
    }
    const shape = [B, capacity, config.numKVHeads, config.headDim];
    this.lens = new Int32Array(B);
    this.k = Array.from({ length: config.numLayers }, () => backend.alloc(shape));
    this.v = Array.from({ length: config.numLayers }, () => backend.alloc(shape));
  }

  /** Forgets every sequence; the cached rows are overwritten by later writes, so nothing is cleared. */
  reset(): void {
    this.lens.fill(0);
  }
}
