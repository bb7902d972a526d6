import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../common/errors.js';
import { writeJsonAtomic } from '../common/fs-atomic.js';
import { sha256Hex } from '../common/hash.js';
import { Progress } from '../common/progress.js';
import type { RunConfig } from '../config/schema.js';
import type { Backend } from '../engine/backend.js';
import { runStage, type StageContext, type StageResult } from '../stage/stage.js';
import { loadModelFolder } from '../model/hf-folder.js';
import type { LanguageModel } from '../model/types.js';
import { Tokenizer } from '../tokenizer/tokenizer.js';
import { resolveModelDir } from '../stage/model-dir.js';
import { openBackend, type BackendChoice, type BackendFactory } from '../engine/open-backend.js';
import { buildClozeTask } from './cloze.js';
import { compareMetric, compareWithControl, metricEstimates, type BootstrapOptions, type ComparisonRoles, type Estimate, type ItemMetric, type MetricComparison } from './compare.js';
import { heldoutTexts, sourceTexts, type EvalTexts } from './eval-texts.js';
import { documentLosses, summarizePerplexity, textDocuments, type DocumentLoss } from './perplexity.js';
import { readTaskFile, scoreTask, type Task, type TaskItemScore } from './tasks.js';
import { summarizeVariants, type SweepComparison, type VariantComparison, type VariantComparisonSpec, type VariantGroup } from './variant-summary.js';

export const EVAL_STAGE = 'eval';
export const RESULTS_FILE = 'results.json';
export const ITEMS_FILE = 'items.json';
export const COMPARISON_FILE = 'comparison.json';

export interface EvalStageOptions {
  cfg: RunConfig;
  runDir: string;
  /** Overrides `eval.models`. */
  models?: string[];
  /**
   * A sweep's SBP runs, each compared with its own baseline and oracle (labels of `models`), and
   * averaged per group (a variant's seeds). Written into comparison.json as `variants` and `groups`.
   */
  comparisons?: VariantComparisonSpec[];
  force?: boolean;
  quiet?: boolean;
  log?: (line: string) => void;
  createBackend?: BackendFactory;
}

/** A model under evaluation: its label in results and the folder it loads from. */
export interface EvalModel {
  label: string;
  dir: string;
  runModel: string | null;
  inputHash: string;
  tokenizerPath: string;
}

/** One evaluation set: perplexity documents, or a task. */
type EvalSet =
  | { name: string; kind: 'perplexity'; texts: EvalTexts }
  | { name: string; kind: 'multiple-choice' | 'cloze'; task: Task; source: string };

export interface EvalSetSummary {
  kind: 'perplexity' | 'multiple-choice' | 'cloze';
  source: string;
  items: number;
}

export interface EvalStageStats {
  models: string[];
  sets: Record<string, EvalSetSummary>;
  metrics: Record<string, Record<string, number>>; // metric → model → value
  fractionOfOracleGain: Record<string, number | null> | null; // metric → fraction; null without all three roles
  fractionOfOracleGainByVariant?: Record<string, Record<string, number | null>>; // a sweep: variant → metric → mean fraction over its seeds
  window: number;
  stride: number;
  synthQuality: boolean;
}

/** What results.json holds (see docs/eval.md). */
export interface EvalResults {
  models: Record<string, { dir: string; runModel: string | null; params: number }>;
  settings: { window: number; stride: number; batchTokens: number; bootstrap: BootstrapOptions; maxDocs: number };
  sets: Record<string, EvalSetSummary>;
  metrics: Record<string, { higherIsBetter: boolean; items: number; values: Record<string, Estimate> }>;
  /** Each model's held-out loss through its training (the trainer's held-out evaluations; models without metrics.jsonl are absent). */
  curves?: Record<string, LearningCurvePoint[]>;
  synthQuality: unknown;
  itemsFile: string;
}

