import { createWriteStream, existsSync, readdirSync, renameSync } from 'node:fs';
import { once } from 'node:events';
import { join } from 'node:path';
import { UserError } from '../common/errors.js';
import { writeFileAtomic } from '../common/fs-atomic.js';
import { formatCount, Progress } from '../common/progress.js';
import { readCorpusDocs } from '../data/corpus-reader.js';
import type { CorpusSplit } from '../data/document.js';
import { readPairsFile } from '../pairs/pairs-file.js';
import { inputHash, readManifest, runStage, stageDir, type StageResult } from '../stage/stage.js';
import { Tokenizer } from '../tokenizer/tokenizer.js';
import { documentRow, ParquetDocumentWriter } from './parquet-documents.js';

/** A folder of `<split>-NNNNN.jsonl` document shards in a run (the corpus, synthetic documents). */
export interface DocumentSplit {
  folder: string;
  split: CorpusSplit;
}

/** The document folders `sbp export parquet` reads: the corpus' splits and the kept synthetic documents. */
export function findDocumentSplits(runDir: string): DocumentSplit[] {
  const out: DocumentSplit[] = [];
  for (const folder of ['corpus', 'synth']) {
    const dir = stageDir(runDir, folder);
    if (!existsSync(join(dir, 'manifest.json'))) continue;
    for (const split of ['train', 'heldout'] as const) {
      if (readdirSync(dir).some((n) => new RegExp(`^${split}-\\d+\\.jsonl$`).test(n))) out.push({ folder, split });
    }
  }
  return out;
}

export interface ParquetExportStats {
  files: Array<{ folder: string; split: string; path: string; docs: number; textBytes: number; synthetic: number }>;
}

/**
 * `sbp export parquet`: `export/parquet/<folder>-<split>.parquet` for the corpus and the synthetic
 * documents (one schema, see parquet-documents.ts) and a dataset card `README.md` whose YAML header
 * names the files, so `datasets.load_dataset("<dir>")` finds them.
 */
export async function exportParquet(opts: { runDir: string; force?: boolean; quiet?: boolean; rowGroupRows?: number }): Promise<StageResult<ParquetExportStats>> {
  const splits = findDocumentSplits(opts.runDir);
  if (splits.length === 0) throw new UserError(`${opts.runDir}: no corpus to export; run \`sbp prepare\` first`);
  const inputs: Record<string, string> = {};
  for (const s of splits) inputs[s.folder] = inputHash(opts.runDir, s.folder, 'sbp prepare');
  return runStage<ParquetExportStats>({
    stage: 'export/parquet',
    runDir: opts.runDir,
    config: { splits, rowGroupRows: opts.rowGroupRows ?? 20_000, schema: 1 },
    inputs,
    force: opts.force,
    run: async (ctx) => {
      const files: ParquetExportStats['files'] = [];
      for (const s of splits) {
        const name = `${s.folder}-${s.split}`;
        const done = ctx.doneInfo<ParquetExportStats['files'][number]>(name);
        if (done) {
          files.push(done);
          continue;
        }
        const w = new ParquetDocumentWriter(join(ctx.dir, `${name}.parquet`), opts.rowGroupRows, { 'sbp.folder': s.folder, 'sbp.split': s.split });
        const progress = new Progress({ label: `export parquet ${s.folder}/${s.split}`, unit: 'docs', quiet: opts.quiet });
        let synthetic = 0;
        for await (const doc of readCorpusDocs(stageDir(opts.runDir, s.folder), s.split)) {
          const row = documentRow(doc, s.split);
          if (row.synthetic) synthetic++;
          w.add(row);
          progress.add(1);
        }
        w.close();
        progress.finish();
        const info = { ...s, path: `${name}.parquet`, docs: w.rowCount, textBytes: w.textBytes, synthetic };
        ctx.markDone(name, info);
        files.push(info);
      }
      writeFileAtomic(join(ctx.dir, 'README.md'), datasetCard(opts.runDir, files));
      return { files };
    },
  });
}

