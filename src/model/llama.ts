import type { Backend, Tensor } from '../engine/backend.js';
import type { Batch, KVCache, LanguageModel, ModelConfig, ParamEntry } from './types.js';
import { buildParamTable, isNormWeight } from './param-table.js';
import { LlamaKVCache } from './kv-cache.js';
import { Mulberry32 } from '../common/mulberry32.js';

/**
 * A Llama-3-style decoder (optionally Qwen3-style QK-norm) written against the engine interface only,
 * so the same code runs on every backend. Forward and backward are spelled out per layer, llm.c style:
 *
 *   x = embed(tokens)
 *   per layer:  h = x + Wo · attn(rope(qknorm(Wq·n1)), rope(qknorm(Wk·n1)), Wv·n1),  n1 = rmsnorm(x)
 *               x = h + Wd · (silu(Wg·n2) ⊙ Wu·n2),                                  n2 = rmsnorm(h)
 *   logits = W_head · rmsnorm(x);  loss = Σ mask·CE / Σ mask
 *
 * Dimensions: B batch, T time, N = B·T, C width, H query heads, KVH key/value heads, D head size,
 * F MLP width, V vocabulary, L layers.
 */

export interface LlamaModelOptions {
  /** Seed of the weight initialisation (normal, std 0.02; norms 1 — as Hugging Face initialises). */
  seed?: number;
  /** Draw the initial weights (default true); a checkpoint loader that overwrites them passes false. */
  initialize?: boolean;
}

const INIT_STD = 0.02; // Hugging Face `initializer_range`

interface LayerWeights {
  ln1: Tensor; // (C)
  wq: Tensor; // (H*D, C)
  wk: Tensor; // (KVH*D, C)
  wv: Tensor; // (KVH*D, C)
  wo: Tensor; // (C, H*D)
  qNorm: Tensor | null; // (D)
  kNorm: Tensor | null; // (D)
  ln2: Tensor; // (C)
  wg: Tensor; // (F, C)
  wu: Tensor; // (F, C)
  wd: Tensor; // (C, F)
}

/** The activations of one layer, saved by the forward pass for the backward pass. */
interface LayerActs {
  ln1: Tensor; // (N, C) rmsnorm(x)
  ln1Rstd: Tensor; // (N)
  qRaw: Tensor; // (N, H*D) Wq · ln1
  kRaw: Tensor; // (N, KVH*D) Wk · ln1
  qRstd: Tensor | null; // (N*H) QK-norm statistics
  kRstd: Tensor | null; // (N*KVH)
  q: Tensor; // (B, T, H, D) after QK-norm and RoPE
  k: Tensor; // (B, T, KVH, D) after QK-norm and RoPE
  v: Tensor; // (B, T, KVH, D)
  att: Tensor; // (B, T, H, D) attention output
  lse: Tensor; // (B, H, T) log-sum-exp per attention row
  residMid: Tensor; // (N, C) x + attention branch
  ln2: Tensor; // (N, C)
  ln2Rstd: Tensor; // (N)
  gate: Tensor; // (N, F)
  up: Tensor; // (N, F)
  swi: Tensor; // (N, F) silu(gate) * up
  residOut: Tensor; // (N, C) the layer's output (next layer's input)
}

interface Acts {
  B: number;
  T: number;
  tokens: Tensor; // (N) i32
  targets: Tensor; // (N) i32
  mask: Tensor; // (N) f32
  positions: Tensor; // (N) i32
  x0: Tensor; // (N, C) token embeddings
  layers: LayerActs[]; // L entries (decode shares one across layers: nothing is kept for backward)
  lnf: Tensor; // (N, C) final norm output
  lnfRstd: Tensor; // (N)
  logits: Tensor | null; // (N, V), allocated when a loss or logits are asked for
  losses: Tensor | null; // (N)
}