/** One held-out evaluation during training: after `step` optimizer steps (`tokens` trained), mean loss in nats per token. */
export interface LearningCurvePoint {
  step: number;
  tokens: number;
  loss: number;
}

type SetScores = { kind: 'perplexity'; docs: DocumentLoss[] } | { kind: 'task'; items: TaskItemScore[] };

/**
 * `models/* → eval/`: perplexity and bits per byte on the run's held-out split and on other corpora,
 * multiple-choice and cloze tasks from JSONL files, a cloze task built from held-out documents, and
 * — when baseline, sbp and oracle models are all given — the fraction of the oracle's gain SBP
 * recovers, per metric, with paired-bootstrap intervals over the items. Writes results.json,
 * items.json (item-level scores), comparison.json and manifest.json. Each (model, set) finished is
 * marked, so an interrupted evaluation resumes.
 */
export async function runEvalStage(
  opts: EvalStageOptions,
): Promise<StageResult<EvalStageStats> & { results: EvalResults; comparison: MetricComparison[] | null; sweep: SweepComparison | null }> {
  const { cfg, runDir } = opts;
  const ec = cfg.eval;
  const log = opts.log ?? (() => {});
  const models = resolveEvalModels(runDir, opts.models ?? ec.models);
  const seed = ec.seed ?? cfg.seed;
  const { window, stride } = scoringWindow(cfg, models);
  const { sets, inputs } = await collectEvalSets(runDir, ec, seed, log);
  for (const m of models) {
    inputs[`model:${m.label}`] = m.inputHash;
    inputs[`tokenizer:${m.label}`] = sha256Hex(readFileSync(m.tokenizerPath));
  }
  const synthQualityPath = join(runDir, 'synth', 'quality.json');
  const synthQuality = existsSync(synthQualityPath) ? readSynthQuality(synthQualityPath) : null;
  if (synthQuality !== null) inputs.synthQuality = sha256Hex(readFileSync(synthQualityPath));

  const bootstrap: BootstrapOptions = { samples: ec.bootstrap.samples, confidence: ec.bootstrap.confidence, seed };
  // backend and batch size choose how, not what, is computed: they stay out of the stage's identity.
  const { backend: backendChoice, batchTokens, ...identity } = ec;
  checkComparisons(models, opts.comparisons);
  const stageConfig = { eval: { ...identity, window, stride, seed }, models: models.map((m) => m.label), ...(opts.comparisons ? { comparisons: opts.comparisons } : {}) };
  const setSummaries = summarizeSets(sets);

  let results: EvalResults | undefined;
  let comparison: MetricComparison[] | null = null;
  let sweep: SweepComparison | null = null;
  const stage = await runStage<EvalStageStats>({
    stage: EVAL_STAGE,
    runDir,
    config: stageConfig,
    inputs,
    force: opts.force,
    run: async (ctx) => {
      const openBackendOnce = lazyBackend(async () => (opts.createBackend ?? ((k, t) => openBackend(k, t, log)))(backendChoice, cfg.threads));
      const { scores, params } = await scoreModels(ctx, models, sets, { window, stride, batchTokens, quiet: opts.quiet, backend: openBackendOnce });
      const metrics = sets.flatMap((s) => setMetrics(s, models, scores.get(s.name)!));
      results = {
        models: Object.fromEntries(models.map((m) => [m.label, { dir: m.dir, runModel: m.runModel, params: params[m.label]! }])),
        settings: { window, stride, batchTokens, bootstrap, maxDocs: ec.maxDocs },
        sets: setSummaries,
        metrics: Object.fromEntries(metrics.map((mt) => [mt.name, { higherIsBetter: mt.higherIsBetter, items: mt.items[models[0]!.label]!.num.length, values: metricEstimates(mt, bootstrap) }])),
        curves: learningCurves(models),
        synthQuality,
        itemsFile: ITEMS_FILE,
      };
      const compared = compareModels(metrics, models, opts.comparisons, bootstrap);
      comparison = compared.comparison;
      sweep = compared.sweep;
      writeJsonAtomic(join(ctx.dir, ITEMS_FILE), itemsJson(sets, models, scores));
      writeJsonAtomic(join(ctx.dir, RESULTS_FILE), results);
      writeJsonAtomic(join(ctx.dir, COMPARISON_FILE), comparisonJson(models, comparison, sweep, bootstrap));
      return {
        models: models.map((m) => m.label),
        sets: setSummaries,
        metrics: Object.fromEntries(Object.entries(results.metrics).map(([k, v]) => [k, Object.fromEntries(Object.entries(v.values).map(([mm, e]) => [mm, e.value]))])),
        fractionOfOracleGain: comparison ? Object.fromEntries(comparison.map((c) => [c.metric, c.fraction.value])) : null,
        ...(sweep ? { fractionOfOracleGainByVariant: Object.fromEntries(sweep.groups.map((g) => [g.group, Object.fromEntries(g.metrics.map((m) => [m.metric, m.fraction?.mean ?? null]))])) } : {}),
        window,
        stride,
        synthQuality: synthQuality !== null,
      };
    },
  });
  if (stage.skipped) return { ...stage, ...readEvalOutputs(runDir)! };
  return { ...stage, results: results!, comparison, sweep };
}

