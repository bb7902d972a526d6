import { z } from 'zod';
import { UserError } from '../common/errors.js';
import type { ModelConfig } from './types.js';

/**
 * Model configuration: the zod schema of ModelConfig, named presets, size and FLOPs estimates, and
 * conversion to and from a Hugging Face `config.json` (LlamaForCausalLM, or Qwen3ForCausalLM when
 * QK-norm is on — the two architectures whose tensor names and maths our decoder matches).
 */

export const ModelConfigSchema = z
  .object({
    vocabSize: z.number().int().min(2),
    hiddenSize: z.number().int().min(1),
    numLayers: z.number().int().min(1),
    numHeads: z.number().int().min(1),
    numKVHeads: z.number().int().min(1),
    headDim: z.number().int().min(2),
    intermediateSize: z.number().int().min(1),
    maxSeqLen: z.number().int().min(1),
    ropeTheta: z.number().positive(),
    rmsNormEps: z.number().positive(),
    qkNorm: z.boolean(),
    tieEmbeddings: z.boolean(),
    bosTokenId: z.number().int().min(0),
    eosTokenId: z.number().int().min(0),
    padTokenId: z.number().int().min(0),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.numHeads % c.numKVHeads !== 0) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['numKVHeads'], message: `numHeads (${c.numHeads}) must be a multiple of numKVHeads (${c.numKVHeads})` });
    }
    if (c.headDim % 2 !== 0) ctx.addIssue({ code: z.ZodIssueCode.custom, path: ['headDim'], message: 'headDim must be even (RoPE rotates pairs)' });
    for (const key of ['bosTokenId', 'eosTokenId', 'padTokenId'] as const) {
      if (c[key] >= c.vocabSize) ctx.addIssue({ code: z.ZodIssueCode.custom, path: [key], message: `${key} ${c[key]} is outside the vocabulary (size ${c.vocabSize})` });
    }
  });

export const MODEL_PRESET_NAMES = ['tiny', 'small', 'base', 'large'] as const;
export type ModelPresetName = (typeof MODEL_PRESET_NAMES)[number];

const SHARED = { ropeTheta: 500_000, rmsNormEps: 1e-5, bosTokenId: 1, eosTokenId: 2, padTokenId: 0 } as const;

/**
 * Presets; `vocabSize` is replaced by the tokenizer's. Non-embedding parameter counts:
 * tiny ≈ 0.9M (laptop smoke runs), small ≈ 13M, base ≈ 76M, large ≈ 0.9B (Llama-3.2-1B shape).
 * QK-norm is on by default because the SBP paper trains with it.
 */
export const MODEL_PRESETS: Record<ModelPresetName, ModelConfig> = {
  tiny: { ...SHARED, vocabSize: 16_384, hiddenSize: 128, numLayers: 4, numHeads: 4, numKVHeads: 2, headDim: 32, intermediateSize: 384, maxSeqLen: 512, qkNorm: true, tieEmbeddings: true },
  small: { ...SHARED, vocabSize: 16_384, hiddenSize: 384, numLayers: 8, numHeads: 6, numKVHeads: 2, headDim: 64, intermediateSize: 1024, maxSeqLen: 1024, qkNorm: true, tieEmbeddings: true },
  base: { ...SHARED, vocabSize: 16_384, hiddenSize: 768, numLayers: 12, numHeads: 12, numKVHeads: 4, headDim: 64, intermediateSize: 2048, maxSeqLen: 2048, qkNorm: true, tieEmbeddings: false },
  large: { ...SHARED, vocabSize: 16_384, hiddenSize: 2048, numLayers: 16, numHeads: 32, numKVHeads: 8, headDim: 64, intermediateSize: 8192, maxSeqLen: 4096, qkNorm: true, tieEmbeddings: true },
};

