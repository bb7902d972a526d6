import { Command, Option } from 'commander';
import { formatCount } from '../common/progress.js';
import { SynthesisInterrupted, runSynthesizeStage, type SynthesizeStats } from '../synth/synthesize-stage.js';
import type { QualityRates } from '../synth/synth-quality.js';
import { openBackend } from '../engine/open-backend.js';
import { addCommonOptions, loadCommandConfig, parseNumberFlag, parsePositiveInt, runInterruptible, type CommonFlags } from './common.js';

interface SynthesizeFlags extends CommonFlags {
  model?: string;
  engine?: 'local' | 'http';
  baseUrl?: string;
  targetTokens?: number;
  temperature?: number;
  topP?: number;
  maxTokens?: number;
  seedsPerShard?: number;
  concurrency?: number;
  backend?: 'auto' | 'cpu' | 'ref';
}

/** Test hooks: fail after this many generated shards (a crash), or stop as on Ctrl-C after this many. */
const FAIL_ENV = 'SBP_SYNTH_FAIL_AFTER_SHARDS';
const STOP_ENV = 'SBP_SYNTH_STOP_AFTER_SHARDS';

export function register(program: Command): void {
  const cmd = new Command('synthesize').description(
    'Sample synthetic documents d2 ~ p(· | d1) from the synthesizer, seeds drawn uniformly from the corpus, until a target token count; ' +
      'rule-based filters with counted reasons; quality metrics against real documents. Writes runs/<name>/synth/ (train-*.jsonl in the corpus format). ' +
      'Sharded and resumable: rerun after a crash or Ctrl-C. Engines: the local one, or an OpenAI-compatible /v1/completions server (vLLM, SGLang, sbp serve).',
  );
  addCommonOptions(cmd)
    .option('-m, --model <model>', 'local: a run model or model folder; http: the served model id (synthesize.model, default synthesizer)')
    .addOption(new Option('--engine <kind>', 'where sampling runs (synthesize.engine)').choices(['local', 'http']))
    .option('--base-url <url>', 'http engine: the server\'s OpenAI base URL, e.g. http://127.0.0.1:8000/v1 (synthesize.http.baseUrl)')
    .addOption(new Option('--target-tokens <n>', 'stop once kept documents hold this many tokens (synthesize.targetTokens)').argParser(parsePositiveInt('--target-tokens')))
    .addOption(new Option('--temperature <x>', 'sampling temperature (synthesize.temperature)').argParser(parseNumberFlag('--temperature', { min: 0 })))
    .addOption(new Option('--top-p <x>', 'nucleus mass in (0, 1] (synthesize.topP)').argParser(parseNumberFlag('--top-p', { min: 0, max: 1, minOpen: true })))
    .addOption(new Option('--max-tokens <n>', 'd2 tokens at most (synthesize.maxTokens; default: what the context leaves)').argParser(parsePositiveInt('--max-tokens')))
    .addOption(new Option('--seeds-per-shard <n>', 'seeds per output shard (synthesize.seedsPerShard)').argParser(parsePositiveInt('--seeds-per-shard')))
    .addOption(new Option('--concurrency <n>', 'http engine: requests in flight (synthesize.http.concurrency)').argParser(parsePositiveInt('--concurrency')))
    .addOption(new Option('--backend <kind>', 'local engine: compute backend (synthesize.backend)').choices(['auto', 'cpu', 'ref']))
    .action(async (flags: SynthesizeFlags) => {
      const synthesize = {
        model: flags.model,
        engine: flags.engine,
        targetTokens: flags.targetTokens,
        temperature: flags.temperature,
        topP: flags.topP,
        maxTokens: flags.maxTokens,
        seedsPerShard: flags.seedsPerShard,
        backend: flags.backend,
        http: { baseUrl: flags.baseUrl, concurrency: flags.concurrency },
      };
      const { cfg, runDir } = loadCommandConfig(flags, { synthesize }, { mode: 'write', owns: ['synthesize'] });
      const log = (line: string) => process.stderr.write(`${line}\n`);
      const interrupt = { onInterrupt: 'finishing the current shard (Ctrl-C again to quit at once; the unfinished shard is redone on resume)', stopAfterEnv: STOP_ENV, interrupted: SynthesisInterrupted, log };
      const failAfter = process.env[FAIL_ENV] ? Number(process.env[FAIL_ENV]) : undefined;
      await runInterruptible(interrupt, async (shouldStop) => {
        const r = await runSynthesizeStage({
          runDir,
          config: cfg.synthesize,
          tune: cfg.tune,
          embed: cfg.embed,
          seed: cfg.seed,
          createBackend: (kind, threads) => openBackend(kind, threads, log),
          threads: cfg.threads,
          force: flags.force,
          quiet: flags.quiet,
          log,
          failAfterShards: failAfter,
          shouldStop,
        });
        process.stdout.write(formatSynthesizeSummary(`${runDir}/synth`, r.manifest.stats, r.skipped));
      });
    });
  program.addCommand(cmd);
}


