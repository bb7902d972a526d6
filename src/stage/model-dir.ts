import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../common/errors.js';
import { readManifest } from './stage.js';
import { hashValue } from '../common/hash.js';

export interface ResolvedModelDir {
  dir: string; // the Hugging Face folder
  runModel: string | null; // the model's name when it is a model of this run
  /** Identity of the model for the stage contract: its manifest's hash when it is a run model. */
  inputHash: string;
}

/**
 * A model named on the command line or in the config: a folder holding config.json, or the name of a
 * model this run trained (`<runDir>/models/<name>`, which must have finished).
 */
export function resolveModelDir(runDir: string, ref: string, field: string): ResolvedModelDir {
  const runModel = join(runDir, 'models', ref);
  if (/^[A-Za-z0-9._-]+$/.test(ref) && existsSync(join(runModel, 'config.json'))) {
    const m = readManifest(runDir, join('models', ref));
    if (!m) throw new UserError(`${field}: model "${ref}" of this run has not finished training (${runModel} has no manifest.json); run \`sbp train --model ${ref}\` first`);
    return { dir: runModel, runModel: ref, inputHash: hashValue({ stage: m.stage, configHash: m.configHash, inputHashes: m.inputHashes }) };
  }
  if (existsSync(ref) && statSync(ref).isDirectory()) {
    if (!existsSync(join(ref, 'config.json'))) throw new UserError(`${field}: ${ref} is not a model folder (no config.json)`);
    const st = statSync(join(ref, 'config.json'));
    return { dir: ref, runModel: null, inputHash: hashValue({ folder: ref, mtime: st.mtimeMs, size: st.size }) };
  }
  if (!/^[A-Za-z0-9._-]+$/.test(ref)) {
    // A path (it has a slash or other characters a model name cannot have): only the folder is meant.
    throw new UserError(`${field}: ${ref} is not a folder; give the path of a model folder (holding config.json and model.safetensors), or the name of a model of this run`);
  }
  throw new UserError(`${field}: "${ref}" is neither a model folder nor a finished model of this run (${runModel}); train it with \`sbp train --model ${ref}\` or give a folder path`);
}
