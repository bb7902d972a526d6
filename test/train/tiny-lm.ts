import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Backend, Tensor } from '../../src/engine/backend.js';
import type { Batch, KVCache, LanguageModel, ModelConfig, ParamEntry } from '../../src/model/types.js';
import type { ModelStore } from '../../src/train/checkpoint-store.js';

/**
 * A stand-in language model for trainer tests that must not depend on the transformer: a bigram
 * model, logits = head · emb[token], written against the engine ops. It lets a test inject faults
 * (a NaN loss at chosen steps) and is small enough to train in milliseconds.
 */
export class TinyBigramLM implements LanguageModel {
  readonly config: ModelConfig;
  readonly params: Tensor;
  readonly grads: Tensor;
  readonly paramTable: ParamEntry[];
  readonly numParams: number;
  /** Steps (1-based forwardBackward calls) whose loss is replaced by NaN and whose gradient is poisoned. */
  poisonCalls = new Set<number>();
  calls = 0;

  constructor(
    readonly backend: Backend,
    V: number,
    C: number,
    seed: number,
  ) {
    this.config = {
      vocabSize: V, hiddenSize: C, numLayers: 0, numHeads: 1, numKVHeads: 1, headDim: C, intermediateSize: C,
      maxSeqLen: 1 << 20, ropeTheta: 1e4, rmsNormEps: 1e-6, qkNorm: false, tieEmbeddings: false, bosTokenId: 0, eosTokenId: 1, padTokenId: 2,
    };
    this.paramTable = [
      { name: 'model.embed_tokens.weight', shape: [V, C], offset: 0, size: V * C, decay: false },
      { name: 'lm_head.weight', shape: [V, C], offset: V * C, size: V * C, decay: true },
      { name: 'model.norm.weight', shape: [C], offset: 2 * V * C, size: C, decay: false }, // unused; exercises the no-decay rule
    ];
    this.numParams = 2 * V * C + C;
    this.params = backend.alloc([this.numParams]);
    this.grads = backend.alloc([this.numParams]);
    let s = seed >>> 0;
    const init = new Float32Array(this.numParams);
    for (let i = 0; i < init.length; i++) {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      init[i] = (s / 4294967296 - 0.5) * 0.2;
    }
    backend.upload(this.params, init);
  }

  private get emb(): Tensor {
    return this.backend.view(this.params, 0, [this.config.vocabSize, this.config.hiddenSize]);
  }
  private get head(): Tensor {
    return this.backend.view(this.params, this.config.vocabSize * this.config.hiddenSize, [this.config.vocabSize, this.config.hiddenSize]);
  }

  zeroGrads(): void {
    this.backend.fill(this.grads, 0);
  }

  private forward(tokens: Int32Array, N: number): { h: Tensor; logits: Tensor; tok: Tensor } {
    const be = this.backend;
    const { vocabSize: V, hiddenSize: C } = this.config;
    const tok = be.alloc([N], 'i32');
    be.upload(tok, tokens);
    const h = be.alloc([N, C]);
    be.embeddingForward(h, tok, this.emb);
    const logits = be.alloc([N, V]);
    be.matmul(logits, h, this.head, { transB: true });
    return { h, logits, tok };
  }

  forwardBackward(batch: Batch, opts: { gradScale?: number } = {}): { loss: number; tokens: number } {
    this.calls++;
    const be = this.backend;
    const { vocabSize: V, hiddenSize: C } = this.config;
    const N = batch.B * batch.T;
    const { h, logits, tok } = this.forward(batch.tokens, N);
    const tgt = be.alloc([N], 'i32');
    be.upload(tgt, batch.targets);
    let mask: Tensor | null = null;
    if (batch.mask) {
      mask = be.alloc([N]);
      be.upload(mask, batch.mask);
    }
    const losses = be.alloc([N]);
    be.crossEntropyForward(losses, logits, tgt, mask);
    const l = be.download(losses) as Float32Array;
    const count = batch.mask ? batch.mask.reduce((a, b) => a + b, 0) : N;
    let sum = 0;
    for (const x of l) sum += x;
    const dlogits = be.alloc([N, V]);
    be.crossEntropyBackward(dlogits, logits, tgt, mask, (opts.gradScale ?? 1) / count);
    const dhead = be.view(this.grads, V * C, [V, C]);
    be.matmul(dhead, dlogits, h, { transA: true, beta: 1 });
    const dh = be.alloc([N, C]);
    be.matmul(dh, dlogits, this.head);
    be.embeddingBackward(be.view(this.grads, 0, [V, C]), dh, tok);
    if (this.poisonCalls.has(this.calls)) {
      be.upload(be.view(this.grads, 0, [1]), new Float32Array([NaN]));
      return { loss: NaN, tokens: count };
    }
    return { loss: sum / count, tokens: count };
  }

  evalLoss(batch: Batch): { sumLoss: number; tokens: number } {
    const be = this.backend;
    const N = batch.B * batch.T;
    const { logits } = this.forward(batch.tokens, N);
    const tgt = be.alloc([N], 'i32');
    be.upload(tgt, batch.targets);
    let mask: Tensor | null = null;
    if (batch.mask) {
      mask = be.alloc([N]);
      be.upload(mask, batch.mask);
    }
    const losses = be.alloc([N]);
    be.crossEntropyForward(losses, logits, tgt, mask);
    let sum = 0;
    for (const x of be.download(losses) as Float32Array) sum += x;
    return { sumLoss: sum, tokens: batch.mask ? batch.mask.reduce((a, b) => a + b, 0) : N };
  }

  logits(tokens: Int32Array, B: number, T: number): Float32Array {
    return this.backend.download(this.forward(tokens, B * T).logits) as Float32Array;
  }

  hiddenStates(tokens: Int32Array, B: number, T: number): Float32Array {
    return this.backend.download(this.forward(tokens, B * T).h) as Float32Array;
  }

  createKVCache(B: number, capacity: number): KVCache {
    const lens = new Int32Array(B);
    return { B, capacity, lens, reset: () => lens.fill(0) };
  }

  step(cache: KVCache, tokens: Int32Array, T: number, active?: Uint8Array): Float32Array {
    const B = cache.B;
    const V = this.config.vocabSize;
    const all = this.logits(tokens, B, T);
    const out = new Float32Array(B * V);
    for (let b = 0; b < B; b++) {
      if (active && !active[b]) continue;
      out.set(all.subarray((b * T + T - 1) * V, (b * T + T) * V), b * V);
      cache.lens[b]! += T;
    }
    return out;
  }
}

/** Saves raw parameters; enough for trainer tests that never leave the process. */
export const rawModelStore: ModelStore = {
  save(dir, model) {
    const p = model.backend.download(model.params) as Float32Array;
    writeFileSync(join(dir, 'params.f32'), new Uint8Array(p.buffer, p.byteOffset, p.byteLength));
  },
  loadInto(dir, model) {
    const b = readFileSync(join(dir, 'params.f32'));
    model.backend.upload(model.params, new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)));
  },
};