/** results.json and comparison.json of a finished eval stage (null when it has not run). */
export function readEvalOutputs(runDir: string): { results: EvalResults; comparison: MetricComparison[] | null; sweep: SweepComparison | null } | null {
  const dir = join(runDir, EVAL_STAGE);
  if (!existsSync(join(dir, RESULTS_FILE))) return null;
  const results = JSON.parse(readFileSync(join(dir, RESULTS_FILE), 'utf8')) as EvalResults;
  const cmp = JSON.parse(readFileSync(join(dir, COMPARISON_FILE), 'utf8')) as { roles: ComparisonRoles | null; metrics: MetricComparison[]; variants?: VariantComparison[]; groups?: VariantGroup[] };
  const comparison = cmp.roles ? cmp.metrics : null;
  const sweep = cmp.variants ? { variants: cmp.variants, groups: cmp.groups ?? summarizeVariants(cmp.variants) } : null;
  return { results, comparison, sweep };
}

/** The scoring window (the models' contexts bound it; default: the context they were trained with) and the perplexity stride. */
function scoringWindow(cfg: RunConfig, models: EvalModel[]): { window: number; stride: number } {
  const ec = cfg.eval;
  const contexts = models.map((m) => ({ m, ctx: readMaxSeqLen(m.dir) }));
  const minContext = Math.min(...contexts.map((c) => c.ctx));
  const window = ec.window ?? Math.min(cfg.train.seqLen, minContext);
  for (const { m, ctx } of contexts) {
    if (window > ctx) throw new UserError(`eval.window ${window} exceeds the context of model "${m.label}" (${ctx} tokens, ${m.dir}); set eval.window <= ${ctx}`);
  }
  const stride = ec.stride ?? Math.max(1, Math.floor(window / 2));
  if (stride > window) throw new UserError(`eval.stride ${stride} is larger than the window ${window}; use a stride in 1..${window}`);
  return { window, stride };
}

