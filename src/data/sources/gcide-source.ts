import { createReadStream, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createGunzip } from 'node:zlib';
import { UserError } from '../../common/errors.js';
import type { Document } from '../document.js';
import type { SourceContext } from '../source-context.js';
import { decodeUtf8 } from '../utf8.js';
import { requireDebianFile } from './installed.js';

export const GCIDE_DEFAULT_DIR = '/usr/share/dictd';

/** One dictionary entry: a byte range of the uncompressed .dict and the headwords that point to it. */
interface GcideEntry {
  offset: number; // bytes into the uncompressed dictionary
  length: number; // bytes
  headword: string; // the first headword of the index that points here
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** dictd's index numbers: base64 digits, most significant first ("Bdh" = 1*4096 + 29*64 + 33). */
export function decodeDictdNumber(s: string): number {
  let n = 0;
  for (const ch of s) {
    const d = B64.indexOf(ch);
    if (d < 0) throw new Error(`not a dictd base64 number: ${JSON.stringify(s)}`);
    n = n * 64 + d;
  }
  return n;
}

/** Unique entries of a dictd index, in dictionary (byte offset) order. */
export function readDictdIndex(indexPath: string, ctx: SourceContext): GcideEntry[] {
  const byOffset = new Map<string, GcideEntry>();
  const lines = readFileSync(indexPath, 'utf8').split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line === '') continue;
    const parts = line.split('\t');
    if (parts.length < 3) throw new UserError(`${indexPath}:${i + 1}: expected "headword<TAB>offset<TAB>length"; reinstall the dictionary (sudo apt-get install --reinstall dict-gcide)`);
    const [headword, off, len] = parts as [string, string, string];
    // 00-database-* entries describe the dictionary file itself (URL, licence), not words.
    if (headword.startsWith('00-')) {
      ctx.counters.skippedFiles['dictionary-info'] = (ctx.counters.skippedFiles['dictionary-info'] ?? 0) + 1;
      continue;
    }
    const entry = { offset: decodeDictdNumber(off), length: decodeDictdNumber(len), headword };
    const key = `${entry.offset}:${entry.length}`;
    if (!byOffset.has(key)) byOffset.set(key, entry);
  }
  return [...byOffset.values()].sort((a, b) => a.offset - b.offset || a.length - b.length);
}

/**
 * GCIDE, the Collaborative International Dictionary of English (Debian `dict-gcide`): ~200k
 * dictionary entries, one document each. The .dict.dz is dictzip, which is plain gzip to a
 * sequential reader: entries are read in byte order from one streaming decompression, keeping in
 * memory only the bytes between the current entry and the decompressor's position.
 */
export async function* gcideSource(opts: { path?: string }, ctx: SourceContext): AsyncGenerator<Document> {
  const dir = opts.path ?? GCIDE_DEFAULT_DIR;
  const indexPath = join(dir, 'gcide.index');
  const dictPath = join(dir, 'gcide.dict.dz');
  requireDebianFile('gcide', indexPath, 'dict-gcide');
  requireDebianFile('gcide', dictPath, 'dict-gcide');
  const entries = readDictdIndex(indexPath, ctx);

  const stream = createReadStream(dictPath, { highWaterMark: 1 << 20 }).pipe(createGunzip());
  let buf: Buffer = Buffer.alloc(0); // uncompressed bytes [bufStart, bufStart + buf.length)
  let bufStart = 0;
  let next = 0; // index into entries
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      const bufEnd = bufStart + buf.length;
      while (next < entries.length && entries[next]!.offset + entries[next]!.length <= bufEnd) {
        const e = entries[next++]!;
        const { text, repaired } = decodeUtf8(buf.subarray(e.offset - bufStart, e.offset - bufStart + e.length));
        if (repaired) ctx.counters.invalidUtf8Repaired++;
        yield { id: `gcide:${e.headword}:${e.offset}`, text, meta: { source: 'gcide', headword: e.headword } };
      }
      // Drop the bytes no remaining entry needs.
      const keepFrom = next < entries.length ? Math.min(entries[next]!.offset, bufEnd) : bufEnd;
      if (keepFrom > bufStart) {
        buf = buf.subarray(keepFrom - bufStart);
        bufStart = keepFrom;
      }
    }
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'Z_DATA_ERROR' || code === 'Z_BUF_ERROR') {
      throw new UserError(`${dictPath}: corrupt dictzip data (${(err as Error).message}); reinstall it with: sudo apt-get install --reinstall dict-gcide`);
    }
    throw err;
  } finally {
    stream.destroy();
  }
  if (next < entries.length) {
    throw new UserError(`${indexPath}: ${entries.length - next} entries point past the end of ${dictPath}; the two files do not match — reinstall with: sudo apt-get install --reinstall dict-gcide`);
  }
}
