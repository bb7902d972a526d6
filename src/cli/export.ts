import { Argument, Command, Option } from 'commander';
import { formatCount } from '../common/progress.js';
import { stageDir } from '../stage/stage.js';
import { exportParquet, exportPairs } from '../export/export-documents.js';
import { exportGguf } from '../export/export-gguf.js';
import { exportTokens, type TokenExportFormat } from '../export/export-tokens.js';
import { addCommonOptions, loadCommandConfig, type CommonFlags } from './common.js';

interface ExportFlags extends CommonFlags {
  model?: string[];
}

const FORMATS = ['megatron', 'llmc', 'nanogpt', 'parquet', 'pairs', 'gguf'] as const;

export function register(program: Command): void {
  const cmd = new Command('export')
    .description(
      'Write the run in the formats other tools read, under runs/<name>/export/<format>/: megatron (.bin/.idx per token dataset), llmc and nanogpt (token files), parquet (corpus and synthetic documents + dataset card), pairs (prompt/completion JSONL), gguf (each model folder). See docs/interop.md.',
    )
    .addArgument(new Argument('<format>', 'what to write').choices(FORMATS));
  addCommonOptions(cmd)
    .addOption(new Option('--model <name...>', 'gguf: the model folders (models/<name>) to convert (default: all finished ones)'))
    .action(async (format: (typeof FORMATS)[number], flags: ExportFlags) => {
      const { runDir } = loadCommandConfig(flags, {}, { mode: 'write', owns: [] });
      const base = { runDir, force: flags.force, quiet: flags.quiet };
      const out = stageDir(runDir, `export/${format}`);
      let lines: string[];
      let skipped: boolean;
      if (format === 'parquet') {
        const r = await exportParquet(base);
        skipped = r.skipped;
        lines = r.manifest.stats.files.map((f) => `  ${f.path}: ${formatCount(f.docs)} docs, ${formatCount(f.textBytes)} text bytes`);
        lines.push(`  README.md (dataset card)`);
      } else if (format === 'pairs') {
        const r = await exportPairs(base);
        skipped = r.skipped;
        lines = [`  ${r.manifest.stats.path}: ${formatCount(r.manifest.stats.pairs)} pairs, prompt = d1 + ${r.manifest.stats.separator}, completion = d2 + ${r.manifest.stats.endOfDocument}`];
      } else if (format === 'gguf') {
        const r = await exportGguf({ ...base, models: flags.model });
        skipped = r.skipped;
        lines = r.manifest.stats.files.map((f) => `  ${f.path}: ${f.arch}, ${f.tensors} tensors, ${formatCount(f.bytes)} bytes`);
      } else {
        const r = await exportTokens({ ...base, format: format as TokenExportFormat });
        skipped = r.skipped;
        lines = r.manifest.stats.files.map((f) => `  ${f.path}${format === 'megatron' ? ' + .idx' : ''}: ${formatCount(f.docs)} docs, ${formatCount(f.tokens)} tokens (${f.dtype}, [bos] doc [eos])`);
        for (const b of r.manifest.stats.blends ?? []) {
          const missing = b.missing.map((m) => `${m.component}: ${m.reason}`).join('; ');
          lines.push(`  ${b.model}.data-path: ${b.dataPath || '(none)'}${missing ? ` — not included: ${missing}` : ''}`);
        }
      }
      process.stdout.write(`export ${format}: ${out}${skipped ? ' (already exported from these inputs; use --force to redo)' : ''}\n${lines.join('\n')}\n`);
    });
  program.addCommand(cmd);
}
