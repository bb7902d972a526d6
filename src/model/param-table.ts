import type { ModelConfig, ParamEntry } from './types.js';

/**
 * The one size table of the model: every parameter tensor with its Hugging Face name, shape and
 * offset inside the single contiguous parameter allocation (gradients and optimizer moments mirror
 * it). Linear weights are (out, in). Norm weights get no weight decay; matrices and embeddings do.
 */
export function buildParamTable(c: ModelConfig): ParamEntry[] {
  const C = c.hiddenSize, D = c.headDim, F = c.intermediateSize, V = c.vocabSize;
  const qd = c.numHeads * D, kvd = c.numKVHeads * D;
  const table: ParamEntry[] = [];
  let offset = 0;
  const add = (name: string, shape: number[], decay: boolean) => {
    const size = shape.reduce((a, b) => a * b, 1);
    table.push({ name, shape, offset, size, decay });
    offset += size;
  };
  add('model.embed_tokens.weight', [V, C], true);
  for (let l = 0; l < c.numLayers; l++) {
    const p = `model.layers.${l}.`;
    add(`${p}input_layernorm.weight`, [C], false);
    add(`${p}self_attn.q_proj.weight`, [qd, C], true);
    add(`${p}self_attn.k_proj.weight`, [kvd, C], true);
    add(`${p}self_attn.v_proj.weight`, [kvd, C], true);
    add(`${p}self_attn.o_proj.weight`, [C, qd], true);
    if (c.qkNorm) {
      add(`${p}self_attn.q_norm.weight`, [D], false);
      add(`${p}self_attn.k_norm.weight`, [D], false);
    }
    add(`${p}post_attention_layernorm.weight`, [C], false);
    add(`${p}mlp.gate_proj.weight`, [F, C], true);
    add(`${p}mlp.up_proj.weight`, [F, C], true);
    add(`${p}mlp.down_proj.weight`, [C, F], true);
  }
  add('model.norm.weight', [C], false);
  if (!c.tieEmbeddings) add('lm_head.weight', [V, C], true);
  return table;
}

/** Whether a parameter is a norm weight (initialised to 1 rather than drawn). */
export function isNormWeight(name: string): boolean {
  return name.endsWith('norm.weight');
}