/** What a run config says about the model: a preset plus any field overridden. */
export const ModelSpecSchema = z
  .object({ preset: z.enum(MODEL_PRESET_NAMES).default('tiny') })
  .merge(ModelConfigSchema.innerType().partial())
  .strict();
export type ModelSpec = z.infer<typeof ModelSpecSchema>;

/** Validates a model config; a bad value is a UserError naming `source` and the field. */
export function parseModelConfig(value: unknown, source: string): ModelConfig {
  const r = ModelConfigSchema.safeParse(value);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    throw new UserError(`${source}: model.${issue.path.join('.')}: ${issue.message}`);
  }
  return r.data;
}

/** The preset with the spec's overrides applied; `vocabSize` (from the tokenizer) wins when given. */
export function resolveModelConfig(spec: Partial<ModelSpec>, opts: { vocabSize?: number; source?: string } = {}): ModelConfig {
  const { preset = 'tiny', ...overrides } = spec;
  const base = MODEL_PRESETS[preset];
  if (!base) throw new UserError(`${opts.source ?? 'model config'}: unknown model preset "${preset}"; use one of ${MODEL_PRESET_NAMES.join(', ')}`);
  const merged = { ...base, ...overrides, ...(opts.vocabSize !== undefined ? { vocabSize: opts.vocabSize } : {}) };
  return parseModelConfig(merged, opts.source ?? 'model config');
}

/** Parameter counts: total, and without the token embedding (the usual "N" of scaling laws). */
export function countParams(c: ModelConfig): { total: number; nonEmbedding: number } {
  const C = c.hiddenSize, q = c.numHeads * c.headDim, kv = c.numKVHeads * c.headDim;
  const perLayer = C /* input norm */ + C * q + 2 * C * kv + q * C + (c.qkNorm ? 2 * c.headDim : 0) + C /* post norm */ + 3 * C * c.intermediateSize;
  const embed = c.vocabSize * C;
  const head = c.tieEmbeddings ? 0 : c.vocabSize * C;
  const total = embed + c.numLayers * perLayer + C + head;
  return { total, nonEmbedding: total - embed };
}

/**
 * Training FLOPs per token at context length T (forward + backward), PaLM-style:
 * 6·N_matmul + 12·L·H·D·T, where N_matmul counts every weight used in a matmul (the lm_head included,
 * the embedding lookup not) and the second term is QKᵀ and AV without discounting the causal mask.
 */
export function trainFlopsPerToken(c: ModelConfig, T: number): number {
  const C = c.hiddenSize, q = c.numHeads * c.headDim, kv = c.numKVHeads * c.headDim;
  const matmulParams = c.numLayers * (C * q + 2 * C * kv + q * C + 3 * C * c.intermediateSize) + c.vocabSize * C;
  return 6 * matmulParams + 12 * c.numLayers * c.numHeads * c.headDim * T;
}

/** A Hugging Face `config.json` for this model: Llama, or Qwen3 when QK-norm is on. */
export function toHfConfig(c: ModelConfig): Record<string, unknown> {
  const qwen = c.qkNorm;
  return {
    architectures: [qwen ? 'Qwen3ForCausalLM' : 'LlamaForCausalLM'],
    model_type: qwen ? 'qwen3' : 'llama',
    vocab_size: c.vocabSize,
    hidden_size: c.hiddenSize,
    intermediate_size: c.intermediateSize,
    num_hidden_layers: c.numLayers,
    num_attention_heads: c.numHeads,
    num_key_value_heads: c.numKVHeads,
    head_dim: c.headDim,
    hidden_act: 'silu',
    max_position_embeddings: c.maxSeqLen,
    rope_theta: c.ropeTheta,
    rope_scaling: null,
    rms_norm_eps: c.rmsNormEps,
    tie_word_embeddings: c.tieEmbeddings,
    attention_bias: false,
    attention_dropout: 0,
    ...(qwen ? { use_sliding_window: false, sliding_window: null, max_window_layers: c.numLayers } : { mlp_bias: false, pretraining_tp: 1 }),
    initializer_range: 0.02,
    bos_token_id: c.bosTokenId,
    eos_token_id: c.eosTokenId,
    pad_token_id: c.padTokenId,
    use_cache: true,
    torch_dtype: 'float32',
  };
}

