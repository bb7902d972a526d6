import { loadModelFolder, saveModelFolder } from '../model/hf-folder.js';
import { LlamaModel } from '../model/llama.js';
import type { LanguageModel } from '../model/types.js';
import type { ModelStore } from './checkpoint-store.js';
import { tokenizerFiles } from '../tokenizer/tokenizer.js';

/**
 * Checkpoints as Hugging Face folders (config.json, model.safetensors, generation_config.json and the
 * tokenizer.json when given), so every checkpoint, not only the final model, loads in other tools.
 */
export function hfModelStore(opts: { tokenizerJsonPath?: string } = {}): ModelStore {
  const tokenizer = opts.tokenizerJsonPath !== undefined ? tokenizerFiles(opts.tokenizerJsonPath) : undefined;
  return {
    save(dir, model) {
      saveModelFolder(dir, asLlama(model), { tokenizer });
    },
    loadInto(dir, model) {
      const loaded = loadModelFolder(dir, model.backend);
      try {
        if (loaded.numParams !== model.numParams) throw new Error(`${dir}: ${loaded.numParams} parameters, the model being trained has ${model.numParams}`);
        model.backend.copy(model.params, loaded.params);
      } finally {
        loaded.dispose?.();
      }
    },
  };
}

function asLlama(model: LanguageModel): LlamaModel {
  if (!(model instanceof LlamaModel)) throw new Error('Hugging Face checkpoints are written for LlamaModel only');
  return model;
}
