import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../common/errors.js';
import { inputHash, runStage, stageDir, type StageResult } from '../stage/stage.js';
import { modelFolderToGguf } from './model-to-gguf.js';

export interface GgufExportStats {
  files: Array<{ model: string; path: string; bytes: number; tensors: number; arch: string }>;
}

/** Finished model folders of a run (`models/<name>` with a manifest and a config.json), by listing: every arm exports. */
export function findModels(runDir: string): string[] {
  const dir = stageDir(runDir, 'models');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((n) => existsSync(join(dir, n, 'manifest.json')) && existsSync(join(dir, n, 'config.json')))
    .sort();
}

/** `sbp export gguf`: `export/gguf/<model>.gguf` for each (or the named) model folder of the run; one marker per model. */
export async function exportGguf(opts: { runDir: string; models?: string[]; force?: boolean }): Promise<StageResult<GgufExportStats>> {
  const models = opts.models && opts.models.length > 0 ? opts.models : findModels(opts.runDir);
  if (models.length === 0) throw new UserError(`${stageDir(opts.runDir, 'models')}: no finished model folders to export; run \`sbp train\` first`);
  const inputs: Record<string, string> = {};
  for (const m of models) inputs[m] = inputHash(opts.runDir, `models/${m}`, `sbp train (models/${m})`);
  return runStage<GgufExportStats>({
    stage: 'export/gguf',
    runDir: opts.runDir,
    config: { models, dtype: 'f32', version: 1 },
    inputs,
    force: opts.force,
    run: async (ctx) => {
      const files: GgufExportStats['files'] = [];
      for (const m of models) {
        const done = ctx.doneInfo<GgufExportStats['files'][number]>(m);
        if (done) {
          files.push(done);
          continue;
        }
        const r = modelFolderToGguf(stageDir(opts.runDir, `models/${m}`), join(ctx.dir, `${m}.gguf`), m);
        const info = { model: m, path: `${m}.gguf`, ...r };
        ctx.markDone(m, info);
        files.push(info);
      }
      return { files };
    },
  });
}