/** The evaluation sets, as text: the held-out split, other corpora, task files, the held-out cloze task; with their input hashes. */
async function collectEvalSets(runDir: string, ec: RunConfig['eval'], seed: number, log: (line: string) => void): Promise<{ sets: EvalSet[]; inputs: Record<string, string> }> {
  const sets: EvalSet[] = [];
  const inputs: Record<string, string> = {};
  const wantHeldout = ec.heldout || ec.cloze.passages > 0;
  const heldout = wantHeldout ? await heldoutTexts(runDir, ec.cloze.passages > 0 ? Infinity : ec.maxDocs) : null;
  if (heldout) {
    inputs.heldout = heldout.inputHash;
    if (ec.heldout) sets.push({ name: 'heldout', kind: 'perplexity', texts: { ...heldout, docs: heldout.docs.slice(0, ec.maxDocs) } });
  }
  for (const s of ec.sets) {
    if (sets.some((x) => x.name === s.name) || s.name === 'cloze') throw new UserError(`eval.sets: the name "${s.name}" is taken; give each set its own name`);
    const texts = await sourceTexts(s.source, ec.maxDocs, log);
    inputs[`set:${s.name}`] = texts.inputHash;
    sets.push({ name: s.name, kind: 'perplexity', texts });
  }
  for (const path of ec.tasks) {
    const task = readTaskFile(path);
    if (sets.some((x) => x.name === task.name)) throw new UserError(`eval.tasks: ${path}: the name "${task.name}" is already used by another set; rename the file`);
    inputs[`task:${task.name}`] = sha256Hex(readFileSync(path));
    sets.push({ name: task.name, kind: task.kind, task, source: path });
  }
  if (heldout && ec.cloze.passages > 0) {
    const built = buildClozeTask(heldout.docs, { passages: ec.cloze.passages, contextWords: ec.cloze.contextWords, minContextWords: ec.cloze.minContextWords, seed }, 'cloze');
    if (built.task.items.length === 0) throw new UserError(`the held-out split has no passage with a sentence-final word after ${ec.cloze.minContextWords} words; lower eval.cloze.minContextWords or set eval.cloze.passages=0`);
    if (built.task.items.length < ec.cloze.passages) log(`cloze: only ${built.task.items.length} of ${ec.cloze.passages} passages (${built.docsWithoutTarget} held-out documents had no target word)`);
    sets.push({ name: 'cloze', kind: 'cloze', task: built.task, source: `${heldout.source}, last word of a passage` });
  }
  if (sets.length === 0) throw new UserError('nothing to evaluate: eval.heldout is false, and there are no eval.sets, eval.tasks or cloze passages');
  return { sets, inputs };
}

function summarizeSets(sets: EvalSet[]): Record<string, EvalSetSummary> {
  const out: Record<string, EvalSetSummary> = {};
  for (const s of sets) out[s.name] = s.kind === 'perplexity' ? { kind: 'perplexity', source: s.texts.source, items: s.texts.docs.length } : { kind: s.kind, source: s.source, items: s.task.items.length };
  return out;
}

function checkComparisons(models: EvalModel[], comparisons: VariantComparisonSpec[] | undefined): void {
  const labels = new Set(models.map((m) => m.label));
  for (const c of comparisons ?? []) {
    const named = { ...c.roles, ...(c.controls ?? {}) };
    for (const [role, label] of Object.entries(named)) if (!labels.has(label)) throw new Error(`comparison ${c.name}: its ${role} "${label}" is not among the evaluated models`);
  }
}

function lazyBackend(open: () => Promise<Backend>): () => Promise<Backend> {
  let p: Promise<Backend> | undefined;
  return () => (p ??= open());
}