/** Gradient scratch for the backward pass, allocated on the first forwardBackward for (B, T). */
interface Grads {
  dlogits: Tensor; // (N, V)
  dresid: Tensor; // (N, C) gradient of the residual stream
  dln: Tensor; // (N, C) gradient of a norm output
  dswi: Tensor; // (N, F)
  dgate: Tensor; // (N, F)
  dup: Tensor; // (N, F)
  datt: Tensor; // (N, H*D)
  dq: Tensor; // (B, T, H, D) after RoPE
  dk: Tensor; // (B, T, KVH, D)
  dv: Tensor; // (B, T, KVH, D)
  dqPre: Tensor; // (N, H*D) before RoPE
  dkPre: Tensor; // (N, KVH*D)
  dqRaw: Tensor | null; // (N, H*D) before QK-norm
  dkRaw: Tensor | null; // (N, KVH*D)
}

/** Decoding scratch for one new token per sequence, shared by all layers. */
interface DecodeActs extends Acts {
  lensAfter: Tensor; // (B) i32 cache length including the new token
  headOut: Tensor; // (B, V)
}

export class LlamaModel implements LanguageModel {
  readonly paramTable: readonly ParamEntry[];
  readonly numParams: number;
  readonly params: Tensor; // (numParams) every weight, laid out by paramTable
  readonly grads: Tensor; // (numParams) mirrors params
  private readonly byName: Map<string, ParamEntry>;
  private readonly wte: Tensor; // (V, C)
  private readonly dwte: Tensor;
  private readonly lmHead: Tensor; // (V, C), the embedding when tied
  private readonly dlmHead: Tensor;
  private readonly normF: Tensor; // (C)
  private readonly dnormF: Tensor;
  private readonly layers: LayerWeights[];
  private readonly dlayers: LayerWeights[];
  private readonly ropeCos: Tensor; // (maxSeqLen, D/2)
  private readonly ropeSin: Tensor; // (maxSeqLen, D/2)
  private acts: Acts | null = null;
  private gradScratch: Grads | null = null;
  private decodeActs: DecodeActs | null = null;

  constructor(readonly config: ModelConfig, readonly backend: Backend, opts: LlamaModelOptions = {}) {
    const c = config;
    if (c.numHeads % c.numKVHeads !== 0) throw new RangeError(`numHeads ${c.numHeads} is not a multiple of numKVHeads ${c.numKVHeads}`);
    if (c.headDim % 2 !== 0) throw new RangeError(`headDim ${c.headDim} must be even for RoPE`);
    this.paramTable = buildParamTable(c);
    const last = this.paramTable[this.paramTable.length - 1]!;
    this.numParams = last.offset + last.size;
    this.byName = new Map(this.paramTable.map((e) => [e.name, e]));
    this.params = backend.alloc([this.numParams]);
    this.grads = backend.alloc([this.numParams]);
    const p = (name: string) => this.view(this.params, name);
    const g = (name: string) => this.view(this.grads, name);
    const headName = c.tieEmbeddings ? 'model.embed_tokens.weight' : 'lm_head.weight';
    this.wte = p('model.embed_tokens.weight');
    this.dwte = g('model.embed_tokens.weight');
    this.lmHead = p(headName);
    this.dlmHead = g(headName);
    this.normF = p('model.norm.weight');
    this.dnormF = g('model.norm.weight');
    const layerViews = (get: (name: string) => Tensor): LayerWeights[] =>
      Array.from({ length: c.numLayers }, (_, l) => {
        const pre = `model.layers.${l}.`;
        return {
          ln1: get(`${pre}input_layernorm.weight`),
          wq: get(`${pre}self_attn.q_proj.weight`),
          wk: get(`${pre}self_attn.k_proj.weight`),
          wv: get(`${pre}self_attn.v_proj.weight`),
          wo: get(`${pre}self_attn.o_proj.weight`),
          qNorm: c.qkNorm ? get(`${pre}self_attn.q_norm.weight`) : null,
          kNorm: c.qkNorm ? get(`${pre}self_attn.k_norm.weight`) : null,
          ln2: get(`${pre}post_attention_layernorm.weight`),
          wg: get(`${pre}mlp.gate_proj.weight`),
          wu: get(`${pre}mlp.up_proj.weight`),
          wd: get(`${pre}mlp.down_proj.weight`),
        };
      });
    this.layers = layerViews(p);
    this.dlayers = layerViews(g);
    [this.ropeCos, this.ropeSin] = this.buildRopeTables();
    if (opts.initialize ?? true) this.initialize(opts.seed ?? 0);
  }