/**
 * Reads a Hugging Face `config.json` (already parsed) of a Llama or Qwen3 causal LM. Anything our
 * decoder does not compute the same way (biases, other activations, RoPE scaling, sliding windows)
 * is refused with a UserError naming the file and the field, rather than loaded and silently wrong.
 */
export function fromHfConfig(json: unknown, file: string): ModelConfig {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new UserError(`${file}: expected a JSON object`);
  const j = json as Record<string, unknown>;
  const archs = j['architectures'];
  const arch = Array.isArray(archs) ? archs[0] : undefined;
  if (arch !== 'LlamaForCausalLM' && arch !== 'Qwen3ForCausalLM') {
    throw new UserError(`${file}: architectures ${JSON.stringify(archs ?? null)} is not supported; sbp loads LlamaForCausalLM and Qwen3ForCausalLM checkpoints`);
  }
  const int = (key: string, fallback?: number): number => {
    const v = j[key] ?? fallback;
    if (typeof v !== 'number' || !Number.isInteger(v)) throw new UserError(`${file}: "${key}" must be an integer, got ${JSON.stringify(j[key] ?? null)}`);
    return v;
  };
  const num = (key: string, fallback: number): number => {
    const v = j[key] ?? fallback;
    if (typeof v !== 'number') throw new UserError(`${file}: "${key}" must be a number, got ${JSON.stringify(v)}`);
    return v;
  };
  const refuse = (key: string, ok: (v: unknown) => boolean, why: string) => {
    if (key in j && !ok(j[key])) throw new UserError(`${file}: "${key}": ${JSON.stringify(j[key])} is not supported (${why})`);
  };
  const falsy = (v: unknown) => v === false || v === null || v === undefined;
  refuse('hidden_act', (v) => v === 'silu', 'the MLP is SwiGLU with silu');
  refuse('attention_bias', falsy, 'the attention projections have no biases');
  refuse('mlp_bias', falsy, 'the MLP projections have no biases');
  refuse('rope_scaling', (v) => v === null, 'only plain RoPE is implemented');
  refuse('use_sliding_window', falsy, 'attention is full causal');
  const tokenId = (key: string, fallback: number): number => {
    let v = j[key];
    if (Array.isArray(v)) v = v[0]; // Llama 3 instruct lists several end-of-sequence ids; the first is the document end
    if (v === null || v === undefined) return fallback;
    if (typeof v !== 'number' || !Number.isInteger(v)) throw new UserError(`${file}: "${key}" must be an integer, got ${JSON.stringify(j[key])}`);
    return v;
  };
  const hiddenSize = int('hidden_size');
  const numHeads = int('num_attention_heads');
  const eos = tokenId('eos_token_id', 0);
  const cfg = {
    vocabSize: int('vocab_size'),
    hiddenSize,
    numLayers: int('num_hidden_layers'),
    numHeads,
    numKVHeads: int('num_key_value_heads', numHeads),
    headDim: int('head_dim', Math.floor(hiddenSize / numHeads)),
    intermediateSize: int('intermediate_size'),
    maxSeqLen: int('max_position_embeddings', 2048),
    ropeTheta: num('rope_theta', 10_000),
    rmsNormEps: num('rms_norm_eps', 1e-6),
    qkNorm: arch === 'Qwen3ForCausalLM',
    tieEmbeddings: j['tie_word_embeddings'] === true,
    bosTokenId: tokenId('bos_token_id', 0),
    eosTokenId: eos,
    padTokenId: tokenId('pad_token_id', eos),
  };
  return parseModelConfig(cfg, file);
}
