import { existsSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import type { EmbedConfig } from '../config/schema.js';
import { UserError } from '../common/errors.js';
import { hashFile, hashValue } from '../common/hash.js';
import { inputHash } from '../experiment/stage.js';
import type { Backend } from '../engine/backend.js';
import { RefBackend } from '../engine/ref-backend.js';
import { loadModelFolder } from '../model/checkpoint.js';
import { LmEmbedder } from './lm-embedder.js';

/**
 * Where the `lm` embedder's model comes from: a bare name ("baseline") is a model of this run, the
 * stage folder `models/<name>` (its manifest is the input hash); anything with a path separator is a
 * Hugging Face model folder elsewhere (its config and weights files are hashed).
 */
export function lmModelDir(runDir: string, model: string): string {
  if (/^[A-Za-z0-9._-]+$/.test(model)) return join(runDir, 'models', model);
  return isAbsolute(model) ? model : resolve(model);
}

export async function lmModelInput(runDir: string, model: string): Promise<string> {
  if (/^[A-Za-z0-9._-]+$/.test(model)) return inputHash(runDir, `models/${model}`, `sbp train (the ${model} model)`);
  const dir = lmModelDir(runDir, model);
  const files = ['config.json', 'model.safetensors'].map((f) => join(dir, f));
  for (const f of files) if (!existsSync(f)) throw new UserError(`embed.lm.model: ${f} is missing; point it at a Hugging Face model folder or at a model of this run`);
  return hashValue(await Promise.all(files.map((f) => hashFile(f))));
}

function openBackend(kind: EmbedConfig['lm']['backend'], threads: number | undefined): Backend {
  // The native cpu backend is not part of this build yet; `auto` means the reference backend.
  if (kind === 'cpu') throw new UserError('embed.lm.backend "cpu": the native backend is not available in this build; use "auto" or "ref"');
  const backend: Backend = new RefBackend();
  if (threads !== undefined) backend.setThreads?.(threads);
  return backend;
}

export async function loadLmEmbedder(runDir: string, cfg: EmbedConfig['lm'], threads?: number): Promise<{ embedder: LmEmbedder; source: string }> {
  const dir = lmModelDir(runDir, cfg.model);
  const model = loadModelFolder(dir, openBackend(cfg.backend, threads));
  return { embedder: new LmEmbedder(model, { batchTokens: cfg.batchTokens, lengthQuantum: 32 }), source: dir };
}