  // ---- parameters ----

  private view(base: Tensor, name: string): Tensor {
    const e = this.byName.get(name);
    if (!e) throw new Error(`no parameter named ${name}`);
    return this.backend.view(base, e.offset, e.shape);
  }

  /** The parameter entry with this Hugging Face name, or undefined. */
  paramEntry(name: string): ParamEntry | undefined {
    return this.byName.get(name);
  }

  /** A view of one parameter tensor (writes through to `params`). */
  paramView(name: string): Tensor {
    return this.view(this.params, name);
  }

  /** A view of one parameter's gradient. */
  gradView(name: string): Tensor {
    return this.view(this.grads, name);
  }

  /** A host copy of one parameter tensor. */
  readParam(name: string): Float32Array {
    return this.backend.download(this.paramView(name)) as Float32Array;
  }

  /** Overwrites one parameter tensor from the host. */
  writeParam(name: string, data: Float32Array): void {
    this.backend.upload(this.paramView(name), data);
  }

  private initialize(seed: number): void {
    const rng = new Mulberry32(seed);
    for (const e of this.paramTable) {
      const data = isNormWeight(e.name) ? new Float32Array(e.size).fill(1) : rng.normalArray(e.size, INIT_STD);
      this.writeParam(e.name, data);
    }
  }

  zeroGrads(): void {
    this.backend.fill(this.grads, 0);
  }

  /** cos / sin of position·θ^(-2i/D), computed in float64, (maxSeqLen, D/2) each. */
  private buildRopeTables(): [Tensor, Tensor] {
    const { maxSeqLen, headDim: D, ropeTheta } = this.config;
    const half = D / 2;
    const cos = new Float32Array(maxSeqLen * half);
    const sin = new Float32Array(maxSeqLen * half);
    for (let p = 0; p < maxSeqLen; p++) {
      for (let i = 0; i < half; i++) {
        const angle = p * Math.pow(ropeTheta, (-2 * i) / D);
        cos[p * half + i] = Math.cos(angle);
        sin[p * half + i] = Math.sin(angle);
      }
    }
    const tc = this.backend.alloc([maxSeqLen, half]);
    const ts = this.backend.alloc([maxSeqLen, half]);
    this.backend.upload(tc, cos);
    this.backend.upload(ts, sin);
    return [tc, ts];
  }

  // ---- activation buffers ----

  private allocLayerActs(B: number, T: number): LayerActs {
    const be = this.backend;
    const { hiddenSize: C, numHeads: H, numKVHeads: KVH, headDim: D, intermediateSize: F, qkNorm } = this.config;
    const N = B * T;
    return {
      ln1: be.alloc([N, C]),
      ln1Rstd: be.alloc([N]),
      qRaw: be.alloc([N, H * D]),
      kRaw: be.alloc([N, KVH * D]),
      qRstd: qkNorm ? be.alloc([N * H]) : null,
      kRstd: qkNorm ? be.alloc([N * KVH]) : null,
      q: be.alloc([B, T, H, D]),
      k: be.alloc([B, T, KVH, D]),
      v: be.alloc([B, T, KVH, D]),
      att: be.alloc([B, T, H, D]),
      lse: be.alloc([B, H, T]),
      residMid: be.alloc([N, C]),
      ln2: be.alloc([N, C]),
      ln2Rstd: be.alloc([N]),
      gate: be.alloc([N, F]),
      up: be.alloc([N, F]),
      swi: be.alloc([N, F]),
      residOut: be.alloc([N, C]),
    };
  }

  private allocActs(B: number, T: number, sharedLayer: boolean): Acts {
    const be = this.backend;
    const C = this.config.hiddenSize;
    const N = B * T;
    const one = sharedLayer ? this.allocLayerActs(B, T) : null;
    return {
      B,
      T,
      tokens: be.alloc([N], 'i32'),
      targets: be.alloc([N], 'i32'),
      mask: be.alloc([N]),
      positions: be.alloc([N], 'i32'),
      x0: be.alloc([N, C]),
      layers: Array.from({ length: this.config.numLayers }, () => one ?? this.allocLayerActs(B, T)),
      lnf: be.alloc([N, C]),
      lnfRstd: be.alloc([N]),
      logits: null,
      losses: null,
    };
  }

