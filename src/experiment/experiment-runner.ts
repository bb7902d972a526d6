import { join } from 'node:path';
import { writeJsonAtomic } from '../common/fs-atomic.js';
import { formatDuration } from '../common/progress.js';
import { runDirOf } from '../config/load.js';
import type { EmbedConfig, RunConfig, SynthesizeConfig, TuneConfig } from '../config/schema.js';
import { UserError } from '../common/errors.js';
import { runRandomPairsStage } from '../pairs/random-pairs.js';
import type { Arm } from './arm-table.js';
import { formatSearch, readSearchChoice, runBaselineCopyStage, runSearchStage, SEARCH_STAGE } from './baseline-search.js';
import type { SweepComparison } from '../eval/variant-summary.js';
import { prepareCorpus } from '../data/prepare-corpus.js';
import { runEmbedStage } from '../embed/embed-stage.js';
import type { Backend } from '../engine/backend.js';
import { readEvalOutputs, runEvalStage, type EvalResults } from '../eval/eval-stage.js';
import type { MetricComparison } from '../eval/compare.js';
import { runPairStage } from '../pairs/pair-stage.js';
import { REPORT_FILE, writeReport } from '../report/report.js';
import { runSynthesizeStage } from '../synth/synthesize-stage.js';
import { runTuneStage } from '../synth/tune-stage.js';
import { runTokenizerStage } from '../tokenizer/tokenizer-stage.js';
import { runTokenizeStage } from '../tokens/tokenize-stage.js';
import { openBackend, type BackendChoice, type BackendFactory } from '../engine/open-backend.js';
import { runArmTrainStage } from './arm-train-stage.js';
import { formatPlan, searchRunName, type ComputeMatchedPlan } from './compute-matched-plan.js';
import { PLAN_STAGE, planIdentity, plannedRun, readPlan, runPlanStage } from './plan-stage.js';
import { inputHash, readManifest, runStage, type StageResult } from '../stage/stage.js';
import { runStageGraph, topologicalOrder, type NodeOutcome, type StageNode } from '../stage/stage-graph.js';
import { runSubsetStage } from './subset-stage.js';
import { runSynthTokensStage } from './synth-tokens-stage.js';
import { runTokenizerCopyStage } from './tokenizer-copy-stage.js';
import { armRunName, experimentEvalPlan, experimentSweep, synthChains, trainingRuns, type SeedVariant, type SynthChain, type TrainingRun } from './sweep.js';

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
}

const skipped = (r: StageResult<unknown>) => ({ skipped: r.skipped });

/**
 * The experiment's stage graph, in pipeline order. Folders (under runs/<name>/):
 *   source/{corpus,tokenizer,tokens}  the whole prepared corpus, its tokenizer and train tokens
 *   corpus/ tokenizer/ tokens/        the U subset (+ the held-out split) and the shared tokenizer
 *   experiment/plan.json              the compute-matched plan: every node after it reads its entry there
 *   models/search-wd<v> search/       the baseline's weight-decay search (when experiment.baselineSearch has a grid)
 *   models/baseline embed/ pairs/ models/synthesizer synth/ synth-tokens/   the SBP pipeline on U only
 *   pairs-random/ models/synthesizer-randompairs synth-randompairs/ synth-selfdistill/ …   the controls' synthetic corpora
 *   models/sbp models/selfdistill models/randompairs models/oracle eval/ report/ (+ report.html)
 * A plain experiment is a sweep of one (sweep.ts): the same nodes, named without suffixes.
 */
