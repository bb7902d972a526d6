import { join } from 'node:path';
import { writeJsonAtomic } from '../common/fs-atomic.js';
import { formatDuration } from '../common/progress.js';
import { runDirOf } from '../config/load.js';
import type { RunConfig, SynthesizeConfig } from '../config/schema.js';
import type { SweepComparison } from '../eval/variant-summary.js';
import { prepareCorpus } from '../data/prepare-corpus.js';
import { runEmbedStage } from '../embed/embed-stage.js';
import type { Backend } from '../engine/backend.js';
import { runEvalStage, type EvalResults } from '../eval/eval-stage.js';
import type { MetricComparison } from '../eval/compare.js';
import { runPairStage } from '../pairs/pair-stage.js';
import { REPORT_FILE, writeReport } from '../report/report.js';
import { runSynthesizeStage } from '../synth/synthesize-stage.js';
import { runTuneStage } from '../synth/tune-stage.js';
import { runTokenizerStage } from '../tokenizer/tokenizer-stage.js';
import { runTokenizeStage } from '../tokens/tokenize-stage.js';
import { openBackend, type BackendChoice, type BackendFactory } from '../engine/open-backend.js';
import { runArmTrainStage, type Arm } from './arm-train-stage.js';
import { formatPlan, type ComputeMatchedPlan } from './compute-matched-plan.js';
import { PLAN_STAGE, planIdentity, runPlanStage } from './plan-stage.js';
import { inputHash, runStage, type StageResult } from '../stage/stage.js';
import { runStageGraph, topologicalOrder, type NodeOutcome, type StageNode } from '../stage/stage-graph.js';
import { runSubsetStage } from './subset-stage.js';
import { runSynthTokensStage } from './synth-tokens-stage.js';
import { runTokenizerCopyStage } from './tokenizer-copy-stage.js';
import { alphaStages, armRunName, experimentSweep, isSweep, sbpVariants, sweepEvalPlan, type ExperimentSweep, type SeedVariant } from './sweep.js';

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
  createBackend?: BackendFactory;
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
  /** A sweep's per-variant comparisons (null without sweep fields). */
  sweep: SweepComparison | null;
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
  evalOut: { results: EvalResults; comparison: MetricComparison[] | null; sweep: SweepComparison | null } | null;
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
  // Without sweep fields: one share, one α, one seed, and every name without a suffix (see sweep.ts).
  const sweep = experimentSweep(cfg);
  const sweeping = isSweep(cfg);
  const firstBaseline = armRunName('baseline', sweep.seeds[0]!);
  // In a sweep the embedder and the synthesizer start from the first seed's baseline.
  const embed = cfg.embed.lm.model === 'baseline' && firstBaseline !== 'baseline' ? { ...cfg.embed, lm: { ...cfg.embed.lm, model: firstBaseline } } : cfg.embed;
  const tune = cfg.tune.initFrom === 'baseline' && firstBaseline !== 'baseline' ? { ...cfg.tune, initFrom: firstBaseline } : cfg.tune;
  const seeded = (seed: SeedVariant): RunConfig => (seed.seed === undefined ? cfg : { ...cfg, train: { ...cfg.train, seed: seed.seed } });
  const arm = (name: string, kind: Arm, seed: SeedVariant, deps: string[], sbp?: { share: number; synthTokens: string }): StageNode => ({
    name,
    deps,
    slice: { model: cfg.model, train: seeded(seed).train, seed: cfg.seed, plan: planIdentity(cfg) },
    run: async () => {
      const plan = g.plan!;
      // A sweep's share takes its S from the requested budget, as the plan does; the largest share is the stream's own.
      const syntheticTokens = sbp && sweeping ? Math.round(sbp.share * plan.requested.budgetTokens) : plan.syntheticTokens;
      return skipped(
        await runArmTrainStage({
          cfg: seeded(seed),
          runDir,
          sourceDir,
          arm: kind,
          name,
          synthTokensStage: sbp?.synthTokens,
          syntheticPrefix: sbp !== undefined && sbp.share < sweep.synthesisShare ? true : undefined,
          steps: plan.steps,
          syntheticTokens,
          createBackend: g.createBackend,
          quiet: g.quiet,
          shouldStop: g.shouldStop,
          log: g.log,
        }),
      );
    },
  });
  const nodes: StageNode[] = [
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
    arm(firstBaseline, 'baseline', sweep.seeds[0]!, ['tokens', 'plan']),
    {
      name: 'embed',
      deps: embed.embedder === 'lm' && embed.lm.model === firstBaseline ? ['tokens', firstBaseline] : ['tokens'],
      slice: embed,
      run: async () => skipped(await runEmbedStage({ runDir, config: embed, ...t })),
    },
  ];
  for (const alpha of sweep.alphas) {
    const st = alphaStages(alpha);
    const synthesize = cfg.synthesize.model === 'synthesizer' ? { ...cfg.synthesize, model: st.synthesizer } : cfg.synthesize;
    nodes.push(
      { name: st.pairs, deps: ['embed'], slice: alpha.pair, run: async () => skipped(await runPairStage({ runDir, config: alpha.pair, stage: st.pairs, seed: cfg.seed, ...t })) },
      {
        name: st.synthesizer,
        deps: [st.pairs, firstBaseline],
        slice: tune,
        run: async () =>
          skipped(await runTuneStage({ runDir, config: tune, modelName: st.synthesizer, pairsStage: st.pairs, seed: cfg.seed, createBackend: g.createBackend, shouldStop: g.shouldStop, log: g.log, ...t })),
      },
      {
        name: st.synth,
        deps: [st.synthesizer, 'plan'],
        slice: synthesize,
        run: async () =>
          skipped(
            await runSynthesizeStage({
              runDir,
              stage: st.synth,
              pairsStage: st.pairs,
              config: synthesisConfig(synthesize, g.plan!),
              tune,
              embed,
              seed: cfg.seed,
              createBackend: g.createBackend,
              log: g.log,
              shouldStop: g.shouldStop ? () => g.shouldStop!(-1) : undefined,
              ...t,
            }),
          ),
      },
      { name: st.synthTokens, deps: [st.synth, 'tokenizer'], slice: {}, run: async () => skipped(await runSynthTokensStage({ runDir, stage: st.synthTokens, synthStage: st.synth, ...t })) },
    );
  }
  nodes.push(...sweep.seeds.slice(1).map((seed) => arm(armRunName('baseline', seed), 'baseline', seed, ['tokens', 'plan'])));
  for (const v of sbpVariants(sweep)) {
    const st = alphaStages(v.alpha);
    nodes.push(arm(v.name, 'sbp', v.seed, [st.synthTokens, 'plan'], { share: v.share, synthTokens: st.synthTokens }));
  }
  nodes.push(...sweep.seeds.map((seed) => arm(armRunName('oracle', seed), 'oracle', seed, ['tokens', 'plan'])));
  const evalPlan = sweeping ? sweepEvalPlan(cfg) : { models: ['baseline', 'sbp', 'oracle'], comparisons: undefined };
  nodes.push(
    {
      name: 'eval',
      deps: evalPlan.models,
      slice: cfg.eval,
      run: async () => {
        const r = await runEvalStage({ cfg, runDir, models: evalPlan.models, comparisons: evalPlan.comparisons, quiet: g.quiet, log: g.log, createBackend: g.createBackend });
        g.evalOut = { results: r.results, comparison: r.comparison, sweep: r.sweep };
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
          inputs: reportInputs(runDir, sweeping ? sweepReportStages(sweep, evalPlan.models) : REPORT_STAGES),
          run: async () => {
            const { path, sections } = await writeReport(runDir);
            return { path, sections: sections.length, ready: sections.filter((s) => s.ready).length };
          },
        });
        // Where the report is now: the manifest's path is where it was first written (another folder,
        // another working directory) when this run was copied or moved since.
        g.reportPath = join(runDir, REPORT_FILE);
        return skipped(r);
      },
    },
  );
  return nodes;
}

const REPORT_STAGES = ['corpus', 'tokens', PLAN_STAGE, 'models/baseline', 'pairs', 'models/synthesizer', 'synth', 'models/sbp', 'models/oracle', 'eval'];

/** The stages a sweep's report reads: every α's pairs, synthesizer and synthesis, and every run. */
function sweepReportStages(sweep: ExperimentSweep, models: string[]): string[] {
  const perAlpha = sweep.alphas.flatMap((a) => {
    const st = alphaStages(a);
    return [st.pairs, `models/${st.synthesizer}`, st.synth];
  });
  return ['corpus', 'tokens', PLAN_STAGE, ...perAlpha, ...models.map((m) => `models/${m}`), 'eval'];
}

/** The report reads every stage's output; its identity is theirs. */
function reportInputs(runDir: string, stages: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const stage of stages) {
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
    sweep: g.evalOut?.sweep ?? null,
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