const pct = (x: number | null | undefined) => (x === null || x === undefined ? '—' : `${(100 * x).toFixed(1)}%`);

export function formatSynthesizeSummary(dir: string, s: SynthesizeStats, skipped: boolean): string {
  const lines = [`synthetic corpus: ${dir}${skipped ? ' (already synthesized with this config and inputs; use --force to redo)' : ''}`];
  lines.push(`  ${s.engine}; context ${s.framing.contextTokens}, d1 up to ${s.framing.d1Budget} tokens; temperature ${s.sampling.temperature}, top-p ${s.sampling.topP}`);
  lines.push(`  ${s.kept} of ${s.seeds} documents kept, ${formatCount(s.keptTokens)} tokens (target ${formatCount(s.targetTokens)}) in ${s.shards} shards${s.shardsReused > 0 ? ` (${s.shardsReused} resumed)` : ''}`);
  const drops = Object.entries(s.drops).filter(([, n]) => n > 0).map(([k, n]) => `${k} ${n}`).join(', ');
  lines.push(`  dropped: ${drops || 'none'}; ended by eos ${s.finish.stop}, by length ${s.finish.length} (${s.trimmed} trimmed)`);
  lines.push(`  generated ${formatCount(s.generatedTokens)} tokens at ${formatCount(s.tokensPerSec)} tokens/s${s.http ? `; ${s.http.requests} requests, ${s.http.retries} retries` : ''}`);
  const q = s.quality;
  if (q) {
    const row = (name: string, r: QualityRates) => `    ${name.padEnd(10)} ${pct(r.repetitionRate).padStart(7)} ${pct(r.duplicateRate).padStart(10)} ${pct(r.pairCopyingRate).padStart(13)} ${pct(r.pairIrrelevanceRate).padStart(16)}${r.nonFactualRate !== undefined ? ` ${pct(r.nonFactualRate).padStart(12)}` : ''}`;
    lines.push(`  quality on ${q.samples} documents (irrelevant: cosine < ${q.irrelevanceThreshold.toFixed(3)}, ${q.embedder} embedder):`);
    lines.push(`    ${''.padEnd(10)} ${'repeat'.padStart(7)} ${'duplicate'.padStart(10)} ${'pair-copying'.padStart(13)} ${'pair-irrelevant'.padStart(16)}${q.judge ? ` ${'non-factual'.padStart(12)}` : ''}`);
    lines.push(row('generated', q.generated));
    lines.push(row('kept', q.kept));
    lines.push(row('real', { ...q.real, pairCopyingRate: q.realPairs.pairCopyingRate }));
  }
  const c = s.conditioning;
  if (c) {
    const gain = c.conditionalGainNatsPerToken === null ? 'not tuned in this run' : `${c.conditionalGainNatsPerToken.toFixed(3)} nats/token on ${c.heldoutPairs} held-out pairs`;
    lines.push(`  conditioning: gain from d1 ${gain}; pair-irrelevant ${pct(c.pairIrrelevanceRate)} of kept documents; seed lift ${c.seedLift?.toFixed(2) ?? '—'} (0 = as related to the seed as a random document, 1 = as a mined neighbour)`);
  }
  if (s.perplexityFilter) lines.push(`  perplexity filter: above the ${s.perplexityFilter.quantile} quantile of each shard's ${s.perplexityFilter.lossModel} loss (mean threshold ${s.perplexityFilter.meanThreshold?.toFixed(3) ?? '—'} nats/token) dropped`);
  return `${lines.join('\n')}\n`;
}
