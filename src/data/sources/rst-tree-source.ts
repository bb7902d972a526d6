import { existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { UserError } from '../../common/errors.js';
import type { Document } from '../document.js';
import { listFiles } from '../list-files.js';
import type { SourceContext } from '../source-context.js';
import { decodeUtf8 } from '../utf8.js';
import { SourceNotInstalledError } from './installed.js';

/** A documentation tree of reStructuredText files shipped by a Debian package. */
export interface RstTreeSpec {
  source: string; // the source kind, used in ids and meta
  root: string;
  suffix: string; // e.g. '.rst.gz' or '.rst.txt'
  debPackage: string;
}

export const LINUX_DOC: RstTreeSpec = {
  source: 'linux-doc',
  root: '/usr/share/doc/linux-doc-6.1/Documentation',
  suffix: '.rst.gz',
  debPackage: 'linux-doc-6.1',
};

export const PYTHON_DOC: RstTreeSpec = {
  source: 'python-doc',
  root: '/usr/share/doc/python3.11/html/_sources',
  suffix: '.rst.txt',
  debPackage: 'python3.11-doc',
};

/**
 * One document per reStructuredText file of the tree (sorted, recursive), gunzipped when the file
 * is gzip. The markup is kept as written: it is the text these manuals are made of.
 */
export async function* rstTreeSource(spec: RstTreeSpec, ctx: SourceContext): AsyncGenerator<Document> {
  if (!existsSync(spec.root) || !statSync(spec.root).isDirectory()) throw new SourceNotInstalledError(spec.source, spec.root, `sudo apt-get install ${spec.debPackage}`);
  const files = listFiles(spec.root, (name) => name.endsWith(spec.suffix));
  if (files.length === 0) throw new SourceNotInstalledError(spec.source, `${spec.root}/**/*${spec.suffix}`, `sudo apt-get install ${spec.debPackage}`);
  for (const rel of files) {
    const path = join(spec.root, rel);
    let bytes: Uint8Array = await readFile(path);
    if (bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b) {
      try {
        bytes = gunzipSync(bytes);
      } catch (err) {
        throw new UserError(`${path}: corrupt gzip (${(err as Error).message}); reinstall it with: sudo apt-get install --reinstall ${spec.debPackage}`);
      }
    }
    const { text, repaired } = decodeUtf8(bytes);
    if (repaired) ctx.counters.invalidUtf8Repaired++;
    yield { id: `${spec.source}:${rel.slice(0, -spec.suffix.length)}`, text, meta: { source: spec.source, path: rel } };
  }
}
