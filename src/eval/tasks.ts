import { existsSync, readFileSync } from 'node:fs';
import { UserError } from '../common/errors.js';
import type { LanguageModel } from '../model/types.js';
import { scoreSequences, type ScoredSequence } from './token-scorer.js';

/**
 * Multiple-choice and cloze tasks. A task file is JSONL, one item per line:
 *   {"context": "Question: … Answer:", "choices": [" Paris", " Rome"], "gold": 0, "id": "q17"}
 * Each choice is appended to the context exactly as written (put the separating space in the
 * choice). A file whose items all have one choice is a cloze task (LAMBADA style): the item is right
 * when greedy decoding after the context would produce the whole choice. See docs/eval.md.
 */
export interface TaskItem {
  id: string;
  context: string;
  choices: string[];
  gold: number; // index into choices
  where: string; // file:line, for messages
}

export type TaskKind = 'multiple-choice' | 'cloze';

export interface Task {
  name: string;
  kind: TaskKind;
  items: TaskItem[];
}

/** Scores of one item: the unit the bootstrap resamples. */
export interface TaskItemScore {
  id: string;
  correct: number; // 1/0 — multiple choice: argmax Σ log p(choice | context) is gold; cloze: greedy match
  correctNorm: number | null; // 1/0 — argmax of Σ log p / UTF-8 bytes of the choice (multiple choice only)
  goldLogProb: number; // Σ log p(gold choice | context), nats
  goldTokens: number;
}

export interface TaskScoreOptions {
  window: number; // at most this many input tokens per row; longer contexts lose their start
  batchTokens: number;
  onProgress?: (done: number, total: number) => void;
}

const FIELDS_HINT = 'each line must be {"context": string, "choices": [string, …], "gold": integer index, "id"?: string}';

/** Reads and checks a task file; every malformed line is a UserError naming file:line and the fix. */
export function readTaskFile(path: string, name?: string): Task {
  if (!existsSync(path)) throw new UserError(`task file not found: ${path}`);
  const lines = readFileSync(path, 'utf8').split('\n');
  const items: TaskItem[] = [];
  let kind: TaskKind | undefined;
  let kindWhere = '';
  const ids = new Map<string, string>();
  lines.forEach((raw, i) => {
    const line = raw.trim();
    if (line === '') return;
    const where = `${path}:${i + 1}`;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch (err) {
      throw new UserError(`${where}: not valid JSON (${(err as Error).message}); ${FIELDS_HINT}`);
    }
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new UserError(`${where}: expected a JSON object; ${FIELDS_HINT}`);
    const o = v as Record<string, unknown>;
    if (typeof o.context !== 'string') throw new UserError(`${where}: "context" must be a string (got ${describe(o.context)}); ${FIELDS_HINT}`);
    if (!Array.isArray(o.choices)) throw new UserError(`${where}: "choices" must be an array of strings (got ${describe(o.choices)})`);
    if (o.choices.length === 0) throw new UserError(`${where}: "choices" is empty; give at least one choice (one choice = a cloze item)`);
    o.choices.forEach((c, k) => {
      if (typeof c !== 'string') throw new UserError(`${where}: choice ${k} must be a string (got ${describe(c)})`);
      if (c === '') throw new UserError(`${where}: choice ${k} is an empty string; an empty continuation has no likelihood to compare — remove it`);
    });
    if (typeof o.gold !== 'number' || !Number.isInteger(o.gold)) throw new UserError(`${where}: "gold" must be an integer index into "choices" (got ${describe(o.gold)})`);
    if (o.gold < 0 || o.gold >= o.choices.length) throw new UserError(`${where}: "gold" ${o.gold} is out of range: there are ${o.choices.length} choices (indices 0..${o.choices.length - 1})`);
    if (o.id !== undefined && typeof o.id !== 'string') throw new UserError(`${where}: "id" must be a string when given (got ${describe(o.id)})`);
    const id = (o.id as string | undefined) ?? `line${i + 1}`;
    const seen = ids.get(id);
    if (seen) throw new UserError(`${where}: id "${id}" was already used at ${seen}; ids must be unique`);
    ids.set(id, where);
    const itemKind: TaskKind = o.choices.length === 1 ? 'cloze' : 'multiple-choice';
    if (kind === undefined) {
      kind = itemKind;
      kindWhere = where;
    } else if (kind !== itemKind) {
      throw new UserError(`${where}: this item has ${o.choices.length} choice(s) but ${kindWhere} made this a ${kind} task; a file holds either one-choice (cloze) items or multi-choice items, not both`);
    }
    items.push({ id, context: o.context, choices: o.choices as string[], gold: o.gold, where });
  });
  if (kind === undefined) throw new UserError(`${path}: the task file has no items; ${FIELDS_HINT}`);
  return { name: name ?? taskNameOf(path), kind, items };
}

