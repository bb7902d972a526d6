import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../common/errors.js';
import type { CorpusSplit, Document } from './document.js';
import { readLines } from './line-reader.js';

const SHARD_NAME = /^(train|heldout)-(\d{5,})\.jsonl$/;

/** The shard files of one split of a prepared corpus, in shard order. */
export function listCorpusShards(corpusDir: string, split: CorpusSplit): string[] {
  if (!existsSync(corpusDir)) throw new UserError(`${corpusDir}: no corpus folder; run \`sbp prepare\` first`);
  return readdirSync(corpusDir)
    .map((name) => SHARD_NAME.exec(name))
    .filter((m): m is RegExpExecArray => m !== null && m[1] === split)
    .sort((a, b) => Number(a[2]) - Number(b[2]))
    .map((m) => join(corpusDir, m[0]));
}

/**
 * Streams the documents of one split, shard by shard. Every line is checked: a line that is not
 * valid UTF-8 JSON with a string `id`, string `text` and object `meta` is an error naming file:line.
 */
export async function* readCorpusDocs(corpusDir: string, split: CorpusSplit): AsyncGenerator<Document> {
  for (const path of listCorpusShards(corpusDir, split)) {
    for await (const { line, lineNo } of readLines(path)) {
      yield parseCorpusLine(line, `${path}:${lineNo}`);
    }
  }
}

const fatalDecoder = new TextDecoder('utf-8', { fatal: true });
const HINT = 'the corpus shard is damaged; rerun `sbp prepare --force`';

export function parseCorpusLine(line: Uint8Array, where: string): Document {
  let value: unknown;
  try {
    value = JSON.parse(fatalDecoder.decode(line));
  } catch (err) {
    throw new UserError(`${where}: not a valid UTF-8 JSON line (${(err as Error).message}); ${HINT}`);
  }
  const v = value as Partial<Document> | null;
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new UserError(`${where}: expected a JSON object; ${HINT}`);
  if (typeof v.id !== 'string') throw new UserError(`${where}: "id" must be a string; ${HINT}`);
  if (typeof v.text !== 'string') throw new UserError(`${where}: "text" must be a string; ${HINT}`);
  if (v.meta === null || typeof v.meta !== 'object' || Array.isArray(v.meta)) throw new UserError(`${where}: "meta" must be an object; ${HINT}`);
  return { id: v.id, text: v.text, meta: v.meta as Record<string, unknown> };
}