  /** Training/eval activations for (B, T), reused while the shape stays the same. */
  private actsFor(B: number, T: number): Acts {
    if (!Number.isInteger(B) || !Number.isInteger(T) || B < 1 || T < 1) throw new RangeError(`batch shape (${B}, ${T}) must be positive integers`);
    if (T > this.config.maxSeqLen) throw new RangeError(`sequence length ${T} exceeds the model's maxSeqLen ${this.config.maxSeqLen}`);
    if (this.acts && this.acts.B === B && this.acts.T === T) return this.acts;
    this.acts = this.allocActs(B, T, false);
    this.gradScratch = null;
    const pos = new Int32Array(B * T);
    for (let i = 0; i < B * T; i++) pos[i] = i % T;
    this.backend.upload(this.acts.positions, pos);
    return this.acts;
  }

  private ensureLogits(a: Acts): { logits: Tensor; losses: Tensor } {
    if (!a.logits || !a.losses) {
      a.logits = this.backend.alloc([a.B * a.T, this.config.vocabSize]);
      a.losses = this.backend.alloc([a.B * a.T]);
    }
    return { logits: a.logits, losses: a.losses };
  }

  private gradsFor(a: Acts): Grads {
    if (this.gradScratch) return this.gradScratch;
    const be = this.backend;
    const { hiddenSize: C, numHeads: H, numKVHeads: KVH, headDim: D, intermediateSize: F, vocabSize: V, qkNorm } = this.config;
    const { B, T } = a;
    const N = B * T;
    this.gradScratch = {
      dlogits: be.alloc([N, V]),
      dresid: be.alloc([N, C]),
      dln: be.alloc([N, C]),
      dswi: be.alloc([N, F]),
      dgate: be.alloc([N, F]),
      dup: be.alloc([N, F]),
      datt: be.alloc([N, H * D]),
      dq: be.alloc([B, T, H, D]),
      dk: be.alloc([B, T, KVH, D]),
      dv: be.alloc([B, T, KVH, D]),
      dqPre: be.alloc([N, H * D]),
      dkPre: be.alloc([N, KVH * D]),
      dqRaw: qkNorm ? be.alloc([N, H * D]) : null,
      dkRaw: qkNorm ? be.alloc([N, KVH * D]) : null,
    };
    return this.gradScratch;
  }

  /** A view of t's storage under another shape of the same size (no copy). */
  private reshaped(t: Tensor, shape: number[]): Tensor {
    return this.backend.view(t, 0, shape);
  }

  // ---- forward ----

  /**
   * One decoder layer on input x (N, C), writing a.residOut. `attend` fills a.att from a.q, a.k, a.v
   * (full causal attention in training, the KV cache when decoding).
   */
  private layerForward(l: number, a: LayerActs, x: Tensor, B: number, T: number, positions: Tensor, attend: (l: number, a: LayerActs) => void): void {
    const be = this.backend;
    const w = this.layers[l]!;
    const { numHeads: H, numKVHeads: KVH, headDim: D, rmsNormEps: eps } = this.config;
    const N = B * T;
    be.rmsnormForward(a.ln1, a.ln1Rstd, x, w.ln1, eps);
    be.matmul(a.qRaw, a.ln1, w.wq, { transB: true }); // (N, H*D)
    be.matmul(a.kRaw, a.ln1, w.wk, { transB: true }); // (N, KVH*D)
    be.matmul(this.reshaped(a.v, [N, KVH * D]), a.ln1, w.wv, { transB: true }); // (N, KVH*D)
    if (w.qNorm && w.kNorm && a.qRstd && a.kRstd) {
      be.rmsnormForward(a.q, a.qRstd, this.reshaped(a.qRaw, [B, T, H, D]), w.qNorm, eps);
      be.rmsnormForward(a.k, a.kRstd, this.reshaped(a.kRaw, [B, T, KVH, D]), w.kNorm, eps);
      be.ropeForward(a.q, a.q, positions, this.ropeCos, this.ropeSin);
      be.ropeForward(a.k, a.k, positions, this.ropeCos, this.ropeSin);
    } else {
      be.ropeForward(a.q, this.reshaped(a.qRaw, [B, T, H, D]), positions, this.ropeCos, this.ropeSin);
      be.ropeForward(a.k, this.reshaped(a.kRaw, [B, T, KVH, D]), positions, this.ropeCos, this.ropeSin);
    }
    attend(l, a); // a.att (B, T, H, D)
    // ln2 is free until the MLP, so it holds Wo·att; x may alias residOut when decoding (layers share
    // buffers there), so residOut is written only after x has been read for the last time.
    be.matmul(a.ln2, this.reshaped(a.att, [N, H * D]), w.wo, { transB: true }); // (N, C)
    be.add(a.residMid, x, a.ln2);
    be.rmsnormForward(a.ln2, a.ln2Rstd, a.residMid, w.ln2, eps);
    be.matmul(a.gate, a.ln2, w.wg, { transB: true }); // (N, F)
    be.matmul(a.up, a.ln2, w.wu, { transB: true }); // (N, F)
    be.swigluForward(a.swi, a.gate, a.up);
    be.matmul(a.residOut, a.swi, w.wd, { transB: true }); // (N, C) MLP branch
    be.add(a.residOut, a.residMid, a.residOut);
  }

