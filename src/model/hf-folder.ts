import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../common/errors.js';
import { clearChecksums, recordChecksums, verifyChecksums } from '../common/file-checksums.js';
import { writeFileAtomic, writeJsonAtomic } from '../common/fs-atomic.js';
import type { Backend } from '../engine/backend.js';
import { fromHfConfig, toHfConfig } from './config.js';
import { LlamaModel } from './llama.js';
import { writeTokenizerFiles, type TokenizerFiles } from './hf-tokenizer-files.js';
import { SafetensorsFile, writeSafetensors } from './safetensors.js';

/**
 * A model checkpoint is a Hugging Face folder — `config.json`, `model.safetensors`, `tokenizer.json`,
 * `generation_config.json` — so other tools load it, and folders made elsewhere (Llama or Qwen3
 * family) load here. The trainer adds its own resume state next to these files.
 */

export interface SaveModelOptions {
  /** The tokenizer whose files (tokenizer.json, tokenizer_config.json, special_tokens_map.json) go into the folder: `tokenizerFiles(path)`. */
  tokenizer?: TokenizerFiles;
  /** Extra `generation_config.json` fields (e.g. temperature, top_p); token ids come from the config. */
  generation?: Record<string, unknown>;
}

/**
 * Writes the model folder. Each file is written atomically and `config.json` last, so a folder with
 * a `config.json` always has the weights it describes, even when an older checkpoint is overwritten.
 */
export function saveModelFolder(dir: string, model: LlamaModel, opts: SaveModelOptions = {}): void {
  const c = model.config;
  clearChecksums(dir); // until the new files are all written, the folder loads unchecked, never falsely damaged
  const tensors = model.paramTable.map((e) => ({ name: e.name, shape: e.shape, data: model.readParam(e.name) }));
  // transformers refuses safetensors files without metadata.format
  writeSafetensors(join(dir, 'model.safetensors'), tensors, { format: 'pt' });
  if (opts.tokenizer !== undefined) writeTokenizerFiles(dir, opts.tokenizer, c);
  writeJsonAtomic(join(dir, 'generation_config.json'), {
    bos_token_id: c.bosTokenId,
    eos_token_id: c.eosTokenId,
    pad_token_id: c.padTokenId,
    ...opts.generation,
  });
  writeJsonAtomic(join(dir, 'config.json'), toHfConfig(c));
  recordChecksums(dir, MODEL_FILES.filter((f) => f !== 'tokenizer.json' || opts.tokenizer !== undefined));
}

/** The files saveModelFolder writes, all listed in the folder's checksums.json. */
const MODEL_FILES = ['model.safetensors', 'tokenizer.json', 'generation_config.json', 'config.json'] as const;

/**
 * The first non-finite value of a tensor as a UserError naming it, or nothing. NaN or infinite
 * weights would make every output garbage (a sampler picks token 0 forever) with exit 0.
 */
export function checkFiniteTensor(data: Float32Array, name: string, file: string): void {
  for (let i = 0; i < data.length; i++) {
    const x = data[i]!;
    if (x - x !== 0) {
      let count = 0;
      for (let j = i; j < data.length; j++) if (!Number.isFinite(data[j]!)) count++;
      throw new UserError(
        `${file}: tensor "${name}" holds ${Number.isNaN(x) ? 'NaN' : x > 0 ? '+Infinity' : '-Infinity'} at element ${i} (${count} non-finite of ${data.length}); the weights are unusable — load an earlier checkpoint or retrain the model`,
      );
    }
  }
}

/** Tensors some exporters include that carry no weights of ours (buffers recomputed at load). */
const IGNORED_TENSOR = /\.rotary_emb\.inv_freq$/;

/**
 * Loads a Hugging Face folder (LlamaForCausalLM or Qwen3ForCausalLM; one `model.safetensors` or shards
 * listed in `model.safetensors.index.json`). F16 / BF16 weights are converted to float32. Missing,
 * misshapen or unexpected tensors are UserErrors naming the tensor and the file. Files listed in the
 * folder's checksums.json are checked first, and every weight must be finite.
 */
export function loadModelFolder(dir: string, backend: Backend): LlamaModel {
  const configPath = join(dir, 'config.json');
  if (!existsSync(configPath)) throw new UserError(`${dir}: not a model folder (config.json is missing)`);
  verifyChecksums(dir, `retrain or restore the model (to load it anyway, delete ${join(dir, 'checksums.json')})`, MODEL_FILES);
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(configPath, 'utf8'));
  } catch (err) {
    throw new UserError(`${configPath}: not valid JSON (${(err as Error).message})`);
  }
  const config = fromHfConfig(json, configPath);

  // tensor name -> file holding it
  const single = join(dir, 'model.safetensors');
  const indexPath = join(dir, 'model.safetensors.index.json');
  const fileOf = new Map<string, string>();
  const files = new Map<string, SafetensorsFile>();
  const openFile = (path: string) => {
    let f = files.get(path);
    if (!f) {
      f = SafetensorsFile.open(path);
      files.set(path, f);
    }
    return f;
  };
  try {
    if (existsSync(single)) {
      for (const name of openFile(single).tensors.keys()) fileOf.set(name, single);
    } else if (existsSync(indexPath)) {
      let index: { weight_map?: Record<string, string> };
      try {
        index = JSON.parse(readFileSync(indexPath, 'utf8'));
      } catch (err) {
        throw new UserError(`${indexPath}: not valid JSON (${(err as Error).message})`);
      }
      if (!index.weight_map || typeof index.weight_map !== 'object') throw new UserError(`${indexPath}: "weight_map" is missing`);
      for (const [name, shard] of Object.entries(index.weight_map)) fileOf.set(name, join(dir, shard));
    } else {
      throw new UserError(`${dir}: no model.safetensors (nor model.safetensors.index.json) in the folder`);
    }

    const model = new LlamaModel(config, backend, { initialize: false });
    const expected = new Set(model.paramTable.map((e) => e.name));
    for (const name of fileOf.keys()) {
      if (expected.has(name) || IGNORED_TENSOR.test(name)) continue;
      if (name === 'lm_head.weight' && config.tieEmbeddings) continue; // some exporters save the tied copy too
      throw new UserError(`${fileOf.get(name)}: unexpected tensor "${name}" for a ${config.qkNorm ? 'Qwen3' : 'Llama'} model of this config; the checkpoint's architecture does not match config.json`);
    }
    for (const e of model.paramTable) {
      const path = fileOf.get(e.name);
      if (!path) throw new UserError(`${existsSync(single) ? single : indexPath}: tensor "${e.name}" is missing`);
      const f = openFile(path);
      const info = f.tensors.get(e.name);
      if (!info) throw new UserError(`${path}: tensor "${e.name}" is missing (the index lists it in this file)`);
      if (info.shape.length !== e.shape.length || info.shape.some((d, i) => d !== e.shape[i])) {
        throw new UserError(`${path}: tensor "${e.name}" has shape [${info.shape.join(', ')}], config.json implies [${e.shape.join(', ')}]`);
      }
      const data = f.read(e.name);
      checkFiniteTensor(data, e.name, path);
      model.writeParam(e.name, data);
    }
    return model;
  } finally {
    for (const f of files.values()) f.close();
  }
}
