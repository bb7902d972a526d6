import { join } from 'node:path';
import { writeJsonAtomic } from '../common/fs-atomic.js';
import { formatDuration } from '../common/progress.js';
import { runDirOf } from '../config/load.js';
import type { RunConfig, SynthesizeConfig } from '../config/schema.js';
import { prepareCorpus } from '../data/prepare-corpus.js';
import { runEmbedStage } from '../embed/embed-stage.js';
import type { Backend } from '../engine/backend.js';
import { runEvalStage, type EvalResults } from '../eval/eval-stage.js';
import type { MetricComparison } from '../eval/compare.js';
import { runPairStage } from '../pairs/pair-stage.js';
import { writeReport } from '../report/report.js';
import { runSynthesizeStage } from '../synth/synthesize-stage.js';
import { runTuneStage } from '../synth/tune-stage.js';
import { runTokenizerStage } from '../tokenizer/tokenizer-stage.js';
import { runTokenizeStage } from '../tokens/tokenize-stage.js';
import { openBackend, type BackendChoice } from '../train/open-backend.js';
import { runArmTrainStage, type Arm } from './arm-train-stage.js';
import { formatPlan, type ComputeMatchedPlan } from './compute-matched-plan.js';
import { PLAN_STAGE, planIdentity, runPlanStage } from './plan-stage.js';
import { inputHash, runStage, type StageResult } from './stage.js';
import { runStageGraph, topologicalOrder, type NodeOutcome, type StageNode } from './stage-graph.js';
import { runSubsetStage } from './subset-stage.js';
import { runSynthTokensStage } from './synth-tokens-stage.js';
import { runTokenizerCopyStage } from './tokenizer-copy-stage.js';

/** The full prepared corpus, its tokenizer and tokens live in this sub-run directory of the experiment. */
export const SOURCE_DIR = 'source';
/** The record of the last `sbp experiment` call: the plan and each stage's outcome and time. */
export const EXPERIMENT_RECORD = 'experiment.json';

export interface ExperimentOptions {
  cfg: RunConfig;
  quiet?: boolean;
  log?: (line: string) => void;
  /** Stop once the plan is made (and printed). */
  planOnly?: boolean;
  createBackend?: (kind: BackendChoice, threads: number | undefined) => Backend | Promise<Backend>;
  /** Polled between training steps (SIGINT): true = checkpoint and stop; rerunning resumes. */
  shouldStop?: (step: number) => boolean;
}

export interface ExperimentResult {
  runDir: string;
  plan: ComputeMatchedPlan;
  stages: NodeOutcome[];
  seconds: number;
  results: EvalResults | null;
  comparison: MetricComparison[] | null;
  reportPath: string | null;
}

interface GraphContext {
  cfg: RunConfig;
  runDir: string;
  sourceDir: string;
  quiet: boolean;
  log: (line: string) => void;
  createBackend: (kind: BackendChoice, threads: number | undefined) => Promise<Backend>;
  shouldStop?: (step: number) => boolean;
  /** Filled by the plan node; read by the nodes after it. */
  plan: ComputeMatchedPlan | null;
  evalOut: { results: EvalResults; comparison: MetricComparison[] | null } | null;
  reportPath: string | null;
}

const skipped = (r: StageResult<unknown>) => ({ skipped: r.skipped });

/**
 * The experiment's stage graph, in pipeline order. Folders (under runs/<name>/):
 *   source/{corpus,tokenizer,tokens}  the whole prepared corpus, its tokenizer and train tokens
 *   corpus/ tokenizer/ tokens/        the U subset (+ the held-out split) and the shared tokenizer
 *   experiment/plan.json              the compute-matched plan
 *   models/baseline embed/ pairs/ models/synthesizer synth/ synth-tokens/   the SBP pipeline on U only
 *   models/sbp models/oracle eval/ report/ (+ report.html)
 */