  /** Embedding, every layer and the final norm; leaves rmsnorm(x_L) in a.lnf. */
  private trunkForward(a: Acts, attend: (l: number, la: LayerActs) => void): void {
    this.backend.embeddingForward(a.x0, a.tokens, this.wte);
    let x = a.x0;
    for (let l = 0; l < this.config.numLayers; l++) {
      const la = a.layers[l]!;
      this.layerForward(l, la, x, a.B, a.T, a.positions, attend);
      x = la.residOut;
    }
    this.backend.rmsnormForward(a.lnf, a.lnfRstd, x, this.normF, this.config.rmsNormEps);
  }

  private readonly causalAttend = (_l: number, a: LayerActs): void => {
    this.backend.attentionForward(a.att, a.lse, a.q, a.k, a.v);
  };

  private uploadTokens(a: Acts, tokens: Int32Array): void {
    const V = this.config.vocabSize;
    if (tokens.length !== a.B * a.T) throw new RangeError(`expected ${a.B * a.T} tokens (B=${a.B}, T=${a.T}), got ${tokens.length}`);
    for (let i = 0; i < tokens.length; i++) {
      if (tokens[i]! < 0 || tokens[i]! >= V) throw new RangeError(`token ${tokens[i]} at index ${i} is outside the vocabulary [0, ${V})`);
    }
    this.backend.upload(a.tokens, tokens);
  }

  /** Runs the forward pass and the per-token losses; returns (acts, Σ mask·loss, Σ mask). */
  private lossForward(batch: Batch): { a: Acts; sumLoss: number; count: number } {
    const { B, T } = batch;
    const a = this.actsFor(B, T);
    this.uploadTokens(a, batch.tokens);
    if (batch.targets.length !== B * T) throw new RangeError(`expected ${B * T} targets, got ${batch.targets.length}`);
    this.backend.upload(a.targets, batch.targets);
    let count = B * T;
    if (batch.mask) {
      if (batch.mask.length !== B * T) throw new RangeError(`expected a mask of ${B * T} values, got ${batch.mask.length}`);
      this.backend.upload(a.mask, batch.mask);
      count = 0;
      for (let i = 0; i < batch.mask.length; i++) count += batch.mask[i]!;
    }
    this.trunkForward(a, this.causalAttend);
    const { logits, losses } = this.ensureLogits(a);
    this.backend.matmul(logits, a.lnf, this.lmHead, { transB: true }); // (N, V)
    this.backend.crossEntropyForward(losses, logits, a.targets, batch.mask ? a.mask : null);
    const host = this.backend.download(losses);
    let sumLoss = 0;
    for (let i = 0; i < host.length; i++) sumLoss += host[i]!;
    return { a, sumLoss, count };
  }

  evalLoss(batch: Batch): { sumLoss: number; tokens: number } {
    const { sumLoss, count } = this.lossForward(batch);
    return { sumLoss, tokens: count };
  }