/** Every (model, set) score: from its completion marker when an earlier attempt finished it, else computed now and marked. */
async function scoreModels(
  ctx: StageContext,
  models: EvalModel[],
  sets: EvalSet[],
  o: { window: number; stride: number; batchTokens: number; quiet?: boolean; backend: () => Promise<Backend> },
): Promise<{ scores: Map<string, Map<string, SetScores>>; params: Record<string, number> }> {
  const scores = new Map<string, Map<string, SetScores>>(); // set → model → scores
  for (const s of sets) scores.set(s.name, new Map());
  const params: Record<string, number> = {};
  for (const m of models) {
    const pending = sets.filter((s) => !ctx.isDone(markerOf(m, s)));
    for (const s of sets) if (!pending.includes(s)) scores.get(s.name)!.set(m.label, ctx.doneInfo<{ scores: SetScores }>(markerOf(m, s))!.scores);
    const modelInfo = ctx.doneInfo<{ params: number }>(`model-${m.label}`);
    if (pending.length === 0 && modelInfo) {
      params[m.label] = modelInfo.params;
      continue;
    }
    const lm = loadModelFolder(m.dir, await o.backend());
    params[m.label] = lm.numParams;
    ctx.markDone(`model-${m.label}`, { params: lm.numParams });
    const tokenizer = Tokenizer.load(m.tokenizerPath);
    if (lm.config.vocabSize < tokenizer.vocabSize) throw new UserError(`${m.tokenizerPath}: the tokenizer has ${tokenizer.vocabSize} tokens but model "${m.label}" only ${lm.config.vocabSize}; the model was trained with another tokenizer`);
    try {
      for (const s of pending) {
        const result = await evaluateSet(lm, tokenizer, s, { window: o.window, stride: o.stride, batchTokens: o.batchTokens, quiet: o.quiet, label: `eval ${m.label} ${s.name}` });
        scores.get(s.name)!.set(m.label, result);
        ctx.markDone(markerOf(m, s), { scores: result });
      }
    } finally {
      lm.dispose?.();
    }
  }
  return { scores, params };
}

/**
 * The fraction of oracle gain when models are labelled baseline, sbp and oracle; each given
 * comparison (an experiment's synthetic runs, each against the baseline and oracle of its seed) with
 * SBP − control for its control runs; and the per-group summary when the runs are a sweep's.
 */
function compareModels(
  metrics: ItemMetric[],
  models: EvalModel[],
  comparisons: VariantComparisonSpec[] | undefined,
  bootstrap: BootstrapOptions,
): { comparison: MetricComparison[] | null; sweep: SweepComparison | null } {
  const roles = comparisonRoles(models);
  const comparison = roles ? metrics.map((mt) => compareMetric(mt, roles, bootstrap)) : null;
  if (!comparisons) return { comparison, sweep: null };
  const variants = comparisons.map((c): VariantComparison => {
    const versus = c.controls ? Object.fromEntries(Object.entries(c.controls).map(([arm, run]) => [arm, metrics.map((mt) => compareWithControl(mt, c.roles.sbp, run, bootstrap))])) : undefined;
    return { ...c, metrics: metrics.map((mt) => compareMetric(mt, c.roles, bootstrap)), ...(versus ? { versus } : {}) };
  });
  return { comparison, sweep: { variants, groups: summarizeVariants(variants) } };
}

/**
 * comparison.json: the baseline/sbp/oracle comparison (`roles`, `metrics`) when the models carry
 * those labels; every synthetic run's comparison (`variants`); SBP − each control (`controls`, the
 * headline of a plain experiment); and, in a sweep, the per-variant summary over seeds (`groups`).
 */
function comparisonJson(models: EvalModel[], comparison: MetricComparison[] | null, sweep: SweepComparison | null, bootstrap: BootstrapOptions): unknown {
  const roles = comparisonRoles(models);
  const head = roles
    ? { roles, bootstrap, metrics: comparison }
    : sweep
      ? { roles: null, bootstrap, note: 'a sweep: each SBP run is compared with the baseline and oracle of its seed (variants), and the seeds of a variant are averaged (groups)', metrics: [] }
      : { roles: null, note: `fraction of oracle gain needs models labelled baseline, sbp and oracle; got ${models.map((m) => m.label).join(', ')}`, metrics: [] };
  if (!sweep) return head;
  const main = roles ? sweep.variants.find((v) => v.name === roles.sbp) : undefined;
  const controls = main?.versus ? Object.entries(main.versus).map(([control, metrics]) => ({ control, run: main.controls![control]!, metrics })) : undefined;
  // A plain experiment keeps its one-run layout (no `groups`); a sweep's report reads the groups.
  return { ...head, variants: sweep.variants, ...(controls ? { controls } : {}), ...(roles ? {} : { groups: sweep.groups }) };
}

