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
export function textDirFiles(opts: TextDirSourceOptions): string[] {
  if (!existsSync(opts.path) || !statSync(opts.path).isDirectory()) {
    throw new UserError(`${opts.path}: no such folder (text-dir source)`);
  }
  const exts = opts.extensions.map((e) => (e.startsWith('.') ? e : `.${e}`));
  return listFiles(opts.path, (name) => exts.some((e) => name.endsWith(e) || name.endsWith(`${e}.gz`)));
}

/** Streams one document per file of a folder (recursively, sorted); the id is the relative path. */
export async function* textDirSource(opts: TextDirSourceOptions, ctx: SourceContext): AsyncGenerator<Document> {
  for (const rel of textDirFiles(opts)) {
    const path = join(opts.path, rel);
    let bytes: Uint8Array = await readFile(path);
    if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
      try {
        bytes = gunzipSync(bytes);
      } catch (err) {
        throw new UserError(`${path}: corrupt gzip (${(err as Error).message}); re-create the file or remove it from the folder`);
      }
    }
    const { text, repaired } = decodeUtf8(bytes);
    if (repaired) ctx.counters.invalidUtf8Repaired++;
    yield { id: rel, text, meta: { source: 'text-dir', path: rel } };
  }
}