  logits(tokens: Int32Array, B: number, T: number): Float32Array {
    const a = this.actsFor(B, T);
    this.uploadTokens(a, tokens);
    this.trunkForward(a, this.causalAttend);
    const { logits } = this.ensureLogits(a);
    this.backend.matmul(logits, a.lnf, this.lmHead, { transB: true }); // (N, V)
    return this.backend.download(logits) as Float32Array;
  }

  hiddenStates(tokens: Int32Array, B: number, T: number): Float32Array {
    const a = this.actsFor(B, T);
    this.uploadTokens(a, tokens);
    this.trunkForward(a, this.causalAttend);
    return this.backend.download(a.lnf) as Float32Array;
  }

  // ---- backward ----

  /**
   * Mean loss over counted tokens (Σ mask), with d(mean loss)·gradScale added into `grads`. A batch
   * whose mask counts no token returns loss 0 and tokens 0 and adds nothing.
   */
  forwardBackward(batch: Batch, opts: { gradScale?: number } = {}): { loss: number; tokens: number } {
    const gradScale = opts.gradScale ?? 1;
    const { a, sumLoss, count } = this.lossForward(batch);
    if (count <= 0) return { loss: 0, tokens: 0 };
    const be = this.backend;
    const d = this.gradsFor(a);
    const { B, T } = a;

    // loss → logits → final norm
    be.crossEntropyBackward(d.dlogits, a.logits!, a.targets, batch.mask ? a.mask : null, gradScale / count);
    be.matmul(d.dln, d.dlogits, this.lmHead); // (N, C) = (N, V) · (V, C)
    be.matmul(this.dlmHead, d.dlogits, a.lnf, { transA: true, beta: 1 }); // (V, C) += dlogitsᵀ · lnf
    be.fill(d.dresid, 0);
    const xLast = a.layers[this.config.numLayers - 1]!.residOut;
    be.rmsnormBackward(d.dresid, this.dnormF, d.dln, xLast, this.normF, a.lnfRstd);

    for (let l = this.config.numLayers - 1; l >= 0; l--) {
      const x = l === 0 ? a.x0 : a.layers[l - 1]!.residOut;
      this.layerBackward(l, a.layers[l]!, x, d, B, T, a.positions);
    }
    be.embeddingBackward(this.dwte, d.dresid, a.tokens);
    return { loss: sumLoss / count, tokens: count };
  }

