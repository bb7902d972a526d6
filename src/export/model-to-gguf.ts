import { existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import { UserError } from '../common/errors.js';
import { RefBackend } from '../engine/ref-backend.js';
import { loadModelFolder } from '../model/hf-folder.js';
import { Tokenizer } from '../tokenizer/tokenizer.js';
import { writeGguf, type GgufTensor, type GgufValue } from './gguf-writer.js';

/**
 * An sbp model folder (Llama or Qwen3) → one GGUF file (F32 weights) with the tokenizer inside, as
 * llama.cpp's own converter lays it out:
 *
 *   architecture   `llama` (Llama) or `qwen3` (QK-norm); hyper-parameters under `<arch>.*`
 *   tensors        token_embd, blk.N.{attn_norm, attn_q, attn_k, attn_v, attn_output, attn_q_norm,
 *                  attn_k_norm, ffn_norm, ffn_gate, ffn_up, ffn_down}, output_norm, output (untied only)
 *   q / k rows     for `llama`, permuted from Hugging Face's half-split RoPE layout to llama.cpp's
 *                  interleaved one (rows (h, j, k) → (h, k, j), j = which half); `qwen3` keeps them
 *   tokenizer      `gpt2` (byte-level BPE): tokens as byte-level strings, merges, token types (special
 *                  tokens are control tokens, vocabulary padding is unused), bos/eos/pad ids,
 *                  `add_bos_token` true; pre-tokenizer `llama3`, whose split regex is sbp's
 */
export function modelFolderToGguf(modelDir: string, outPath: string, name = basename(modelDir)): { bytes: number; tensors: number; arch: string } {
  const tokPath = join(modelDir, 'tokenizer.json');
  if (!existsSync(tokPath)) throw new UserError(`${modelDir}: no tokenizer.json in the model folder; GGUF files carry their tokenizer`);
  const model = loadModelFolder(modelDir, new RefBackend());
  const c = model.config;
  const arch = c.qkNorm ? 'qwen3' : 'llama';
  const tok = Tokenizer.load(tokPath);
  const json = tok.toHFJson() as { model: { vocab: Record<string, number>; merges: string[] } };
  if (tok.vocabSize > c.vocabSize) throw new UserError(`${tokPath}: ${tok.vocabSize} tokens, more than the model's ${c.vocabSize}`);
  const tokens: string[] = new Array(c.vocabSize);
  const types = new Int32Array(c.vocabSize).fill(1); // 1 normal
  for (const [s, id] of Object.entries(json.model.vocab)) tokens[id] = s;
  const s = tok.special;
  for (const id of new Set([s.bos, s.eos, s.sep, s.pad, ...s.reserved])) {
    tokens[id] = tok.decode([id]);
    types[id] = 3; // control
  }
  for (let i = 0; i < c.vocabSize; i++) {
    if (tokens[i] === undefined) {
      tokens[i] = `[PAD${i}]`;
      types[i] = 5; // unused
    }
  }
  const kv: Array<[string, GgufValue]> = [
    ['general.architecture', { type: 'string', value: arch }],
    ['general.name', { type: 'string', value: name }],
    ['general.file_type', { type: 'u32', value: 0 }], // all F32
    [`${arch}.vocab_size`, { type: 'u32', value: c.vocabSize }],
    [`${arch}.context_length`, { type: 'u32', value: c.maxSeqLen }],
    [`${arch}.embedding_length`, { type: 'u32', value: c.hiddenSize }],
    [`${arch}.block_count`, { type: 'u32', value: c.numLayers }],
    [`${arch}.feed_forward_length`, { type: 'u32', value: c.intermediateSize }],
    [`${arch}.attention.head_count`, { type: 'u32', value: c.numHeads }],
    [`${arch}.attention.head_count_kv`, { type: 'u32', value: c.numKVHeads }],
    [`${arch}.attention.key_length`, { type: 'u32', value: c.headDim }],
    [`${arch}.attention.value_length`, { type: 'u32', value: c.headDim }],
    [`${arch}.attention.layer_norm_rms_epsilon`, { type: 'f32', value: c.rmsNormEps }],
    [`${arch}.rope.freq_base`, { type: 'f32', value: c.ropeTheta }],
    [`${arch}.rope.dimension_count`, { type: 'u32', value: c.headDim }],
    ['tokenizer.ggml.model', { type: 'string', value: 'gpt2' }],
    ['tokenizer.ggml.pre', { type: 'string', value: 'llama3' }],
    ['tokenizer.ggml.tokens', { type: 'array-string', value: tokens }],
    ['tokenizer.ggml.token_type', { type: 'array-i32', value: types }],
    ['tokenizer.ggml.merges', { type: 'array-string', value: json.model.merges }],
    ['tokenizer.ggml.bos_token_id', { type: 'u32', value: c.bosTokenId }],
    ['tokenizer.ggml.eos_token_id', { type: 'u32', value: c.eosTokenId }],
    ['tokenizer.ggml.padding_token_id', { type: 'u32', value: c.padTokenId }],
    ['tokenizer.ggml.add_bos_token', { type: 'bool', value: true }],
    ['tokenizer.ggml.add_eos_token', { type: 'bool', value: false }],
  ];

  const permute = (w: Float32Array, heads: number): Float32Array => {
    if (arch !== 'llama') return w;
    const rows = w.length / c.hiddenSize;
    const hd = rows / heads;
    const half = hd / 2;
    const out = new Float32Array(w.length);
    for (let h = 0; h < heads; h++) {
      for (let j = 0; j < 2; j++) {
        for (let k = 0; k < half; k++) {
          const from = h * hd + j * half + k;
          const to = h * hd + k * 2 + j;
          out.set(w.subarray(from * c.hiddenSize, (from + 1) * c.hiddenSize), to * c.hiddenSize);
        }
      }
    }
    return out;
  };
  const tensors: GgufTensor[] = [];
  for (const e of model.paramTable) {
    const m = /^model\.layers\.(\d+)\.(.+)$/.exec(e.name);
    let ggufName: string;
    let data = () => model.readParam(e.name);
    if (e.name === 'model.embed_tokens.weight') ggufName = 'token_embd.weight';
    else if (e.name === 'model.norm.weight') ggufName = 'output_norm.weight';
    else if (e.name === 'lm_head.weight') ggufName = 'output.weight';
    else if (m) {
      const local: Record<string, string> = {
        'input_layernorm.weight': 'attn_norm.weight',
        'self_attn.q_proj.weight': 'attn_q.weight',
        'self_attn.k_proj.weight': 'attn_k.weight',
        'self_attn.v_proj.weight': 'attn_v.weight',
        'self_attn.o_proj.weight': 'attn_output.weight',
        'self_attn.q_norm.weight': 'attn_q_norm.weight',
        'self_attn.k_norm.weight': 'attn_k_norm.weight',
        'post_attention_layernorm.weight': 'ffn_norm.weight',
        'mlp.gate_proj.weight': 'ffn_gate.weight',
        'mlp.up_proj.weight': 'ffn_up.weight',
        'mlp.down_proj.weight': 'ffn_down.weight',
      };
      const g = local[m[2]!];
      if (!g) throw new Error(`gguf: no GGUF name for tensor ${e.name}`);
      ggufName = `blk.${m[1]}.${g}`;
      if (m[2] === 'self_attn.q_proj.weight') data = () => permute(model.readParam(e.name), c.numHeads);
      if (m[2] === 'self_attn.k_proj.weight') data = () => permute(model.readParam(e.name), c.numKVHeads);
    } else throw new Error(`gguf: no GGUF name for tensor ${e.name}`);
    tensors.push({ name: ggufName, shape: e.shape, data });
  }
  const bytes = writeGguf(outPath, kv, tensors);
  return { bytes, tensors: tensors.length, arch };
}
