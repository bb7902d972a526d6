import { Command, Option } from 'commander';
import { formatCount } from '../common/progress.js';
import { runPairStage, PAIRS_FILE, type PairStageStats } from '../pairs/pair-stage.js';
import { addCommonOptions, loadCommandConfig, parseNumberFlag, parsePositiveInt, type CommonFlags } from './common.js';
import { testHooksFromEnv, type TestHookEnv } from '../stage/test-hooks.js';

/** Test hook: fail after this many searched blocks, to exercise resume end to end. */
const FAULT_ENV: TestHookEnv = 'SBP_PAIR_FAIL_AFTER_BLOCKS';

interface PairFlags extends CommonFlags {
  k?: number;
  alpha?: number;
  alphaQuantile?: number;
  exact?: boolean;
  quantization?: string;
  nearDuplicate?: boolean;
}


export function register(program: Command): void {
  const cmd = new Command('pair').description(
    'Mine related document pairs: top-k neighbours of every document by cosine similarity (HNSW or exact), above α, without self-pairs and near-duplicates: runs/<name>/pairs/pairs.bin, stats.json, samples.jsonl.',
  );
  addCommonOptions(cmd)
    .addOption(new Option('-k, --k <n>', 'neighbours considered per document (default 10)').argParser(parsePositiveInt('--k')))
    .addOption(new Option('--alpha <sim>', 'keep pairs with cosine similarity above this (default 0.75)').argParser(parseNumberFlag('--alpha', { min: -1, max: 1 })))
    .addOption(new Option('--alpha-quantile <q>', 'instead of --alpha: α is this quantile of the candidate similarities, e.g. 0.9 keeps the top 10%').argParser(parseNumberFlag('--alpha-quantile', { min: 0, max: 1 })))
    .option('--exact', 'exact (brute-force) search instead of HNSW, for small corpora')
    .addOption(new Option('--quantization <type>', 'vectors inside the HNSW index (default f16; i8 ≈ 8-bit ScaNN)').choices(['f16', 'i8', 'f32']))
    .option('--no-near-duplicate', 'keep pairs whose texts are near-duplicates')
    .action(async (flags: PairFlags) => {
      const pair: Record<string, unknown> = {
        k: flags.k,
        alpha: flags.alpha,
        alphaQuantile: flags.alphaQuantile,
        search: flags.exact ? 'exact' : undefined,
        quantization: flags.quantization,
        nearDuplicate: flags.nearDuplicate === false ? false : undefined,
      };
      const { cfg, runDir } = loadCommandConfig(flags, { pair }, { mode: 'write', owns: ['pair'] });
      const result = await runPairStage({
        runDir,
        config: cfg.pair,
        seed: cfg.seed,
        threads: cfg.threads,
        force: flags.force,
        quiet: flags.quiet,
        testHooks: testHooksFromEnv(FAULT_ENV),
      });
      process.stdout.write(formatPairSummary(`${runDir}/pairs`, result.manifest.stats, result.skipped));
    });
  program.addCommand(cmd);
}

/** The few lines printed when `sbp pair` finishes. */
export function formatPairSummary(dir: string, s: PairStageStats, skipped: boolean): string {
  const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
  const lines = [`pair: ${dir}/${PAIRS_FILE}${skipped ? ' (already mined with these vectors and config; use --force to redo)' : ''}`];
  const how = s.search === 'ann' ? `HNSW ${s.ann!.quantization} M=${s.ann!.connectivity}` : 'exact search';
  lines.push(`  ${formatCount(s.documents)} docs × ${s.dim}, k=${s.k}, ${how}, ${s.threads} thread(s)`);
  const alpha = s.alpha.value === null ? 'none' : s.alpha.value.toFixed(4);
  lines.push(`  α = ${alpha}${s.alpha.mode === 'quantile' ? ` (quantile ${s.alpha.quantile})` : ''}: ${formatCount(s.pairs)} pairs of ${formatCount(s.candidates)} candidates`);
  lines.push(`  dropped: ${s.drops.self} self, ${s.drops.beyond_k} beyond k, ${s.drops.below_alpha} below α, ${s.drops.near_duplicate} near-duplicate`);
  lines.push(`  ${pct(s.partners.shareWithPartner)} of documents have a partner (mean ${s.partners.meanPerDocument.toFixed(2)} per document)`);
  if (s.exactFallback > 0) lines.push(`  ${formatCount(s.exactFallback)} queries the HNSW graph could not lead to their own document were searched exactly`);
  if (s.recall) lines.push(`  recall@${s.recall.k} vs exact search: ${s.recall.value.toFixed(4)} on ${s.recall.sample} documents`);
  const reused = s.indexReused || s.searchBlocksReused > 0 ? ` (resumed: ${s.indexReused ? 'index, ' : ''}${s.searchBlocksReused}/${s.searchBlocks} blocks)` : '';
  lines.push(`  ${s.seconds.total.toFixed(1)} s: index ${s.seconds.index.toFixed(1)}, search ${s.seconds.search.toFixed(1)}, recall ${s.seconds.recall.toFixed(1)}, texts ${s.seconds.texts.toFixed(1)}${reused}`);
  return `${lines.join('\n')}\n`;
}
