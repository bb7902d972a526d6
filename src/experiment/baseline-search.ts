import { copyFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../common/errors.js';
import { readJsonIfExists, writeJsonAtomic } from '../common/fs-atomic.js';
import { inputHash, readManifest, runStage, stageDir, type StageResult } from '../stage/stage.js';
import type { ArmTrainStats } from './arm-train-stage.js';
import { searchRunName } from './compute-matched-plan.js';

export const SEARCH_STAGE = 'search';
export const SEARCH_FILE = 'search.json';

/** search/search.json: every grid value's validation loss and the choice. */
export interface SearchResult {
  parameter: 'weightDecay';
  grid: Array<{ value: number; run: string; validationLoss: number | null }>;
  chosen: number;
}

/**
 * The baseline search's decision (`search/`): of the search runs `models/search-wd<v>` — the baseline
 * trained with each weight decay and scored on the validation split — the value with the lowest
 * final validation loss. Every run of the experiment then trains with it; the first seed's baseline
 * is the chosen search run itself (`runBaselineCopyStage`).
 */
export async function runSearchStage(opts: { runDir: string; grid: number[]; force?: boolean }): Promise<StageResult<SearchResult>> {
  const runs = opts.grid.map((v) => ({ value: v, run: searchRunName(v) }));
  return runStage<SearchResult>({
    stage: SEARCH_STAGE,
    runDir: opts.runDir,
    config: { formatVersion: 1, grid: opts.grid },
    inputs: Object.fromEntries(runs.map((r) => [r.run, inputHash(opts.runDir, join('models', r.run), 'sbp experiment')])),
    force: opts.force,
    run: async (ctx) => {
      const grid = runs.map((r) => ({ ...r, validationLoss: readManifest<ArmTrainStats>(opts.runDir, join('models', r.run))?.stats.validation?.loss ?? null }));
      const scored = grid.filter((g): g is typeof g & { validationLoss: number } => g.validationLoss !== null && Number.isFinite(g.validationLoss));
      if (scored.length === 0) throw new Error('baseline search: no search run has a validation loss');
      const best = scored.reduce((a, b) => (b.validationLoss < a.validationLoss ? b : a));
      const result: SearchResult = { parameter: 'weightDecay', grid, chosen: best.value };
      writeJsonAtomic(join(ctx.dir, SEARCH_FILE), result);
      return result;
    },
  });
}

/** The chosen weight decay, for the nodes after the search. */
export function readSearchChoice(runDir: string): SearchResult {
  const path = join(stageDir(runDir, SEARCH_STAGE), SEARCH_FILE);
  const r = readJsonIfExists<SearchResult>(path);
  if (!r) throw new UserError(`${path} is missing although the search ran; rerun \`sbp experiment\``);
  return r;
}

export function formatSearch(r: SearchResult): string {
  const cells = r.grid.map((g) => `${g.value}: ${g.validationLoss !== null ? g.validationLoss.toFixed(4) : '—'}`).join(', ');
  return `baseline search: validation loss by weight decay (${cells}); every run trains with weight decay ${r.chosen}${searchEdgeNote(r)}`;
}

/**
 * A choice at the end of the grid means the best value may lie beyond it, and the baseline is then
 * weaker than a careful researcher's: say so, with what to add.
 */
export function searchEdgeNote(r: SearchResult): string {
  const values = r.grid.map((g) => g.value);
  if (values.length < 2) return '';
  const hi = Math.max(...values);
  const lo = Math.min(...values);
  if (r.chosen === hi) return ` — the largest value of the grid: a larger one may be better; add e.g. ${+(hi * 4).toPrecision(3)} to experiment.baselineSearch.weightDecay`;
  if (r.chosen === lo && lo > 0) return ` — the smallest value of the grid: a smaller one may be better; add e.g. ${+(lo / 4).toPrecision(3)} to experiment.baselineSearch.weightDecay`;
  return '';
}

/** Files of a model folder that are the model (not its resumable checkpoint or its stage records). */
const MODEL_FILES = /^(config\.json|generation_config\.json|model\.safetensors|tokenizer\.json|metrics\.jsonl)$/;

/**
 * `models/baseline` when the search ran: the search run of the chosen weight decay trained exactly
 * the baseline (same data, seed, steps and hyper-parameters; evaluations do not change training), so
 * its model is copied instead of trained again. Its manifest's stats say where it came from.
 */
export async function runBaselineCopyStage(opts: { runDir: string; name: string; force?: boolean }): Promise<StageResult<ArmTrainStats>> {
  const chosen = readSearchChoice(opts.runDir).chosen;
  const from = join('models', searchRunName(chosen));
  return runStage<ArmTrainStats>({
    stage: join('models', opts.name),
    runDir: opts.runDir,
    config: { formatVersion: 1, copiedFrom: searchRunName(chosen) },
    inputs: { search: inputHash(opts.runDir, SEARCH_STAGE, 'sbp experiment'), run: inputHash(opts.runDir, from, 'sbp experiment') },
    force: opts.force,
    run: async (ctx) => {
      const src = stageDir(opts.runDir, from);
      for (const f of readdirSync(src)) if (MODEL_FILES.test(f)) copyFileSync(join(src, f), join(ctx.dir, f));
      const stats = readManifest<ArmTrainStats>(opts.runDir, from)!.stats;
      return { ...stats, copiedFrom: searchRunName(chosen) };
    },
  });
}