/** The dataset card: the files as `datasets` configs/splits, the schema and the run's counts. */
function datasetCard(runDir: string, files: ParquetExportStats['files']): string {
  const real = files.filter((f) => f.folder === 'corpus');
  const synth = files.filter((f) => f.folder !== 'corpus');
  const config = (name: string, fs: typeof files) =>
    fs.length === 0 ? [] : [`- config_name: ${name}`, '  data_files:', ...fs.map((f) => `  - split: ${f.split}\n    path: ${f.path}`)];
  const tokens = readManifest<{ splits?: Record<string, { tokens: number }> }>(runDir, 'tokens')?.stats?.splits;
  const lines = [
    '---',
    'configs:',
    ...config('default', real.length > 0 ? real : synth),
    ...(real.length > 0 ? config('synthetic', synth) : []),
    '---',
    '',
    '# sbp corpus export',
    '',
    'Documents of one sbp run: the prepared corpus (`default`) and, when the run synthesized any, the',
    'kept synthetic documents (`synthetic`), in one schema:',
    '',
    '| column | type | meaning |',
    '|---|---|---|',
    '| id | string | document id |',
    '| text | string | the document |',
    '| split | string | train or heldout |',
    '| source | string | corpus source kind, or `synthetic` |',
    '| synthetic | bool | written by the synthesizer |',
    '| seed_id | string, null | synthetic: id of the seed document d1 |',
    '| temperature | float64, null | synthetic: sampling temperature |',
    '| top_p | float64, null | synthetic: nucleus p |',
    '| meta | string | the full `meta` object as JSON |',
    '',
    '| file | documents | text bytes | synthetic |',
    '|---|---|---|---|',
    ...files.map((f) => `| ${f.path} | ${formatCount(f.docs)} | ${formatCount(f.textBytes)} | ${formatCount(f.synthetic)} |`),
    '',
    ...(tokens ? ['Tokens (sbp tokenizer, unframed): ' + Object.entries(tokens).map(([k, v]) => `${k} ${formatCount(v.tokens)}`).join(', '), ''] : []),
    '```python',
    'from datasets import load_dataset',
    'ds = load_dataset("parquet", data_files={"train": "corpus-train.parquet"})',
    '```',
    '',
  ];
  return lines.join('\n');
}

export interface PairsExportStats {
  pairs: number;
  path: string;
  separator: string;
  endOfDocument: string;
}

/**
 * `sbp export pairs`: the mined pairs as prompt/completion JSONL (TRL's SFTTrainer and most tuning
 * tools read it): `{"prompt": d1 + "<|sep|>", "completion": d2 + "<|eos|>", "similarity": s, "d1_id", "d2_id"}`.
 * With the model folder's tokenizer, `prompt` encodes to `[bos] d1 [sep]` and `completion` (without
 * special tokens added) to `d2 [eos]`: sbp's synthesizer row. The texts are whole; sbp cuts d1 and d2
 * to the synthesizer's context when it tunes (synth-framing.ts), another trainer cuts by its own rule.
 * Holds the corpus train split's texts in memory (pairs index it by row).
 */
export async function exportPairs(opts: { runDir: string; force?: boolean; quiet?: boolean }): Promise<StageResult<PairsExportStats>> {
  const inputs = {
    pairs: inputHash(opts.runDir, 'pairs', 'sbp pair'),
    corpus: inputHash(opts.runDir, 'corpus', 'sbp prepare'),
    tokenizer: inputHash(opts.runDir, 'tokenizer', 'sbp tokenizer'),
  };
  return runStage<PairsExportStats>({
    stage: 'export/pairs',
    runDir: opts.runDir,
    config: { format: 'prompt-completion', version: 1 },
    inputs,
    force: opts.force,
    run: async (ctx) => {
      const tok = Tokenizer.load(join(stageDir(opts.runDir, 'tokenizer'), 'tokenizer.json'));
      const sep = tok.decode([tok.special.sep]);
      const eos = tok.decode([tok.special.eos]);
      const docs: Array<{ id: string; text: string }> = [];
      for await (const d of readCorpusDocs(stageDir(opts.runDir, 'corpus'), 'train')) docs.push({ id: d.id, text: d.text });
      const file = readPairsFile(join(stageDir(opts.runDir, 'pairs'), 'pairs.bin'));
      if (file.documents !== docs.length) {
        throw new UserError(`${join(stageDir(opts.runDir, 'pairs'), 'pairs.bin')}: mined over ${file.documents} documents, the corpus train split has ${docs.length}; rerun \`sbp embed\` and \`sbp pair\``);
      }
      const path = join(ctx.dir, 'pairs.jsonl');
      const out = createWriteStream(`${path}.partial`);
      const progress = new Progress({ label: 'export pairs', total: file.pairs.d1.length, unit: 'pairs', quiet: opts.quiet });
      const n = file.pairs.d1.length;
      for (let i = 0; i < n; i++) {
        const d1 = docs[file.pairs.d1[i]!]!;
        const d2 = docs[file.pairs.d2[i]!]!;
        const line = JSON.stringify({ prompt: d1.text + sep, completion: d2.text + eos, similarity: file.pairs.sims[i], d1_id: d1.id, d2_id: d2.id });
        if (!out.write(line + '\n')) await once(out, 'drain');
        progress.add(1);
      }
      out.end();
      await once(out, 'finish');
      renameSync(`${path}.partial`, path);
      progress.finish();
      return { pairs: n, path: 'pairs.jsonl', separator: sep, endOfDocument: eos };
    },
  });
}