/** The default task name: the file name without its folder and .jsonl. */
export function taskNameOf(path: string): string {
  const base = path.split(/[\\/]/).pop()!;
  return base.replace(/\.jsonl$/i, '');
}

function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  const s = JSON.stringify(v);
  return s.length > 40 ? `${s.slice(0, 37)}...` : s;
}

/**
 * Scores every item: each choice becomes one row [bos, context, choice] (cut from the left to fit the
 * window), all rows of all items batched through the model.
 */
export async function scoreTask(lm: LanguageModel, task: Task, encode: (text: string) => ArrayLike<number>, opts: TaskScoreOptions): Promise<TaskItemScore[]> {
  const W = opts.window;
  const bos = lm.config.bosTokenId;
  const seqs: ScoredSequence[] = [];
  const enc = new TextEncoder();
  const choiceBytes: number[][] = [];
  for (const item of task.items) {
    const ctx = encode(item.context);
    choiceBytes.push(item.choices.map((c) => enc.encode(c).length));
    item.choices.forEach((choice, k) => {
      const cont = encode(choice);
      if (cont.length === 0) throw new UserError(`${item.where}: choice ${k} encodes to no tokens`);
      if (cont.length > W) throw new UserError(`${item.where}: choice ${k} is ${cont.length} tokens, longer than the scoring window (${W}); shorten it or raise eval.window`);
      const full = new Int32Array(1 + ctx.length + cont.length);
      full[0] = bos;
      full.set(ctx as ArrayLike<number>, 1);
      full.set(cont as ArrayLike<number>, 1 + ctx.length);
      // Keep the last W + 1 tokens: W inputs predicting the last W tokens.
      const cut = Math.max(0, full.length - (W + 1));
      const tokens = full.subarray(cut);
      seqs.push({ tokens, scoreStart: tokens.length - cont.length });
    });
  }
  const scores = await scoreSequences(lm, seqs, {
    batchTokens: opts.batchTokens,
    onProgress: opts.onProgress && ((done) => opts.onProgress!(done, seqs.length)),
  });
  const out: TaskItemScore[] = [];
  let at = 0;
  task.items.forEach((item, i) => {
    const s = scores.slice(at, at + item.choices.length);
    at += item.choices.length;
    const gold = s[item.gold]!;
    if (task.kind === 'cloze') {
      out.push({ id: item.id, correct: gold.greedy ? 1 : 0, correctNorm: null, goldLogProb: gold.logProb, goldTokens: gold.tokens });
      return;
    }
    const bytes = choiceBytes[i]!;
    const pick = (score: (k: number) => number) => {
      let best = 0;
      for (let k = 1; k < s.length; k++) if (score(k) > score(best)) best = k; // ties: the earlier choice
      return best;
    };
    const raw = pick((k) => s[k]!.logProb);
    const norm = pick((k) => s[k]!.logProb / bytes[k]!);
    out.push({ id: item.id, correct: raw === item.gold ? 1 : 0, correctNorm: norm === item.gold ? 1 : 0, goldLogProb: gold.logProb, goldTokens: gold.tokens });
  });
  return out;
}