export function experimentGraph(g: GraphContext): StageNode[] {
  const { cfg, runDir, sourceDir } = g;
  const t = { threads: cfg.threads, quiet: g.quiet };
  const sweep = experimentSweep(cfg);
  const runs = trainingRuns(sweep);
  const chains = synthChains(sweep);
  const grid = cfg.experiment.baselineSearch.weightDecay;
  const searching = grid.length > 1;
  if (sweep.controls.length > 0 && cfg.synthesize.engine !== 'local') throw new UserError(`experiment.controls: the control arms synthesize with this run's own models, which needs synthesize.engine=local (it is ${cfg.synthesize.engine}); set experiment.controls=[]`);
  const firstBaseline = armRunName('baseline', sweep.seeds[0]!);
  // The embedder, the synthesizers and selfdistill's sampler start from the first seed's baseline.
  const embed = cfg.embed.lm.model === 'baseline' && firstBaseline !== 'baseline' ? { ...cfg.embed, lm: { ...cfg.embed.lm, model: firstBaseline } } : cfg.embed;
  const tune = cfg.tune.initFrom === 'baseline' && firstBaseline !== 'baseline' ? { ...cfg.tune, initFrom: firstBaseline } : cfg.tune;
  const afterSearch = searching ? ['search'] : [];

  /** The train section every run trains with: the searched weight decay, the seed, and evaluations spaced for the learning curves. */
  const runTrain = (steps: number, seed: SeedVariant, weightDecay: number): RunConfig['train'] => {
    const points = cfg.experiment.evalPoints;
    return {
      ...cfg.train,
      ...(seed.seed !== undefined ? { seed: seed.seed } : {}),
      weightDecay,
      evalEvery: points > 0 ? Math.max(1, Math.floor(steps / points)) : cfg.train.evalEvery,
    };
  };
  const chosenWeightDecay = () => (searching ? readSearchChoice(runDir).chosen : (grid[0] ?? cfg.train.weightDecay));

  const trainNode = (name: string, deps: string[], o: { arm: Arm; seed: SeedVariant; chain?: SynthChain | null; validation?: { weightDecay: number } }): StageNode => ({
    name,
    deps,
    slice: { model: cfg.model, train: cfg.train, seed: cfg.seed, plan: planIdentity(cfg) },
    run: async () => {
      const plan = readPlan(runDir);
      const entry = o.validation ? null : plannedRun(plan, name);
      const train = runTrain(plan.steps, o.seed, o.validation ? o.validation.weightDecay : chosenWeightDecay());
      const syntheticTokens = entry?.syntheticTokens ?? 0;
      return skipped(
        await runArmTrainStage({
          cfg: { ...cfg, train },
          runDir,
          sourceDir,
          arm: o.arm,
          name,
          synthTokensStage: o.chain?.synthTokens,
          syntheticPrefix: o.chain && syntheticTokens < plan.syntheticTokens ? true : undefined,
          validation: o.validation !== undefined,
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
  const runNode = (r: TrainingRun): StageNode => {
    const deps = r.chain ? [r.chain.synthTokens, 'plan', ...afterSearch] : ['tokens', 'plan', ...afterSearch];
    return trainNode(r.name, deps, { arm: r.arm, seed: r.seed, chain: r.chain });
  };

  const nodes: StageNode[] = [
    { name: 'source-corpus', deps: [], slice: cfg.prepare, run: async () => ({ skipped: (await prepareCorpus({ runDir: sourceDir, config: cfg.prepare, quiet: g.quiet, warn: g.log })).skipped }) },
    { name: 'source-tokenizer', deps: ['source-corpus'], slice: cfg.tokenizer, run: async () => skipped(await runTokenizerStage({ runDir: sourceDir, config: cfg.tokenizer, ...t })) },
    { name: 'source-tokens', deps: ['source-tokenizer'], slice: {}, run: async () => skipped(await runTokenizeStage({ runDir: sourceDir, config: { splits: ['train'] }, ...t })) },
    corpusNode(g, searching),
    { name: 'tokenizer', deps: ['source-tokenizer'], slice: {}, run: async () => skipped(await runTokenizerCopyStage({ runDir, sourceDir })) },
    { name: 'tokens', deps: ['corpus', 'tokenizer'], slice: cfg.tokenize, run: async () => skipped(await runTokenizeStage({ runDir, config: cfg.tokenize, ...t })) },
    {
      name: 'plan',
      deps: ['corpus', 'tokenizer'],
      slice: planIdentity(cfg),
      run: async () => {
        const r = await runPlanStage({ cfg, runDir, createBackend: g.createBackend });
        g.log(formatPlan(r.manifest.stats));
        return skipped(r);
      },
    },
  ];
  if (searching) {
    nodes.push(...grid.map((v) => trainNode(searchRunName(v), ['tokens', 'plan'], { arm: 'baseline', seed: sweep.seeds[0]!, validation: { weightDecay: v } })));
    nodes.push({
      name: 'search',
      deps: grid.map(searchRunName),
      slice: cfg.experiment.baselineSearch,
      run: async () => {
        const r = await runSearchStage({ runDir, grid });
        g.log(formatSearch(r.manifest.stats));
        return skipped(r);
      },
    });
  }
  // With a search, the first seed's baseline is the chosen search run (it trained exactly that).
  const baselineNode: StageNode = searching
    ? { name: firstBaseline, deps: ['search'], slice: { copiedFrom: 'search' }, run: async () => skipped(await runBaselineCopyStage({ runDir, name: firstBaseline })) }
    : runNode(runs.find((r) => r.name === firstBaseline)!);
  nodes.push(baselineNode, {
    name: 'embed',
    deps: embed.embedder === 'lm' && embed.lm.model === firstBaseline ? ['tokens', firstBaseline] : ['tokens'],
    slice: embed,
    run: async () => skipped(await runEmbedStage({ runDir, config: embed, ...t })),
  });
  for (const chain of chains) nodes.push(...chainNodes(g, chain, { embed, tune, firstBaseline }));
  nodes.push(...runs.filter((r) => r.name !== firstBaseline).map(runNode));
  const evalPlan = experimentEvalPlan(cfg);
  nodes.push(
    {
      name: 'eval',
      deps: evalPlan.models,
      slice: cfg.eval,
      run: async () => skipped(await runEvalStage({ cfg, runDir, models: evalPlan.models, comparisons: evalPlan.comparisons, quiet: g.quiet, log: g.log, createBackend: g.createBackend })),
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
          inputs: reportInputs(runDir, reportStages(chains, evalPlan.models, searching)),
          run: async () => {
            const { path, sections } = await writeReport(runDir);
            return { path, sections: sections.length, ready: sections.filter((s) => s.ready).length };
          },
        });
        return skipped(r);
      },
    },
  );
  return nodes;
}

/** The U subset (and, for the baseline search, the validation split) of the source's train split. */
function corpusNode(g: GraphContext, searching: boolean): StageNode {
  const e = g.cfg.experiment;
  const config = {
    uniqueTokens: e.uniqueTokens,
    oracleFactor: e.oracleFactor,
    subsetSalt: e.subsetSalt,
    docsPerShard: g.cfg.prepare.docsPerShard,
    validationTokens: searching ? e.baselineSearch.validationTokens : 0,
  };
  return {
    name: 'corpus',
    deps: ['source-tokens'],
    slice: { uniqueTokens: e.uniqueTokens, oracleFactor: e.oracleFactor, subsetSalt: e.subsetSalt, ...(searching ? { validationTokens: config.validationTokens } : {}) },
    run: async () => skipped(await runSubsetStage({ runDir: g.runDir, sourceDir: g.sourceDir, config })),
  };
}

/** The nodes that make one synthetic corpus: pairs (mined or random) → synthesizer → synthesis → tokens; selfdistill samples the baseline. */
function chainNodes(g: GraphContext, chain: SynthChain, o: { embed: EmbedConfig; tune: TuneConfig; firstBaseline: string }): StageNode[] {
  const { cfg, runDir } = g;
  const t = { threads: cfg.threads, quiet: g.quiet };
  const nodes: StageNode[] = [];
  if (chain.pairs && chain.arm === 'sbp') {
    const pair = chain.alpha!.pair;
    nodes.push({ name: chain.pairs, deps: ['embed'], slice: pair, run: async () => skipped(await runPairStage({ runDir, config: pair, stage: chain.pairs!, seed: cfg.seed, ...t })) });
  } else if (chain.pairs) {
    nodes.push({ name: chain.pairs, deps: [chain.minedPairs], slice: { seed: cfg.seed }, run: async () => skipped(await runRandomPairsStage({ runDir, stage: chain.pairs!, minedStage: chain.minedPairs, seed: cfg.seed })) });
  }
  if (chain.synthesizer && chain.pairs) {
    nodes.push({
      name: chain.synthesizer,
      deps: [chain.pairs, o.firstBaseline],
      slice: o.tune,
      run: async () =>
        skipped(await runTuneStage({ runDir, config: o.tune, modelName: chain.synthesizer!, pairsStage: chain.pairs!, seed: cfg.seed, createBackend: g.createBackend, shouldStop: g.shouldStop, log: g.log, ...t })),
    });
  }
  const model = chain.synthesizer ?? o.firstBaseline;
  const synthesize: SynthesizeConfig =
    chain.arm === 'sbp'
      ? cfg.synthesize.model === 'synthesizer'
        ? { ...cfg.synthesize, model }
        : cfg.synthesize
      : { ...cfg.synthesize, model, conditioning: chain.conditioning };
  nodes.push(
    {
      name: chain.synth,
      deps: [model, 'plan', ...(chain.minedPairs !== chain.pairs && cfg.synthesize.quality.samples > 0 ? [chain.minedPairs] : [])],
      slice: synthesize,
      run: async () =>
        skipped(
          await runSynthesizeStage({
            runDir,
            stage: chain.synth,
            pairsStage: chain.minedPairs,
            config: synthesisConfig(synthesize, readPlan(runDir)),
            tune: o.tune,
            embed: o.embed,
            seed: cfg.seed,
            createBackend: g.createBackend,
            log: g.log,
            shouldStop: g.shouldStop ? () => g.shouldStop!(-1) : undefined,
            ...t,
          }),
        ),
    },
    { name: chain.synthTokens, deps: [chain.synth, 'tokenizer'], slice: {}, run: async () => skipped(await runSynthTokensStage({ runDir, stage: chain.synthTokens, synthStage: chain.synth, ...t })) },
  );
  return nodes;
}

/** The stages the report reads: the plan, the search, every synthetic corpus's pairs, synthesizer and synthesis, and every run. */
function reportStages(chains: SynthChain[], models: string[], searching: boolean): string[] {
  const perChain = chains.flatMap((c) => [...(c.pairs ? [c.pairs] : []), ...(c.synthesizer ? [`models/${c.synthesizer}`] : []), c.synth]);
  return ['corpus', 'tokens', PLAN_STAGE, ...(searching ? [SEARCH_STAGE] : []), ...perChain, ...models.map((m) => `models/${m}`), 'eval'];
}

/** The report reads every stage's output; its identity is theirs. */
function reportInputs(runDir: string, stages: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const stage of stages) {
    out[stage] = inputHash(runDir, stage, 'sbp experiment');
  }
  return out;
}

/** The synthesize section with its target set by the plan: S synthetic tokens (for the largest share). */
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
  // Every output is read back from its stage: what the graph ran is on disk.
  const evaluated = opts.planOnly ? null : readEvalOutputs(runDir);
  const result: ExperimentResult = {
    runDir,
    plan: readPlan(runDir),
    stages,
    seconds,
    results: evaluated?.results ?? null,
    comparison: evaluated?.comparison ?? null,
    sweep: evaluated?.sweep ?? null,
    // Where the report is now: the manifest's path is where it was first written (another folder,
    // another working directory) when this run was copied or moved since.
    reportPath: opts.planOnly || !readManifest(runDir, 'report') ? null : join(runDir, REPORT_FILE),
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
