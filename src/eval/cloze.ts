import { sha256Hex } from '../common/hash.js';
import { Rng } from '../sample/rng.js';
import type { Task, TaskItem } from './tasks.js';

export interface ClozeOptions {
  passages: number; // items wanted
  contextWords: number; // the passage holds at most this many words before the target
  minContextWords: number; // and at least this many
  seed: number;
}

export interface ClozeBuild {
  task: Task;
  /** Documents looked at that offered no target word, and documents never looked at. */
  docsWithoutTarget: number;
  docsUnused: number;
}

// A target: a word of 3+ letters, after a single space, ending a sentence (followed by . ! or ?).
const TARGET = /(?<= )[A-Za-z]{3,}(?=[.!?])/g;
const WORD = /\S+/g;

/**
 * A LAMBADA-style cloze task built from held-out documents: each passage ends just before a
 * sentence-final word, and the model must produce that whole word (with its leading space). The
 * sample is deterministic and independent of document order: documents are visited by the hash of
 * (seed, id), and the target inside a document is drawn from an Rng seeded by the same hash, so the
 * same corpus and seed always give the same items, for every model and tokenizer.
 */
export function buildClozeTask(docs: readonly { id: string; text: string }[], opts: ClozeOptions, name = 'cloze'): ClozeBuild {
  const keyed = docs.map((d) => ({ d, key: sha256Hex(`${opts.seed}\u0000${d.id}`) }));
  keyed.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const items: TaskItem[] = [];
  let docsWithoutTarget = 0;
  let used = 0;
  for (const { d, key } of keyed) {
    if (items.length >= opts.passages) break;
    used++;
    const item = clozeItem(d, key, opts);
    if (item) items.push(item);
    else docsWithoutTarget++;
  }
  return { task: { name, kind: 'cloze', items }, docsWithoutTarget, docsUnused: docs.length - used };
}

function clozeItem(doc: { id: string; text: string }, key: string, opts: ClozeOptions): TaskItem | null {
  const wordStarts: number[] = [];
  for (const m of doc.text.matchAll(WORD)) wordStarts.push(m.index);
  const candidates: { at: number; word: string; wordIndex: number }[] = [];
  let w = 0;
  for (const m of doc.text.matchAll(TARGET)) {
    while (w < wordStarts.length && wordStarts[w]! < m.index) w++;
    // w = index of the word starting at the target; w words come before it
    if (w >= opts.minContextWords) candidates.push({ at: m.index, word: m[0], wordIndex: w });
  }
  if (candidates.length === 0) return null;
  const rng = new Rng([opts.seed, parseInt(key.slice(0, 8), 16)]);
  const c = candidates[rng.int(candidates.length)]!;
  const from = wordStarts[Math.max(0, c.wordIndex - opts.contextWords)]!;
  return {
    id: `${doc.id}@${c.at}`,
    context: doc.text.slice(from, c.at - 1), // without the space before the target
    choices: [` ${c.word}`],
    gold: 0,
    where: `${doc.id} (char ${c.at})`,
  };
}
