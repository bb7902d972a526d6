import { closeSync, existsSync, fstatSync, openSync, readSync } from 'node:fs';
import { UserError } from '../common/errors.js';
import { writeFileAtomic } from '../common/fs-atomic.js';
import type { PairList } from './pair-list.js';

/**
 * The pairs file (`pairs/pairs.bin`): directed document pairs (d1 → d2) with their cosine similarity,
 * sorted by d1, then by similarity descending. d1 and d2 are row indices of the embed stage's vectors
 * file, whose id table maps them to document ids; the header carries that file's checksum so a reader
 * can tell it was mined from the vectors it is paired with.
 *
 *   header (48 bytes, little-endian)
 *     0  magic            8 bytes "SBPPAIRS"
 *     8  version          u32 = 1
 *    12  recordBytes      u32 = 12
 *    16  count            u64 pairs
 *    24  documents        u64 rows of the vectors file
 *    32  vectorsChecksum  16 bytes (the vectors file's header checksum; zero when unknown)
 *   records   count × (d1 u32, d2 u32, similarity f32)
 */
export const PAIRS_MAGIC = 'SBPPAIRS';
export const PAIRS_VERSION = 1;
export const PAIRS_HEADER_BYTES = 48;
const RECORD_BYTES = 12;

export interface PairsFile {
  documents: number;
  vectorsChecksum: string; // 32 hex chars
  pairs: PairList;
}

export function encodePairsFile(file: PairsFile): Buffer {
  const { pairs } = file;
  const count = pairs.d1.length;
  if (pairs.d2.length !== count || pairs.sims.length !== count) throw new RangeError('encodePairsFile: d1, d2 and sims differ in length');
  const b = Buffer.alloc(PAIRS_HEADER_BYTES + count * RECORD_BYTES);
  b.write(PAIRS_MAGIC, 0, 'latin1');
  b.writeUInt32LE(PAIRS_VERSION, 8);
  b.writeUInt32LE(RECORD_BYTES, 12);
  b.writeBigUInt64LE(BigInt(count), 16);
  b.writeBigUInt64LE(BigInt(file.documents), 24);
  Buffer.from(file.vectorsChecksum.padEnd(32, '0').slice(0, 32), 'hex').copy(b, 32);
  for (let i = 0, o = PAIRS_HEADER_BYTES; i < count; i++, o += RECORD_BYTES) {
    const d1 = pairs.d1[i]!;
    const d2 = pairs.d2[i]!;
    if (d1 >= file.documents || d2 >= file.documents) throw new RangeError(`encodePairsFile: pair ${i} (${d1} → ${d2}) outside ${file.documents} documents`);
    b.writeUInt32LE(d1, o);
    b.writeUInt32LE(d2, o + 4);
    b.writeFloatLE(pairs.sims[i]!, o + 8);
  }
  return b;
}

export function writePairsFile(path: string, file: PairsFile): void {
  writeFileAtomic(path, encodePairsFile(file));
}

const REDO = 'rerun `sbp pair --force` to rebuild it';

/** Reads and checks a pairs file: magic, version, record size, file size, and rows within range. */
export function readPairsFile(path: string): PairsFile {
  if (!existsSync(path)) throw new UserError(`${path}: no such pairs file; run \`sbp pair\` first`);
  const fd = openSync(path, 'r');
  let b: Buffer;
  try {
    const size = fstatSync(fd).size;
    b = Buffer.alloc(size);
    let off = 0;
    while (off < size) {
      const n = readSync(fd, b, off, size - off, off);
      if (n === 0) break;
      off += n;
    }
  } finally {
    closeSync(fd);
  }
  return decodePairsFile(b, path);
}

export function decodePairsFile(b: Buffer, path: string): PairsFile {
  if (b.length < PAIRS_HEADER_BYTES) throw new UserError(`${path}: ${b.length} bytes is too small for a pairs file (the header alone is ${PAIRS_HEADER_BYTES}); ${REDO}`);
  const magic = b.subarray(0, 8).toString('latin1');
  if (magic !== PAIRS_MAGIC) throw new UserError(`${path}: not an sbp pairs file (magic ${JSON.stringify(magic)}, expected ${JSON.stringify(PAIRS_MAGIC)})`);
  const version = b.readUInt32LE(8);
  if (version !== PAIRS_VERSION) throw new UserError(`${path}: pairs format version ${version}; this sbp reads version ${PAIRS_VERSION}. Use the sbp that wrote it, or ${REDO}`);
  const recordBytes = b.readUInt32LE(12);
  if (recordBytes !== RECORD_BYTES) throw new UserError(`${path}: record size ${recordBytes} in the header, expected ${RECORD_BYTES}; the file is corrupt, ${REDO}`);
  const count = Number(b.readBigUInt64LE(16));
  const documents = Number(b.readBigUInt64LE(24));
  const want = PAIRS_HEADER_BYTES + count * RECORD_BYTES;
  if (b.length !== want) {
    throw new UserError(`${path}: ${b.length} bytes, but ${count} pairs need ${want}; the file is ${b.length < want ? 'truncated' : 'corrupt (trailing bytes)'}, ${REDO}`);
  }
  const pairs: PairList = { d1: new Uint32Array(count), d2: new Uint32Array(count), sims: new Float32Array(count) };
  for (let i = 0, o = PAIRS_HEADER_BYTES; i < count; i++, o += RECORD_BYTES) {
    const d1 = b.readUInt32LE(o);
    const d2 = b.readUInt32LE(o + 4);
    if (d1 >= documents || d2 >= documents) throw new UserError(`${path}: pair ${i} (${d1} → ${d2}) points outside the ${documents} documents; the file is corrupt, ${REDO}`);
    pairs.d1[i] = d1;
    pairs.d2[i] = d2;
    pairs.sims[i] = b.readFloatLE(o + 8);
  }
  return { documents, vectorsChecksum: b.subarray(32, 48).toString('hex'), pairs };
}
