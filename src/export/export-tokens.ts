import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../common/errors.js';
import { writeFileAtomic } from '../common/fs-atomic.js';
import { Progress } from '../common/progress.js';
import { inputHash, runStage, stageDir, type StageResult } from '../stage/stage.js';
import { SHARD_EXTENSION } from '../tokens/shard-format.js';
import { TokenDataset } from '../tokens/token-dataset.js';
import { Tokenizer } from '../tokenizer/tokenizer.js';
import { armBlends, type ArmBlend } from './arm-blends.js';
import { MegatronIndexedWriter } from './megatron-indexed.js';
import { TokenFileWriter } from './llmc-tokens.js';
import { exportDType, framedDocuments } from './token-stream.js';

export type TokenExportFormat = 'megatron' | 'llmc' | 'nanogpt';

/** One token dataset of a run: a folder of `<split>-NNNNN.tok` shards and one of its splits. */
export interface TokenSplit {
  folder: string; // stage folder under the run, e.g. 'tokens', 'synth-tokens'
  split: string; // e.g. 'train', 'heldout'
}

/** Every (folder, split) of token shards in a run, found by listing it: new token stages export too. */
export function findTokenSplits(runDir: string): TokenSplit[] {
  if (!existsSync(runDir)) throw new UserError(`${runDir}: no such run directory`);
  const out: TokenSplit[] = [];
  for (const folder of readdirSync(runDir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort()) {
    if (!existsSync(join(runDir, folder, 'manifest.json'))) continue; // unfinished stages are not exported
    const splits = new Set<string>();
    for (const name of readdirSync(join(runDir, folder))) {
      const m = /^(.+)-\d+\.tok$/.exec(name);
      if (m && name.endsWith(SHARD_EXTENSION)) splits.add(m[1]!);
    }
    for (const split of [...splits].sort()) out.push({ folder, split });
  }
  return out;
}

export interface TokenExportStats {
  format: TokenExportFormat;
  framing: string;
  files: Array<{ folder: string; split: string; path: string; docs: number; tokens: number; bytes: number; dtype: string }>;
  /** megatron: each trained model's data as a `--data-path` blend (also written to `<model>.data-path`). */
  blends?: ArmBlend[];
}

export interface ExportTokensOptions {
  runDir: string;
  format: TokenExportFormat;
  /** Which datasets (default: every token folder and split of the run). */
  only?: TokenSplit[];
  force?: boolean;
  quiet?: boolean;
}

const FILE_NAME = (s: TokenSplit) => `${s.folder}-${s.split}`;

/**
 * `sbp export megatron|llmc|nanogpt`: each token dataset of the run (e.g. tokens/train, tokens/heldout,
 * synth-tokens/train) becomes one file (or .bin/.idx pair) under `export/<format>/`, documents framed
 * `[bos] doc [eos]` in their stored order. A stage: skipped when done, resumed per dataset.
 */
export async function exportTokens(opts: ExportTokensOptions): Promise<StageResult<TokenExportStats>> {
  const splits = opts.only ?? findTokenSplits(opts.runDir);
  if (splits.length === 0) throw new UserError(`${opts.runDir}: no token shards to export; run \`sbp tokenize\` (or \`sbp experiment\`) first`);
  const tokenizerPath = join(stageDir(opts.runDir, 'tokenizer'), 'tokenizer.json');
  const inputs: Record<string, string> = { tokenizer: inputHash(opts.runDir, 'tokenizer', 'sbp tokenizer') };
  for (const s of splits) inputs[s.folder] = inputHash(opts.runDir, s.folder, 'sbp tokenize');
  if (opts.format === 'megatron' && existsSync(stageDir(opts.runDir, 'models'))) {
    // the per-model blends read the models' manifests
    for (const m of readdirSync(stageDir(opts.runDir, 'models')).sort()) {
      if (existsSync(join(stageDir(opts.runDir, `models/${m}`), 'manifest.json'))) inputs[`models/${m}`] = inputHash(opts.runDir, `models/${m}`, 'sbp train');
    }
  }
  return runStage<TokenExportStats>({
    stage: `export/${opts.format}`,
    runDir: opts.runDir,
    config: { format: opts.format, splits, version: 2 },
    inputs,
    force: opts.force,
    run: async (ctx) => {
      const tok = Tokenizer.load(tokenizerPath);
      const framing = { bos: tok.special.bos, eos: tok.special.eos };
      const files: TokenExportStats['files'] = [];
      for (const s of splits) {
        const name = FILE_NAME(s);
        const done = ctx.doneInfo<TokenExportStats['files'][number]>(name);
        if (done) {
          files.push(done);
          continue;
        }
        const data = TokenDataset.open(stageDir(opts.runDir, s.folder), s.split);
        try {
          const dtype = exportDType(Math.max(data.vocabSize, tok.vocabSize));
          const progress = new Progress({ label: `export ${opts.format} ${s.folder}/${s.split}`, total: data.numTokens + 2 * data.numDocs, unit: 'tok', quiet: opts.quiet });
          let info: TokenExportStats['files'][number];
          if (opts.format === 'megatron') {
            const w = new MegatronIndexedWriter(join(ctx.dir, name), dtype);
            for (const d of framedDocuments(data, framing)) (w.add(d.tokens), progress.add(d.tokens.length));
            w.close();
            info = { ...s, path: `${name}.bin`, docs: data.numDocs, tokens: w.tokens, bytes: w.bytes, dtype };
          } else {
            const w = new TokenFileWriter(join(ctx.dir, `${name}.bin`), opts.format, dtype);
            for (const d of framedDocuments(data, framing)) (w.add(d.tokens), progress.add(d.tokens.length));
            w.close();
            info = { ...s, path: `${name}.bin`, docs: data.numDocs, tokens: w.tokens, bytes: w.bytes, dtype };
          }
          progress.finish();
          ctx.markDone(name, info);
          files.push(info);
        } finally {
          data.close();
        }
      }
      let blends: ArmBlend[] | undefined;
      if (opts.format === 'megatron') {
        blends = armBlends(opts.runDir, new Set(files.map((f) => `${f.folder}-${f.split}`)));
        for (const b of blends) if (b.parts.length > 0) writeFileAtomic(join(ctx.dir, `${b.model}.data-path`), `${b.dataPath}\n`);
      }
      return { format: opts.format, framing: '[bos] doc [eos] per document, stored order', files, ...(blends ? { blends } : {}) };
    },
  });
}
