import { Command, Option } from 'commander';
import { join } from 'node:path';
import { UserError } from '../common/errors.js';
import { formatCount } from '../common/progress.js';
import { resolveConfig, runDirOf } from '../config/load.js';
import { stageDir } from '../stage/stage.js';
import { runTokenizerStage, TOKENIZER_STAGE, type TokenizerStageStats } from '../tokenizer/tokenizer-stage.js';
import { Tokenizer } from '../tokenizer/tokenizer.js';
import { addCommonOptions, loadCommandConfig, parsePositiveInt, type CommonFlags } from './common.js';

interface InspectFlags {
  config?: string;
  run?: string;
  runsDir?: string;
  tokenizer?: string;
}

export function register(program: Command): void {
  const cmd = new Command('tokenizer').description('Byte-level BPE tokenizer: train it on the corpus, or inspect one.');

  const train = new Command('train').description(
    'Train the tokenizer on the train split of runs/<name>/corpus/: writes runs/<name>/tokenizer/tokenizer.json (Hugging Face format) and stats.json.',
  );
  addCommonOptions(train)
    .addOption(new Option('--vocab-size <n>', 'vocabulary size, special tokens included (tokenizer.vocabSize)').argParser(parsePositiveInt('--vocab-size')))
    .action(async (flags: CommonFlags & { vocabSize?: number }) => {
      const overrides: Record<string, unknown> = {};
      if (flags.vocabSize !== undefined) overrides.tokenizer = { vocabSize: flags.vocabSize };
      const { cfg, runDir } = loadCommandConfig(flags, overrides, { mode: 'write', owns: ['tokenizer'] });
      const result = await runTokenizerStage({ runDir, config: cfg.tokenizer, threads: cfg.threads, force: flags.force, quiet: flags.quiet });
      process.stdout.write(formatTokenizerSummary(stageDir(runDir, TOKENIZER_STAGE), result.manifest.stats, result.skipped));
    });

  const encode = new Command('encode')
    .description('Print the ids of a text (special-token texts in it are encoded as plain text).')
    .requiredOption('--text <text>', 'the text to encode')
    .option('--pieces', 'also print each token as JSON text');
  addInspectOptions(encode).action((flags: InspectFlags & { text: string; pieces?: boolean }) => {
    const tok = loadInspected(flags);
    const ids = tok.encode(flags.text);
    process.stdout.write(`${Array.from(ids).join(' ')}\n`);
    if (flags.pieces) process.stdout.write(`${Array.from(ids, (id) => JSON.stringify(tok.decode([id]))).join(' ')}\n`);
  });

  const decode = new Command('decode').description('Print the text of a list of ids.').argument('<ids...>', 'token ids, separated by spaces or commas');
  addInspectOptions(decode).action((ids: string[], flags: InspectFlags) => {
    const tok = loadInspected(flags);
    const parsed = ids.flatMap((s) => s.split(',')).filter((s) => s.length > 0).map((s) => {
      const n = Number(s);
      if (!Number.isInteger(n) || n < 0 || n >= tok.vocabSize) throw new UserError(`decode: "${s}" is not a token id (0 … ${tok.vocabSize - 1})`);
      return n;
    });
    process.stdout.write(`${tok.decode(parsed)}\n`);
  });

  cmd.addCommand(train).addCommand(encode).addCommand(decode);
  program.addCommand(cmd);
}

function addInspectOptions(cmd: Command): Command {
  return cmd
    .option('-c, --config <file>', 'config file (JSON or YAML)')
    .option('-r, --run <name>', 'run whose tokenizer to use: <runs-dir>/<name>/tokenizer/tokenizer.json')
    .option('--runs-dir <dir>', 'parent folder of run directories (default: runs)')
    .option('--tokenizer <file>', 'a tokenizer.json to use instead of the run’s');
}

function loadInspected(flags: InspectFlags): Tokenizer {
  if (flags.tokenizer) return Tokenizer.load(flags.tokenizer);
  const top: Record<string, unknown> = {};
  if (flags.run !== undefined) top.name = flags.run;
  if (flags.runsDir !== undefined) top.runsDir = flags.runsDir;
  const cfg = resolveConfig({ file: flags.config, overrides: [top] });
  const path = join(stageDir(runDirOf(cfg), TOKENIZER_STAGE), 'tokenizer.json');
  try {
    return Tokenizer.load(path);
  } catch (err) {
    if (err instanceof UserError && /cannot read/.test(err.message)) throw new UserError(`${path}: no tokenizer; run \`sbp tokenizer train\` first (or pass --tokenizer <file>)`);
    throw err;
  }
}

/** The lines printed when `sbp tokenizer train` finishes. */
export function formatTokenizerSummary(dir: string, s: TokenizerStageStats, skipped: boolean): string {
  const lines = [`tokenizer: ${join(dir, 'tokenizer.json')}${skipped ? ' (already trained on this corpus with this config; use --force to redo)' : ''}`];
  lines.push(`  vocabulary ${s.vocabSize} (${s.merges} merges; bos ${s.specialTokens.bos}, eos ${s.specialTokens.eos}, sep ${s.specialTokens.sep}, pad ${s.specialTokens.pad})`);
  lines.push(`  trained on ${formatCount(s.bytesTrained)} bytes of ${formatCount(s.docsTrained)} docs in ${s.trainSeconds.toFixed(1)} s`);
  if (s.heldout.bytesPerToken !== null) lines.push(`  held-out: ${s.heldout.bytesPerToken.toFixed(2)} bytes/token over ${formatCount(s.heldout.bytes)} bytes`);
  return `${lines.join('\n')}\n`;
}
