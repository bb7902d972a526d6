import { existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { UserError } from '../../common/errors.js';
import type { Document } from '../document.js';
import { listFiles } from '../list-files.js';
import type { SourceContext } from '../source-context.js';
import { decodeUtf8 } from '../utf8.js';

export interface TextDirSourceOptions {
  path: string;
  /** File name endings to read, e.g. ['.txt', '.md']; a `.gz` after them is also accepted. */
  extensions: string[];
}

/** The files a text-dir source reads (relative to its folder). */
export function textDirFiles(opts: TextDirSourceOptions, onSkip?: (rel: string, reason: 'dangling-symlink' | 'symlink') => void): string[] {
  if (!existsSync(opts.path)) throw new UserError(`${opts.path}: no such folder (text-dir source)`);
  if (!statSync(opts.path).isDirectory()) {
    throw new UserError(`${opts.path}: is a file, not a folder (text-dir source reads every matching file of a folder); give its folder, or use jsonl:${opts.path} for a JSON Lines file`);
  }
  const exts = opts.extensions.map((e) => (e.startsWith('.') ? e : `.${e}`));
  return listFiles(opts.path, (name) => exts.some((e) => name.endsWith(e) || name.endsWith(`${e}.gz`)), onSkip);
}

/**
 * True when the bytes are clearly not text: a NUL in the first 8 KiB, or more than 30% of its bytes
 * control characters other than tab, newline, carriage return and form feed (UTF-8 bytes >= 0x80
 * count as text). The same rule as git's and grep's binary detection, slightly more tolerant.
 */
export function looksBinary(bytes: Uint8Array): boolean {
  const n = Math.min(bytes.length, 8192);
  let control = 0;
  for (let i = 0; i < n; i++) {
    const b = bytes[i]!;
    if (b === 0) return true;
    if ((b < 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d && b !== 0x0c) || b === 0x7f) control++;
  }
  return n > 0 && control / n > 0.3;
}

/** Streams one document per file of a folder (recursively, sorted); the id is the relative path. */
export async function* textDirSource(opts: TextDirSourceOptions, ctx: SourceContext): AsyncGenerator<Document> {
  const skip = (rel: string, reason: string): void => {
    ctx.counters.skippedFiles[reason] = (ctx.counters.skippedFiles[reason] ?? 0) + 1;
    if (ctx.counters.skippedFiles[reason] <= 3) ctx.warn(`${join(opts.path, rel)}: skipped (${reason.replace('-', ' ')}); counted in stats.json (sources[].skippedFiles)`);
  };
  for (const rel of textDirFiles(opts, skip)) {
    const path = join(opts.path, rel);
    let bytes: Uint8Array = await readFile(path);
    if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
      try {
        bytes = gunzipSync(bytes);
      } catch (err) {
        throw new UserError(`${path}: corrupt gzip (${(err as Error).message}); re-create the file or remove it from the folder`);
      }
    }
    if (looksBinary(bytes)) {
      skip(rel, 'binary');
      continue;
    }
    const { text, repaired } = decodeUtf8(bytes);
    if (repaired) ctx.counters.invalidUtf8Repaired++;
    yield { id: rel, text, meta: { source: 'text-dir', path: rel } };
  }
}