  /**
   * The backward of one decoder layer (layerForward in reverse) from its saved activations `la` and
   * its input x (N, C). d.dresid (N, C) holds d(residOut) on entry and d(x) on exit; the layer's
   * weight gradients are added into dlayers[l].
   */
  private layerBackward(l: number, la: LayerActs, x: Tensor, d: Grads, B: number, T: number, positions: Tensor): void {
    const be = this.backend;
    const w = this.layers[l]!;
    const dw = this.dlayers[l]!;
    const { numHeads: H, numKVHeads: KVH, headDim: D } = this.config;
    const N = B * T;

    // MLP branch: residOut = residMid + Wd·swi ; dresid flows to residMid unchanged
    be.matmul(d.dswi, d.dresid, w.wd); // (N, F) = (N, C) · (C, F)
    be.matmul(dw.wd, d.dresid, la.swi, { transA: true, beta: 1 }); // (C, F)
    be.fill(d.dgate, 0);
    be.fill(d.dup, 0);
    be.swigluBackward(d.dgate, d.dup, d.dswi, la.gate, la.up);
    be.matmul(d.dln, d.dgate, w.wg); // (N, C) = (N, F) · (F, C)
    be.matmul(d.dln, d.dup, w.wu, { beta: 1 });
    be.matmul(dw.wg, d.dgate, la.ln2, { transA: true, beta: 1 }); // (F, C)
    be.matmul(dw.wu, d.dup, la.ln2, { transA: true, beta: 1 });
    be.rmsnormBackward(d.dresid, dw.ln2, d.dln, la.residMid, w.ln2, la.ln2Rstd);

    // attention branch: residMid = x + Wo·att ; dresid flows to x unchanged
    be.matmul(d.datt, d.dresid, w.wo); // (N, H*D) = (N, C) · (C, H*D)
    be.matmul(dw.wo, d.dresid, this.reshaped(la.att, [N, H * D]), { transA: true, beta: 1 }); // (C, H*D)
    be.fill(d.dq, 0);
    be.fill(d.dk, 0);
    be.fill(d.dv, 0);
    be.attentionBackward(d.dq, d.dk, d.dv, this.reshaped(d.datt, [B, T, H, D]), la.att, la.lse, la.q, la.k, la.v);
    be.fill(d.dqPre, 0);
    be.fill(d.dkPre, 0);
    be.ropeBackward(this.reshaped(d.dqPre, [B, T, H, D]), d.dq, positions, this.ropeCos, this.ropeSin);
    be.ropeBackward(this.reshaped(d.dkPre, [B, T, KVH, D]), d.dk, positions, this.ropeCos, this.ropeSin);
    let dqRaw = d.dqPre;
    let dkRaw = d.dkPre;
    if (w.qNorm && w.kNorm && dw.qNorm && dw.kNorm && d.dqRaw && d.dkRaw && la.qRstd && la.kRstd) {
      be.fill(d.dqRaw, 0);
      be.fill(d.dkRaw, 0);
      be.rmsnormBackward(this.reshaped(d.dqRaw, [N * H, D]), dw.qNorm, this.reshaped(d.dqPre, [N * H, D]), this.reshaped(la.qRaw, [N * H, D]), w.qNorm, la.qRstd);
      be.rmsnormBackward(this.reshaped(d.dkRaw, [N * KVH, D]), dw.kNorm, this.reshaped(d.dkPre, [N * KVH, D]), this.reshaped(la.kRaw, [N * KVH, D]), w.kNorm, la.kRstd);
      dqRaw = d.dqRaw;
      dkRaw = d.dkRaw;
    }
    const dv2 = this.reshaped(d.dv, [N, KVH * D]);
    be.matmul(d.dln, dqRaw, w.wq); // (N, C) = (N, H*D) · (H*D, C)
    be.matmul(d.dln, dkRaw, w.wk, { beta: 1 });
    be.matmul(d.dln, dv2, w.wv, { beta: 1 });
    be.matmul(dw.wq, dqRaw, la.ln1, { transA: true, beta: 1 }); // (H*D, C)
    be.matmul(dw.wk, dkRaw, la.ln1, { transA: true, beta: 1 }); // (KVH*D, C)
    be.matmul(dw.wv, dv2, la.ln1, { transA: true, beta: 1 });
    be.rmsnormBackward(d.dresid, dw.ln1, d.dln, x, w.ln1, la.ln1Rstd);
  }

  // ---- generation ----

  createKVCache(B: number, capacity: number): KVCache {
    return new LlamaKVCache(this.backend, this.config, B, capacity);
  }

  private decodeActsFor(B: number): DecodeActs {
    if (this.decodeActs && this.decodeActs.B === B) return this.decodeActs;
    const base = this.allocActs(B, 1, true);
    this.decodeActs = { ...base, lensAfter: this.backend.alloc([B], 'i32'), headOut: this.backend.alloc([B, this.config.vocabSize]) };
    return this.decodeActs;
  }

  step(cache: KVCache, tokens: Int32Array, T: number, active?: Uint8Array): Float32Array {
    if (!(cache instanceof LlamaKVCache) || cache.config !== this.config) throw new RangeError('step: the KV cache was not created by this model');
    const { B } = cache;
    if (!Number.isInteger(T) || T < 1) throw new RangeError(`step: T must be a positive integer, got ${T}`);
    if (tokens.length !== B * T) throw new RangeError(`step: expected ${B * T} tokens (B=${B}, T=${T}), got ${tokens.length}`);
    if (active && active.length !== B) throw new RangeError(`step: active has ${active.length} entries for ${B} sequences`);
    const isActive = (b: number) => !active || active[b] !== 0;
    for (let b = 0; b < B; b++) {
      if (isActive(b) && cache.lens[b]! + T > cache.capacity) {
        throw new RangeError(`step: sequence ${b} holds ${cache.lens[b]} tokens; ${T} more exceed the cache capacity ${cache.capacity}`);
      }
    }
    let allFresh = true;
    for (let b = 0; b < B; b++) if (!isActive(b) || cache.lens[b] !== 0) allFresh = false;
    if (allFresh) return this.prefill(cache, tokens, T);
    // continuing sequences: one token at a time through the cache
    let out: Float32Array = new Float32Array(0);
    const column = new Int32Array(B);
    for (let t = 0; t < T; t++) {
      for (let b = 0; b < B; b++) column[b] = tokens[b * T + t]!;
      out = this.decodeOne(cache, column, isActive);
    }
    return out;
  }