export function experimentGraph(g: GraphContext): StageNode[] {
  const { cfg, runDir, sourceDir } = g;
  const t = { threads: cfg.threads, quiet: g.quiet };
  const arm = (name: Arm, deps: string[]): StageNode => ({
    name,
    deps,
    slice: { model: cfg.model, train: cfg.train, seed: cfg.seed, plan: planIdentity(cfg) },
    run: async () => {
      const plan = g.plan!;
      return skipped(
        await runArmTrainStage({ cfg, runDir, sourceDir, arm: name, steps: plan.steps, syntheticTokens: plan.syntheticTokens, createBackend: g.createBackend, quiet: g.quiet, shouldStop: g.shouldStop, log: g.log }),
      );
    },
  });
  return [
    { name: 'source-corpus', deps: [], slice: cfg.prepare, run: async () => ({ skipped: (await prepareCorpus({ runDir: sourceDir, config: cfg.prepare, quiet: g.quiet, warn: g.log })).skipped }) },
    { name: 'source-tokenizer', deps: ['source-corpus'], slice: cfg.tokenizer, run: async () => skipped(await runTokenizerStage({ runDir: sourceDir, config: cfg.tokenizer, ...t })) },
    { name: 'source-tokens', deps: ['source-tokenizer'], slice: {}, run: async () => skipped(await runTokenizeStage({ runDir: sourceDir, config: { splits: ['train'] }, ...t })) },
    {
      name: 'corpus',
      deps: ['source-tokens'],
      slice: { uniqueTokens: cfg.experiment.uniqueTokens, oracleFactor: cfg.experiment.oracleFactor, subsetSalt: cfg.experiment.subsetSalt },
      run: async () =>
        skipped(
          await runSubsetStage({
            runDir,
            sourceDir,
            config: { uniqueTokens: cfg.experiment.uniqueTokens, oracleFactor: cfg.experiment.oracleFactor, subsetSalt: cfg.experiment.subsetSalt, docsPerShard: cfg.prepare.docsPerShard },
          }),
        ),
    },
    { name: 'tokenizer', deps: ['source-tokenizer'], slice: {}, run: async () => skipped(await runTokenizerCopyStage({ runDir, sourceDir })) },
    { name: 'tokens', deps: ['corpus', 'tokenizer'], slice: cfg.tokenize, run: async () => skipped(await runTokenizeStage({ runDir, config: cfg.tokenize, ...t })) },
    {
      name: 'plan',
      deps: ['corpus', 'tokenizer'],
      slice: planIdentity(cfg),
      run: async () => {
        const r = await runPlanStage({ cfg, runDir, createBackend: g.createBackend });
        g.plan = r.manifest.stats;
        g.log(formatPlan(g.plan));
        return skipped(r);
      },
    },
    arm('baseline', ['tokens', 'plan']),
    {
      name: 'embed',
      deps: cfg.embed.embedder === 'lm' && cfg.embed.lm.model === 'baseline' ? ['tokens', 'baseline'] : ['tokens'],
      slice: cfg.embed,
      run: async () => skipped(await runEmbedStage({ runDir, config: cfg.embed, ...t })),
    },
    { name: 'pairs', deps: ['embed'], slice: cfg.pair, run: async () => skipped(await runPairStage({ runDir, config: cfg.pair, seed: cfg.seed, ...t })) },
    {
      name: 'synthesizer',
      deps: ['pairs', 'baseline'],
      slice: cfg.tune,
      run: async () => skipped(await runTuneStage({ runDir, config: cfg.tune, seed: cfg.seed, createBackend: g.createBackend, shouldStop: g.shouldStop, log: g.log, ...t })),
    },
    {
      name: 'synth',
      deps: ['synthesizer', 'plan'],
      slice: cfg.synthesize,
      run: async () =>
        skipped(
          await runSynthesizeStage({
            runDir,
            config: synthesisConfig(cfg.synthesize, g.plan!),
            tune: cfg.tune,
            embed: cfg.embed,
            seed: cfg.seed,
            createBackend: g.createBackend,
            log: g.log,
            shouldStop: g.shouldStop ? () => g.shouldStop!(-1) : undefined,
            ...t,
          }),
        ),
    },
    { name: 'synth-tokens', deps: ['synth', 'tokenizer'], slice: {}, run: async () => skipped(await runSynthTokensStage({ runDir, ...t })) },
    arm('sbp', ['synth-tokens', 'plan']),
    arm('oracle', ['tokens', 'plan']),
    {
      name: 'eval',
      deps: ['baseline', 'sbp', 'oracle'],
      slice: cfg.eval,
      run: async () => {
        const r = await runEvalStage({ cfg, runDir, models: ['baseline', 'sbp', 'oracle'], quiet: g.quiet, log: g.log, createBackend: g.createBackend });
        g.evalOut = { results: r.results, comparison: r.comparison };
        return skipped(r);
      },
    },
    {
      name: 'report',
      deps: ['eval'],
      slice: {},
      run: async () => {
        const r = await runStage<{ path: string; sections: number; ready: number }>({
          stage: 'report',
          runDir,
          config: { formatVersion: 1 },
          inputs: reportInputs(runDir),
          run: async () => {
            const { path, sections } = await writeReport(runDir);
            return { path, sections: sections.length, ready: sections.filter((s) => s.ready).length };
          },
        });
        g.reportPath = r.manifest.stats.path;
        return skipped(r);
      },
    },
  ];
}

