import { Command } from 'commander';
import { formatCount } from '../common/progress.js';
import { runTokenizeStage } from '../tokens/tokenize-stage.js';
import type { TokenizeStats } from '../tokens/tokenize-corpus.js';
import { addCommonOptions, loadCommandConfig, type CommonFlags } from './common.js';
import { testHooksFromEnv, type TestHookEnv } from '../stage/test-hooks.js';

/** Test hook: fail after this many token shards, to exercise resume end to end. */
const FAULT_ENV: TestHookEnv = 'SBP_TOKENIZE_FAIL_AFTER_SHARDS';

export function register(program: Command): void {
  const cmd = new Command('tokenize').description(
    'Tokenize the corpus with the trained tokenizer: one binary token shard per corpus shard (runs/<name>/tokens/{split}-NNNNN.tok) and tokens/stats.json.',
  );
  addCommonOptions(cmd).action(async (flags: CommonFlags) => {
    const { cfg, runDir } = loadCommandConfig(flags, {}, { mode: 'write', owns: ['tokenize'] });
    const result = await runTokenizeStage({
      runDir,
      config: cfg.tokenize,
      threads: cfg.threads,
      force: flags.force,
      quiet: flags.quiet,
      testHooks: testHooksFromEnv(FAULT_ENV),
    });
    process.stdout.write(formatTokenizeSummary(`${runDir}/tokens`, result.manifest.stats, result.skipped));
  });
  program.addCommand(cmd);
}

/** The few lines printed when `sbp tokenize` finishes. */
export function formatTokenizeSummary(dir: string, s: TokenizeStats, skipped: boolean): string {
  const lines = [`tokens: ${dir}${skipped ? ' (already tokenized with this corpus, tokenizer and config; use --force to redo)' : ''}`];
  lines.push(`  vocabulary ${s.vocabSize} → ${s.dtype} tokens; ${s.shardsWritten} shard(s) written${s.shardsReused > 0 ? `, ${s.shardsReused} kept from an interrupted run` : ''}`);
  for (const [split, t] of Object.entries(s.splits)) {
    lines.push(`  ${split.padEnd(7)} ${formatCount(t.docs)} docs, ${formatCount(t.tokens)} tokens in ${t.shards} shard(s), ${t.tokensPerByte.toFixed(3)} tokens/byte`);
  }
  return `${lines.join('\n')}\n`;
}
