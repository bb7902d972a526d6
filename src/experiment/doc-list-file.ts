import { readFileSync } from 'node:fs';
import { UserError } from '../common/errors.js';
import { writeFileAtomic } from '../common/fs-atomic.js';

/**
 * A list of document numbers (e.g. the oracle subset, in hash order):
 *   bytes 0..7   magic "SBPDOCS\0"
 *   bytes 8..11  version (u32 LE) = 1
 *   bytes 12..15 count (u32 LE)
 *   then count × u32 LE document numbers.
 */
export const DOC_LIST_MAGIC = 'SBPDOCS\0';
export const DOC_LIST_VERSION = 1;
const HEADER = 16;

export function writeDocList(path: string, docs: Uint32Array): void {
  const buf = Buffer.alloc(HEADER + 4 * docs.length);
  buf.write(DOC_LIST_MAGIC, 0, 'latin1');
  buf.writeUInt32LE(DOC_LIST_VERSION, 8);
  buf.writeUInt32LE(docs.length, 12);
  for (let i = 0; i < docs.length; i++) buf.writeUInt32LE(docs[i]!, HEADER + 4 * i);
  writeFileAtomic(path, buf);
}

export function readDocList(path: string, hint: string): Uint32Array {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (err) {
    throw new UserError(`${path}: cannot read the document list (${(err as Error).message}); ${hint}`);
  }
  if (buf.length < HEADER || buf.toString('latin1', 0, 8) !== DOC_LIST_MAGIC) throw new UserError(`${path}: not a document list (bad magic); ${hint}`);
  const version = buf.readUInt32LE(8);
  if (version !== DOC_LIST_VERSION) throw new UserError(`${path}: document list version ${version}, this sbp reads ${DOC_LIST_VERSION}; ${hint}`);
  const count = buf.readUInt32LE(12);
  if (buf.length !== HEADER + 4 * count) throw new UserError(`${path}: ${buf.length} bytes, expected ${HEADER + 4 * count} for ${count} documents (truncated?); ${hint}`);
  const out = new Uint32Array(count);
  for (let i = 0; i < count; i++) out[i] = buf.readUInt32LE(HEADER + 4 * i);
  return out;
}