/** The report reads every stage's output; its identity is theirs. */
function reportInputs(runDir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const stage of ['corpus', 'tokens', PLAN_STAGE, 'models/baseline', 'pairs', 'models/synthesizer', 'synth', 'models/sbp', 'models/oracle', 'eval']) {
    out[stage] = inputHash(runDir, stage, 'sbp experiment');
  }
  return out;
}

/** The synthesize section with its target set by the plan: S synthetic tokens. */
export function synthesisConfig(synthesize: SynthesizeConfig, plan: ComputeMatchedPlan): SynthesizeConfig {
  return { ...synthesize, targetTokens: Math.max(1, plan.syntheticTokens) };
}

/**
 * `sbp experiment`: runs the whole compute-matched experiment from one config — prepare, tokenizer,
 * tokenize, the subsets and the plan, the baseline, embed, pair, tune, synthesize, the SBP and oracle
 * runs, eval and report. Every stage is cached by its config hash and input hashes, so a rerun skips
 * what is done, a changed option reruns only what depends on it, and a killed run resumes.
 */
export async function runExperiment(opts: ExperimentOptions): Promise<ExperimentResult> {
  const { cfg } = opts;
  const runDir = runDirOf(cfg);
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const backends = new Map<string, Promise<Backend>>();
  const create = opts.createBackend ?? ((kind: BackendChoice, threads: number | undefined) => openBackend(kind, threads, log));
  const g: GraphContext = {
    cfg,
    runDir,
    sourceDir: join(runDir, SOURCE_DIR),
    quiet: opts.quiet ?? false,
    log,
    // One backend per kind for the whole experiment: starting one costs threads and memory.
    createBackend: (kind, threads) => {
      const key = `${kind}:${threads ?? ''}`;
      if (!backends.has(key)) backends.set(key, Promise.resolve(create(kind, threads)));
      return backends.get(key)!;
    },
    shouldStop: opts.shouldStop,
    plan: null,
    evalOut: null,
    reportPath: null,
  };
  let nodes = experimentGraph(g);
  if (opts.planOnly) nodes = upTo(nodes, 'plan');
  const t0 = performance.now();
  const total = nodes.length;
  let k = 0;
  const stages = await runStageGraph(nodes, {
    onStart: (n) => {
      k++;
      if (!g.quiet) log(`[${k}/${total}] ${n.name}`);
    },
    onDone: (o) => {
      if (!g.quiet) log(`[${k}/${total}] ${o.name}: ${o.skipped ? 'done before, skipped' : `finished in ${formatDuration(o.seconds)}`}`);
    },
  });
  const seconds = (performance.now() - t0) / 1000;
  const result: ExperimentResult = {
    runDir,
    plan: g.plan!,
    stages,
    seconds,
    results: g.evalOut?.results ?? null,
    comparison: g.evalOut?.comparison ?? null,
    reportPath: g.reportPath,
  };
  writeJsonAtomic(join(runDir, EXPERIMENT_RECORD), { finishedAt: new Date().toISOString(), seconds, planOnly: opts.planOnly ?? false, stages });
  return result;
}

/** The node and everything it depends on. */
function upTo(nodes: StageNode[], name: string): StageNode[] {
  const keep = new Set<string>([name]);
  for (const n of [...topologicalOrder(nodes)].reverse()) if (keep.has(n.name)) for (const d of n.deps) keep.add(d);
  return nodes.filter((n) => keep.has(n.name));
}