  /** Every sequence starts empty: full causal attention over (B, T), then the keys and values are cached. */
  private prefill(cache: LlamaKVCache, tokens: Int32Array, T: number): Float32Array {
    const be = this.backend;
    const B = cache.B;
    const C = this.config.hiddenSize;
    const a = this.actsFor(B, T);
    this.uploadTokens(a, tokens);
    this.trunkForward(a, this.causalAttend);
    const zeros = be.alloc([B], 'i32'); // (B) write position 0
    for (let l = 0; l < this.config.numLayers; l++) {
      be.kvCacheWrite(cache.k[l]!, a.layers[l]!.k, zeros);
      be.kvCacheWrite(cache.v[l]!, a.layers[l]!.v, zeros);
    }
    const d = this.decodeActsFor(B);
    for (let b = 0; b < B; b++) be.copy(be.view(d.lnf, b * C, [C]), be.view(a.lnf, (b * T + T - 1) * C, [C])); // last position
    be.matmul(d.headOut, d.lnf, this.lmHead, { transB: true }); // (B, V)
    for (let b = 0; b < B; b++) cache.lens[b] = T;
    return be.download(d.headOut) as Float32Array;
  }

  /** One new token per active sequence, attending to its cached rows. Inactive rows come back zero. */
  private decodeOne(cache: LlamaKVCache, column: Int32Array, isActive: (b: number) => boolean): Float32Array {
    const be = this.backend;
    const B = cache.B;
    const { numHeads: H, numKVHeads: KVH, headDim: D, vocabSize: V, maxSeqLen } = this.config;
    const d = this.decodeActsFor(B);
    const pos = new Int32Array(B);
    const after = new Int32Array(B);
    let all = true;
    for (let b = 0; b < B; b++) {
      const on = isActive(b);
      all &&= on;
      // an inactive row still flows through the layers; keep its position valid, never cache it
      pos[b] = Math.min(cache.lens[b]!, maxSeqLen - 1);
      after[b] = on ? cache.lens[b]! + 1 : cache.lens[b]!;
    }
    be.upload(d.positions, pos);
    be.upload(d.lensAfter, after);
    this.uploadTokens(d, column);
    const kvRow = KVH * D;
    const attend = (l: number, a: LayerActs) => {
      const kc = cache.k[l]!, vc = cache.v[l]!;
      if (all) {
        be.kvCacheWrite(kc, a.k, d.positions);
        be.kvCacheWrite(vc, a.v, d.positions);
      } else {
        for (let b = 0; b < B; b++) {
          if (!isActive(b)) continue;
          const seq = (c: Tensor) => be.view(c, b * cache.capacity * kvRow, [1, cache.capacity, KVH, D]);
          const row = (x: Tensor) => be.view(x, b * kvRow, [1, 1, KVH, D]);
          be.kvCacheWrite(seq(kc), row(a.k), be.view(d.positions, b, [1]));
          be.kvCacheWrite(seq(vc), row(a.v), be.view(d.positions, b, [1]));
        }
      }
      be.attentionDecode(this.reshaped(a.att, [B, H, D]), this.reshaped(a.q, [B, H, D]), kc, vc, d.lensAfter);
    };
    this.trunkForward(d, attend);
    be.matmul(d.headOut, d.lnf, this.lmHead, { transB: true }); // (B, V)
    const out = be.download(d.headOut) as Float32Array;
    for (let b = 0; b < B; b++) {
      if (isActive(b)) cache.lens[b]! += 1;
      else out.fill(0, b * V, (b + 1) * V);
    }
    return out;
  }

  /**
   * Drops this model's activation, gradient-scratch and decode buffers (rebuilt on the next call that
   * needs them). Parameters and gradients stay: they live as long as the model object.
   */
  dispose(): void {
    this.acts = null;
    this.gradScratch = null;
    this.decodeActs = null;
  }
}