/** Each run model's held-out loss through training: the `eval` rows of its metrics.jsonl (empty when it has none). */
function learningCurves(models: EvalModel[]): Record<string, LearningCurvePoint[]> {
  const out: Record<string, LearningCurvePoint[]> = {};
  for (const m of models) {
    const path = join(m.dir, 'metrics.jsonl');
    if (!existsSync(path)) continue;
    const points: LearningCurvePoint[] = [];
    for (const line of readFileSync(path, 'utf8').split('\n')) {
      if (!line.startsWith('{')) continue;
      const row = JSON.parse(line) as { kind?: string; step?: number; tokens?: number; heldoutLoss?: number };
      if (row.kind === 'eval' && typeof row.step === 'number' && typeof row.heldoutLoss === 'number') points.push({ step: row.step, tokens: row.tokens ?? 0, loss: row.heldoutLoss });
    }
    out[m.label] = points;
  }
  return out;
}

function markerOf(m: EvalModel, s: EvalSet): string {
  return `${m.label}--${s.name}`;
}

/**
 * `eval.models` entries: `name` (a model of this run, or a folder whose label is its own path) or
 * `label=folder-or-name`. Labels baseline, sbp and oracle get compared.
 */
export function resolveEvalModels(runDir: string, specs: readonly string[]): EvalModel[] {
  if (specs.length === 0) throw new UserError('eval.models: give at least one model');
  const out: EvalModel[] = [];
  for (const spec of specs) {
    const eq = spec.indexOf('=');
    const label = eq > 0 ? spec.slice(0, eq) : spec;
    const ref = eq > 0 ? spec.slice(eq + 1) : spec;
    if (ref === '') throw new UserError(`eval.models: "${spec}" has nothing after "="; write label=folder`);
    if (out.some((m) => m.label === label)) throw new UserError(`eval.models: the label "${label}" appears twice; give each model its own label (label=folder)`);
    const r = resolveModelDir(runDir, ref, `eval.models (${label})`);
    const tokenizerPath = [join(r.dir, 'tokenizer.json'), join(runDir, 'tokenizer', 'tokenizer.json')].find((p) => existsSync(p));
    if (!tokenizerPath) throw new UserError(`eval.models (${label}): ${r.dir} has no tokenizer.json and the run has none (${join(runDir, 'tokenizer')}); copy the tokenizer into the model folder`);
    out.push({ label, dir: r.dir, runModel: r.runModel, inputHash: r.inputHash, tokenizerPath });
  }
  return out;
}

function comparisonRoles(models: EvalModel[]): ComparisonRoles | null {
  const labels = new Set(models.map((m) => m.label));
  return labels.has('baseline') && labels.has('sbp') && labels.has('oracle') ? { baseline: 'baseline', sbp: 'sbp', oracle: 'oracle' } : null;
}

function readMaxSeqLen(dir: string): number {
  const path = join(dir, 'config.json');
  let json: { max_position_embeddings?: unknown };
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new UserError(`${path}: not valid JSON (${(err as Error).message})`);
  }
  const n = json.max_position_embeddings;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 2) throw new UserError(`${path}: max_position_embeddings must be an integer >= 2`);
  return n;
}

function readSynthQuality(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new UserError(`${path}: not valid JSON (${(err as Error).message}); rerun \`sbp synthesize\` to rewrite it`);
  }
}

