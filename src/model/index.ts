// sbp/model: the Llama-style decoder, its config and presets, the KV cache, and Hugging Face folders / safetensors in and out.
export type { ModelConfig, ParamEntry, Batch, KVCache, LanguageModel } from './types.js';
export { LlamaModel, type LlamaModelOptions } from './llama.js';
export { LlamaKVCache } from './kv-cache.js';
export { buildParamTable } from './param-table.js';
export { ModelConfigSchema, ModelSpecSchema, MODEL_PRESETS, MODEL_PRESET_NAMES, parseModelConfig, resolveModelConfig, countParams, trainFlopsPerToken, toHfConfig, fromHfConfig, type ModelSpec, type ModelPresetName } from './config.js';
export { saveModelFolder, loadModelFolder, type SaveModelOptions } from './hf-folder.js';
export { SafetensorsFile, writeSafetensors, halfToFloat, type SafetensorsDType, type SafetensorsInfo, type SafetensorsTensor } from './safetensors.js';
