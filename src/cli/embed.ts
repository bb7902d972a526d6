import { Command, Option } from 'commander';
import { formatCount } from '../common/progress.js';
import { runEmbedStage, type EmbedStats } from '../embed/embed-stage.js';
import { EMBEDDER_KINDS } from '../embed/embedder.js';
import { addCommonOptions, loadCommandConfig, parsePositiveInt, type CommonFlags } from './common.js';
import { testHooksFromEnv, type TestHookEnv } from '../stage/test-hooks.js';

/** Test hook: fail after this many embedded shards, to exercise resume end to end. */
const FAULT_ENV: TestHookEnv = 'SBP_EMBED_FAIL_AFTER_SHARDS';

interface EmbedFlags extends CommonFlags {
  embedder?: string;
  maxTokens?: number;
  dtype?: string;
  baseUrl?: string;
}

export function register(program: Command): void {
  const cmd = new Command('embed').description(
    'Embed every train document from its first N tokens into unit vectors: runs/<name>/embed/vectors.bin (rows in corpus order, with document ids) and embed/stats.json.',
  );
  addCommonOptions(cmd)
    .addOption(new Option('--embedder <kind>', 'lm (the baseline LM\'s hidden states), use (sentence encoder shipped in npm), http (OpenAI-compatible server), hash (lexical TF-IDF)').choices([...EMBEDDER_KINDS]))
    .addOption(new Option('--max-tokens <n>', 'embed each document from its first N tokens (default 1024)').argParser(parsePositiveInt('--max-tokens')))
    .addOption(new Option('--dtype <dtype>', 'stored vector type (default f16)').choices(['f16', 'f32']))
    .option('--base-url <url>', 'http embedder: where /embeddings is served, e.g. http://127.0.0.1:8000/v1')
    .action(async (flags: EmbedFlags) => {
      const embed: Record<string, unknown> = { embedder: flags.embedder, maxTokens: flags.maxTokens, dtype: flags.dtype };
      if (flags.baseUrl !== undefined) embed.http = { baseUrl: flags.baseUrl };
      const { cfg, runDir } = loadCommandConfig(flags, { embed }, { mode: 'write', owns: ['embed'] });
      const result = await runEmbedStage({
        runDir,
        config: cfg.embed,
        force: flags.force,
        quiet: flags.quiet,
        threads: cfg.threads,
        testHooks: testHooksFromEnv(FAULT_ENV),
      });
      process.stdout.write(formatEmbedSummary(`${runDir}/embed`, result.manifest.stats, result.skipped));
    });
  program.addCommand(cmd);
}

/** The few lines printed when `sbp embed` finishes. */
export function formatEmbedSummary(dir: string, s: EmbedStats, skipped: boolean): string {
  const lines = [`embed: ${dir}/vectors.bin${skipped ? ' (already embedded with this corpus, tokenizer and config; use --force to redo)' : ''}`];
  lines.push(`  ${s.embedder}: ${s.source}`);
  lines.push(`  ${formatCount(s.docs)} docs × ${s.dim} ${s.dtype}, first ${s.maxTokens} tokens (${formatCount(s.truncatedDocs)} cut), ${s.zeroVectors} empty`);
  lines.push(`  ${s.seconds.toFixed(1)} s embedding, ${formatCount(s.docsPerSec)} docs/s; ${s.shards} shard(s)${s.shardsReused > 0 ? `, ${s.shardsReused} kept from an interrupted run` : ''}`);
  if (s.http) lines.push(`  http: ${s.http.requests} requests, ${s.http.retries} retries`);
  return `${lines.join('\n')}\n`;
}
