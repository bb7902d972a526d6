import type { EmbedConfig } from '../config/schema.js';
import { loadModelFolder } from '../model/hf-folder.js';
import { openBackend } from '../engine/open-backend.js';
import { resolveModelDir } from '../stage/model-dir.js';
import { LmEmbedder } from './lm-embedder.js';

/**
 * The `lm` embedder's model: `embed.lm.model` names a model of this run ("baseline" =
 * runs/<name>/models/baseline, which must have finished training) or a Hugging Face model folder.
 * Returns the folder and its identity for the stage contract.
 */
export function lmModelInput(runDir: string, model: string): { dir: string; inputHash: string } {
  const r = resolveModelDir(runDir, model, 'embed.lm.model');
  return { dir: r.dir, inputHash: r.inputHash };
}

export async function loadLmEmbedder(
  runDir: string,
  cfg: EmbedConfig['lm'],
  opts: { threads?: number; note?: (line: string) => void } = {},
): Promise<{ embedder: LmEmbedder; source: string }> {
  const { dir } = lmModelInput(runDir, cfg.model);
  const backend = await openBackend(cfg.backend, opts.threads, opts.note);
  const model = loadModelFolder(dir, backend);
  return { embedder: new LmEmbedder(model, { batchTokens: cfg.batchTokens, lengthQuantum: 32 }), source: dir };
}