async function evaluateSet(
  lm: LanguageModel,
  tokenizer: Tokenizer,
  s: EvalSet,
  o: { window: number; stride: number; batchTokens: number; quiet?: boolean; label: string },
): Promise<SetScores> {
  const progress = new Progress({ label: o.label, unit: 'rows', quiet: o.quiet });
  const onProgress = (done: number, total: number) => {
    progress.setTotal(total);
    progress.set(done);
  };
  const encode = (t: string) => tokenizer.encode(t);
  try {
    if (s.kind === 'perplexity') {
      const docs = await documentLosses(lm, textDocuments(s.texts.docs, encode), { window: o.window, stride: o.stride, batchTokens: o.batchTokens, onProgress });
      const sum = summarizePerplexity(docs);
      progress.finish(`ppl ${sum.perplexity.toFixed(2)}`);
      return { kind: 'perplexity', docs };
    }
    const items = await scoreTask(lm, s.task, encode, { window: o.window, batchTokens: o.batchTokens, onProgress });
    progress.finish();
    return { kind: 'task', items };
  } catch (err) {
    progress.finish('failed');
    throw err;
  }
}

/** The metrics of one set, with item-level numerators and denominators per model. */
function setMetrics(s: EvalSet, models: EvalModel[], byModel: Map<string, SetScores>): ItemMetric[] {
  const per = <T>(f: (sc: SetScores) => T) => Object.fromEntries(models.map((m) => [m.label, f(byModel.get(m.label)!)]));
  const ones = (n: number) => new Float64Array(n).fill(1);
  if (s.kind === 'perplexity') {
    const docs = (sc: SetScores) => (sc as Extract<SetScores, { kind: 'perplexity' }>).docs;
    const nats = (sc: SetScores) => Float64Array.from(docs(sc), (d) => d.nats);
    return [
      { name: `${s.name}/ppl`, higherIsBetter: false, transform: 'exp', items: per((sc) => ({ num: nats(sc), den: Float64Array.from(docs(sc), (d) => d.tokens) })) },
      { name: `${s.name}/bpb`, higherIsBetter: false, transform: 'bits', items: per((sc) => ({ num: nats(sc), den: Float64Array.from(docs(sc), (d) => d.bytes) })) },
    ];
  }
  const items = (sc: SetScores) => (sc as Extract<SetScores, { kind: 'task' }>).items;
  const acc: ItemMetric = { name: `${s.name}/acc`, higherIsBetter: true, transform: 'mean', items: per((sc) => ({ num: Float64Array.from(items(sc), (x) => x.correct), den: ones(items(sc).length) })) };
  if (s.kind === 'multiple-choice') {
    return [acc, { name: `${s.name}/acc_norm`, higherIsBetter: true, transform: 'mean', items: per((sc) => ({ num: Float64Array.from(items(sc), (x) => x.correctNorm ?? 0), den: ones(items(sc).length) })) }];
  }
  // cloze: word-level perplexity exp(−mean log p(word | passage)), as LAMBADA reports it
  return [acc, { name: `${s.name}/ppl`, higherIsBetter: false, transform: 'exp', items: per((sc) => ({ num: Float64Array.from(items(sc), (x) => -x.goldLogProb), den: ones(items(sc).length) })) }];
}

function itemsJson(sets: EvalSet[], models: EvalModel[], scores: Map<string, Map<string, SetScores>>): unknown {
  const out: Record<string, unknown> = {};
  for (const s of sets) {
    const byModel = scores.get(s.name)!;
    const first = byModel.get(models[0]!.label)!;
    const ids = first.kind === 'perplexity' ? first.docs.map((d) => d.id) : first.items.map((x) => x.id);
    const perModel: Record<string, unknown> = {};
    for (const m of models) {
      const sc = byModel.get(m.label)!;
      perModel[m.label] =
        sc.kind === 'perplexity'
          ? { nats: sc.docs.map((d) => d.nats), tokens: sc.docs.map((d) => d.tokens), bytes: sc.docs.map((d) => d.bytes) }
          : { correct: sc.items.map((x) => x.correct), correctNorm: sc.items.map((x) => x.correctNorm), goldLogProb: sc.items.map((x) => x.goldLogProb), goldTokens: sc.items.map((x) => x.goldTokens) };
    }
    out[s.name] = { kind: s.kind, ids, models: perModel };
  }
  return { sets: out };
}
