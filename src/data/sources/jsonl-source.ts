import { existsSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { UserError } from '../../common/errors.js';
import type { Document } from '../document.js';
import { readLines } from '../line-reader.js';
import { listFiles } from '../list-files.js';
import { reportMalformed } from '../malformed.js';
import type { SourceContext } from '../source-context.js';
import { decodeUtf8 } from '../utf8.js';

export interface JsonlSourceOptions {
  /** A .jsonl / .jsonl.gz file, or a folder of them (read in sorted order). */
  path: string;
  textField: string;
  /** Field holding the document id; by default `<file name>:<line>`. */
  idField?: string;
}

const JSONL_NAME = /\.(jsonl|ndjson)(\.gz)?$/;

/** The files a JSONL source reads; a UserError when the path is missing or holds no JSONL files. */
export function jsonlFiles(path: string): string[] {
  if (!existsSync(path)) throw new UserError(`${path}: no such file or folder (jsonl source)`);
  if (!statSync(path).isDirectory()) return [path];
  const files = listFiles(path, (name) => JSONL_NAME.test(name)).map((f) => join(path, f));
  if (files.length === 0) throw new UserError(`${path}: the folder holds no .jsonl, .jsonl.gz, .ndjson or .ndjson.gz files (jsonl source)`);
  return files;
}

/**
 * Streams documents from JSON Lines, one object per line, gzip or not (detected from the bytes).
 * Extra fields of the object are kept in `meta`. Blank lines are ignored; a line that is not a JSON
 * object with a string text field is malformed (skipped and counted, or fatal, per `onMalformed`).
 */
export async function* jsonlSource(opts: JsonlSourceOptions, ctx: SourceContext): AsyncGenerator<Document> {
  // Ids from idField, to count repeats (memory: one string per document, only when idField is set).
  const seenIds = new Set<string>();
  for (const file of jsonlFiles(opts.path)) {
    const name = basename(file);
    for await (const { line, lineNo } of readLines(file)) {
      const decoded = decodeUtf8(line);
      // A byte-order mark opens some files written on Windows; it is not part of the first record.
      const lineText = lineNo === 1 && decoded.text.startsWith('\ufeff') ? decoded.text.slice(1) : decoded.text;
      const repaired = decoded.repaired;
      if (lineText.trim() === '') continue;
      const where = `${file}:${lineNo}`;
      let record: unknown;
      try {
        record = JSON.parse(lineText);
      } catch (err) {
        reportMalformed(ctx, where, `not valid JSON (${(err as Error).message})`);
        continue;
      }
      if (record === null || typeof record !== 'object' || Array.isArray(record)) {
        reportMalformed(ctx, where, `expected a JSON object, got ${Array.isArray(record) ? 'an array' : JSON.stringify(record)?.slice(0, 40)}`);
        continue;
      }
      const obj = record as Record<string, unknown>;
      const text = obj[opts.textField];
      if (typeof text !== 'string') {
        const fields = Object.keys(obj).slice(0, 8).join(', ');
        if (opts.textField in obj) {
          reportMalformed(ctx, where, `field "${opts.textField}" is ${describeJsonType(text)}, not a string; fix the record, or choose another field with --text-field (fields: ${fields})`);
        } else {
          reportMalformed(ctx, where, `no string field "${opts.textField}" (fields: ${fields || 'none'}); set the text field with --text-field`);
        }
        continue;
      }
      let id = `${name}:${lineNo}`;
      if (opts.idField !== undefined) {
        const v = obj[opts.idField];
        if (typeof v !== 'string' && typeof v !== 'number') {
          reportMalformed(ctx, where, `no string or number field "${opts.idField}" for the document id`);
          continue;
        }
        id = String(v);
        if (seenIds.has(id)) {
          ctx.counters.duplicateIds++;
          if (ctx.counters.duplicateIds <= 3) ctx.warn(`${where}: document id "${id.slice(0, 60)}" (field "${opts.idField}") was already used; both documents are kept, ids that repeat are counted in stats.json (sources[].duplicateIds)`);
        } else seenIds.add(id);
      }
      const meta: Record<string, unknown> = { source: 'jsonl', file: name, line: lineNo };
      for (const [k, v] of Object.entries(obj)) {
        if (k !== opts.textField && k !== opts.idField && !(k in meta)) meta[k] = v;
      }
      if (repaired) ctx.counters.invalidUtf8Repaired++;
      yield { id, text, meta };
    }
  }
}

function describeJsonType(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  return `a ${typeof v} (${JSON.stringify(v).slice(0, 20)})`;
}
