import { Command, InvalidArgumentError, Option } from 'commander';
import { UserError } from '../common/errors.js';
import { formatCount } from '../common/progress.js';
import type { SourceConfig } from '../config/schema.js';
import type { CorpusStats } from '../data/corpus-stats.js';
import { prepareCorpus } from '../data/prepare-corpus.js';
import { parseSourceSpec } from '../data/source-registry.js';
import { addCommonOptions, loadCommandConfig, type CommonFlags } from './common.js';

interface PrepareFlags extends CommonFlags {
  source: string[];
  textField?: string;
  heldOut?: number;
  minChars?: number;
  maxChars?: number;
  maxDocs?: number;
  docsPerShard?: number;
  onMalformed?: 'skip' | 'fail';
}

function wholeNumber(flag: string, min: number) {
  return (v: string): number => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${flag} must be a whole number ≥ ${min}.`);
    return n;
  };
}

function fraction(v: string): number {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n < 0 || n > 0.5) throw new InvalidArgumentError('--held-out must be a fraction from 0 to 0.5, e.g. 0.02.');
  return n;
}

export function register(program: Command): void {
  const cmd = new Command('prepare')
    .description('Build the corpus: read sources, normalise, filter, deduplicate, split into train / held-out JSONL shards (runs/<name>/corpus/).')
    .option('--source <spec>', 'a source: brown, spam-assassin, gcide, linux-doc, manpages, python-doc, jsonl:<file|folder>, text-dir:<folder> (repeatable; replaces the config\'s sources)', (v: string, prev: string[]) => [...prev, v], [])
    .option('--text-field <name>', 'JSON field holding the text, for --source jsonl:... (default: text)')
    .addOption(new Option('--held-out <fraction>', 'fraction of documents held out (0..0.5)').argParser(fraction))
    .addOption(new Option('--min-chars <n>', 'drop documents shorter than this').argParser(wholeNumber('--min-chars', 0)))
    .addOption(new Option('--max-chars <n>', 'drop documents longer than this').argParser(wholeNumber('--max-chars', 1)))
    .addOption(new Option('--max-docs <n>', 'stop after this many kept documents').argParser(wholeNumber('--max-docs', 1)))
    .addOption(new Option('--docs-per-shard <n>', 'documents per output JSONL shard').argParser(wholeNumber('--docs-per-shard', 1)))
    .addOption(new Option('--on-malformed <action>', 'a malformed input record: skip it (counted) or fail').choices(['skip', 'fail']));
  addCommonOptions(cmd).action(async (flags: PrepareFlags) => {
    let sources: SourceConfig[] | undefined;
    if (flags.source.length > 0) sources = flags.source.map((s) => parseSourceSpec(s, flags.textField));
    if (flags.textField !== undefined && !sources?.some((s) => s.kind === 'jsonl')) {
      throw new UserError('--text-field applies to --source jsonl:<path>; for sources in a config file set textField on the source there');
    }
    const { cfg, runDir } = loadCommandConfig(flags, {
      prepare: {
        sources,
        heldOutFraction: flags.heldOut,
        minChars: flags.minChars,
        maxChars: flags.maxChars,
        maxDocs: flags.maxDocs,
        docsPerShard: flags.docsPerShard,
        onMalformed: flags.onMalformed,
      },
    }, { mode: 'write', owns: ['prepare', 'seed'], creates: true });
    const result = await prepareCorpus({ runDir, config: cfg.prepare, force: flags.force, concurrency: cfg.threads, quiet: flags.quiet });
    process.stdout.write(formatSummary(result.dir, result.stats, result.skipped));
  });
  program.addCommand(cmd);
}

/** The few lines printed when `sbp prepare` finishes. */
export function formatSummary(dir: string, s: CorpusStats, skipped: boolean): string {
  const drops = Object.entries(s.drops).filter(([, n]) => n > 0);
  const shards = (n: number): string => `${n} shard${n === 1 ? '' : 's'}`;
  const lines = [
    `corpus: ${dir}${skipped ? ' (already prepared with this config; use --force to redo)' : ''}`,
    `  read    ${formatCount(s.docsIn)} docs, ${formatCount(s.charsIn)} chars`,
    `  kept    ${formatCount(s.docsOut)} docs, ${formatCount(s.charsOut)} chars — train ${formatCount(s.splits.train.docs)} (${shards(s.splits.train.shards)}), held-out ${formatCount(s.splits.heldout.docs)} (${shards(s.splits.heldout.shards)})`,
    `  dropped ${drops.length > 0 ? drops.map(([r, n]) => `${r} ${formatCount(n)}`).join(', ') : 'none'}`,
  ];
  if (s.invalidUtf8Repaired > 0) lines.push(`  repaired invalid UTF-8 in ${formatCount(s.invalidUtf8Repaired)} docs`);
  if ((s.nulBytesRemoved ?? 0) > 0) lines.push(`  removed NUL bytes from ${formatCount(s.nulBytesRemoved)} docs`);
  for (const src of s.sources) {
    if ((src.duplicateIds ?? 0) > 0) lines.push(`  ${src.source}: ${formatCount(src.duplicateIds)} document ids repeat an earlier one (both kept)`);
    const skipped = Object.entries(src.skippedFiles ?? {});
    if (skipped.length > 0) lines.push(`  ${src.source}: skipped files: ${skipped.map(([r, n]) => `${r} ${formatCount(n)}`).join(', ')}`);
  }
  if (s.stoppedAtMaxDocs) lines.push('  stopped at prepare.maxDocs');
  return `${lines.join('\n')}\n`;
}
