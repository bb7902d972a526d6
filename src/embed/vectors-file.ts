import { closeSync, fstatSync, fsyncSync, openSync, readSync, renameSync, writeSync, ftruncateSync, existsSync, mkdirSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { dirname } from 'node:path';
import { UserError } from '../common/errors.js';
import { decodeFloat16, encodeFloat16 } from './f16.js';

/**
 * The vectors file: one row per document, in corpus order, with the document ids at the end.
 *
 *   header (64 bytes, little-endian)
 *     0  magic    8 bytes "SBPVECS\0"
 *     8  version  u32 = 1
 *    12  dtype    u32: 1 = f32, 2 = f16
 *    16  dim      u32
 *    20  flags    u32: bit 0 = complete (every row written and the checksum set)
 *    24  count    u64 (rows = documents)
 *    32  idBytes  u64 (size of the id table)
 *    40  checksum 16 bytes: SHA-256 prefix of rows + id table (zero until complete)
 *    56  reserved 8 bytes, zero
 *   rows      count × dim × (4 | 2) bytes; row i is the vector of ids[i]
 *   id table  count × (u32 byte length, UTF-8 bytes)
 *
 * A writer creates the file with its final size (rows zero) and the id table up front, so shards can
 * fill their rows at known offsets in any order and a killed run resumes; `finish` sets the checksum
 * and the complete flag. Readers refuse files that are incomplete, truncated or corrupt.
 */
export type VectorDType = 'f32' | 'f16';

export const VECTORS_MAGIC = 'SBPVECS\0';
export const VECTORS_VERSION = 1;
export const VECTORS_HEADER_BYTES = 64;
const FLAG_COMPLETE = 1;
const DTYPE_CODES: Record<VectorDType, number> = { f32: 1, f16: 2 };

export function bytesPerValue(dtype: VectorDType): number {
  return dtype === 'f32' ? 4 : 2;
}

export interface VectorsHeader {
  version: number;
  dtype: VectorDType;
  dim: number;
  count: number;
  idBytes: number;
  complete: boolean;
  checksum: string; // hex, 32 chars
}

function encodeHeader(h: Omit<VectorsHeader, 'version'>): Buffer {
  const b = Buffer.alloc(VECTORS_HEADER_BYTES);
  b.write(VECTORS_MAGIC, 0, 'latin1');
  b.writeUInt32LE(VECTORS_VERSION, 8);
  b.writeUInt32LE(DTYPE_CODES[h.dtype], 12);
  b.writeUInt32LE(h.dim, 16);
  b.writeUInt32LE(h.complete ? FLAG_COMPLETE : 0, 20);
  b.writeBigUInt64LE(BigInt(h.count), 24);
  b.writeBigUInt64LE(BigInt(h.idBytes), 32);
  Buffer.from(h.checksum.padEnd(32, '0'), 'hex').copy(b, 40);
  return b;
}

function encodeIdTable(ids: readonly string[]): Buffer {
  const parts: Buffer[] = [];
  for (const id of ids) {
    const bytes = Buffer.from(id, 'utf8');
    const len = Buffer.alloc(4);
    len.writeUInt32LE(bytes.length);
    parts.push(len, bytes);
  }
  return Buffer.concat(parts);
}

function readExactly(fd: number, length: number, position: number): Buffer {
  const buf = Buffer.alloc(length);
  let off = 0;
  while (off < length) {
    const n = readSync(fd, buf, off, length - off, position + off);
    if (n === 0) break;
    off += n;
  }
  return off === length ? buf : buf.subarray(0, off);
}

function writeAll(fd: number, data: Uint8Array, position: number): void {
  let off = 0;
  while (off < data.length) off += writeSync(fd, data, off, data.length - off, position + off);
}

const REDO = 'rerun `sbp embed --force` to rebuild it';

function parseHeader(path: string, b: Buffer, fileBytes: number): VectorsHeader {
  if (b.length < VECTORS_HEADER_BYTES) {
    throw new UserError(`${path}: ${fileBytes} bytes is too small for a vectors file (the header alone is ${VECTORS_HEADER_BYTES}); ${REDO}`);
  }
  const magic = b.subarray(0, 8).toString('latin1');
  if (magic !== VECTORS_MAGIC) {
    throw new UserError(`${path}: not an sbp vectors file (magic ${JSON.stringify(magic)}, expected ${JSON.stringify(VECTORS_MAGIC)})`);
  }
  const version = b.readUInt32LE(8);
  if (version !== VECTORS_VERSION) {
    throw new UserError(`${path}: vectors format version ${version}; this sbp reads version ${VECTORS_VERSION}. Use the sbp that wrote it, or ${REDO}`);
  }
  const code = b.readUInt32LE(12);
  const dtype = (Object.keys(DTYPE_CODES) as VectorDType[]).find((k) => DTYPE_CODES[k] === code);
  if (!dtype) throw new UserError(`${path}: unknown dtype code ${code} in the header (1 = f32, 2 = f16); the file is corrupt, ${REDO}`);
  const dim = b.readUInt32LE(16);
  if (dim === 0) throw new UserError(`${path}: dim is 0 in the header; the file is corrupt, ${REDO}`);
  const flags = b.readUInt32LE(20);
  const count = b.readBigUInt64LE(24);
  const idBytes = b.readBigUInt64LE(32);
  if (count > BigInt(Number.MAX_SAFE_INTEGER) || idBytes > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new UserError(`${path}: impossible count or id-table size in the header; the file is corrupt, ${REDO}`);
  }
  return {
    version,
    dtype,
    dim,
    count: Number(count),
    idBytes: Number(idBytes),
    complete: (flags & FLAG_COMPLETE) !== 0,
    checksum: b.subarray(40, 56).toString('hex'),
  };
}

function expectedBytes(h: Pick<VectorsHeader, 'dtype' | 'dim' | 'count' | 'idBytes'>): number {
  return VECTORS_HEADER_BYTES + h.count * h.dim * bytesPerValue(h.dtype) + h.idBytes;
}

/** Streams the rows + id table through SHA-256 (the checksum covers everything after the header). */
function checksumOf(fd: number, from: number, to: number): string {
  const hash = createHash('sha256');
  const chunk = Buffer.alloc(1 << 22);
  for (let pos = from; pos < to; ) {
    const n = readSync(fd, chunk, 0, Math.min(chunk.length, to - pos), pos);
    if (n === 0) break;
    hash.update(chunk.subarray(0, n));
    pos += n;
  }
  return hash.digest('hex').slice(0, 32);
}

export interface CreateVectorsOptions {
  dtype: VectorDType;
  dim: number;
  ids: readonly string[];
}

/**
 * Writes rows into a vectors file at their row index. Create a new file with `create`, or reopen an
 * unfinished one (same dtype, dim and ids) with `resume`.
 */
export class VectorsWriter {
  private constructor(
    readonly path: string,
    private fd: number,
    readonly dtype: VectorDType,
    readonly dim: number,
    readonly count: number,
    private readonly idBytes: number,
  ) {}

  static create(path: string, opts: CreateVectorsOptions): VectorsWriter {
    if (!Number.isInteger(opts.dim) || opts.dim <= 0 || opts.dim > 0xffffffff) throw new RangeError(`VectorsWriter: dim must be a positive integer, got ${opts.dim}`);
    mkdirSync(dirname(path), { recursive: true });
    const idTable = encodeIdTable(opts.ids);
    const rowBytes = opts.ids.length * opts.dim * bytesPerValue(opts.dtype);
    // Built under a temporary name and renamed, so a file at `path` always has a valid header.
    const tmp = `${path}.tmp-${process.pid}`;
    const fd = openSync(tmp, 'w+');
    try {
      writeAll(fd, encodeHeader({ dtype: opts.dtype, dim: opts.dim, count: opts.ids.length, idBytes: idTable.length, complete: false, checksum: '' }), 0);
      ftruncateSync(fd, VECTORS_HEADER_BYTES + rowBytes); // rows read as zero until written (sparse)
      writeAll(fd, idTable, VECTORS_HEADER_BYTES + rowBytes);
      fsyncSync(fd);
    } catch (err) {
      closeSync(fd);
      throw err;
    }
    renameSync(tmp, path);
    return new VectorsWriter(path, fd, opts.dtype, opts.dim, opts.ids.length, idTable.length);
  }

  /** Reopens an unfinished file; throws when it does not hold exactly this dtype, dim and id list. */
  static resume(path: string, opts: CreateVectorsOptions): VectorsWriter {
    const info = inspectVectorsFile(path);
    const h = info.header;
    // Only the embedder can differ here (an HTTP server now serving another model): the stage
    // contract already clears the folder when the corpus or the config changed.
    if (h.dtype !== opts.dtype || h.dim !== opts.dim || h.count !== opts.ids.length) {
      throw new UserError(`${path}: the unfinished file holds ${h.count} × ${h.dim} ${h.dtype}, but this run makes ${opts.ids.length} × ${opts.dim} ${opts.dtype}; did the embedding model change? ${REDO}`);
    }
    const ids = info.ids;
    for (let i = 0; i < ids.length; i++) {
      if (ids[i] !== opts.ids[i]) throw new UserError(`${path}: id ${i} is ${JSON.stringify(ids[i])} but the corpus now has ${JSON.stringify(opts.ids[i])}; ${REDO}`);
    }
    const fd = openSync(path, 'r+');
    return new VectorsWriter(path, fd, h.dtype, h.dim, h.count, h.idBytes);
  }

  /** Writes `rows` (n, dim) f32 starting at row `start`. Call `sync` before recording the rows as done. */
  writeRows(start: number, rows: Float32Array): void {
    if (rows.length % this.dim !== 0) throw new RangeError(`writeRows: ${rows.length} values is not a multiple of dim ${this.dim}`);
    const n = rows.length / this.dim;
    if (!Number.isInteger(start) || start < 0 || start + n > this.count) throw new RangeError(`writeRows: rows [${start}, ${start + n}) outside [0, ${this.count})`);
    const data = this.dtype === 'f32' ? rows : encodeFloat16(rows);
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    writeAll(this.fd, bytes, VECTORS_HEADER_BYTES + start * this.dim * bytesPerValue(this.dtype));
  }

  sync(): void {
    fsyncSync(this.fd);
  }

  /** Sets the checksum and the complete flag, and closes the file. */
  finish(): void {
    const rowsEnd = VECTORS_HEADER_BYTES + this.count * this.dim * bytesPerValue(this.dtype);
    fsyncSync(this.fd);
    const checksum = checksumOf(this.fd, VECTORS_HEADER_BYTES, rowsEnd + this.idBytes);
    writeAll(this.fd, encodeHeader({ dtype: this.dtype, dim: this.dim, count: this.count, idBytes: this.idBytes, complete: true, checksum }), 0);
    fsyncSync(this.fd);
    this.close();
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}

interface InspectedFile {
  header: VectorsHeader;
  ids: string[];
}

/** Reads and checks the header, the file size and the id table (not the checksum, not the flag). */
function inspectVectorsFile(path: string): InspectedFile {
  if (!existsSync(path)) throw new UserError(`${path}: no such vectors file; run \`sbp embed\` first`);
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const header = parseHeader(path, readExactly(fd, VECTORS_HEADER_BYTES, 0), size);
    const want = expectedBytes(header);
    if (size !== want) {
      throw new UserError(
        `${path}: ${size} bytes, but the header (${header.count} rows × ${header.dim} ${header.dtype} + ${header.idBytes} bytes of ids) needs ${want}; the file is ${size < want ? 'truncated' : 'corrupt (trailing bytes)'}, ${REDO}`,
      );
    }
    const idStart = want - header.idBytes;
    const table = readExactly(fd, header.idBytes, idStart);
    const ids: string[] = new Array(header.count);
    let off = 0;
    for (let i = 0; i < header.count; i++) {
      if (off + 4 > table.length) throw new UserError(`${path}: the id table ends at id ${i} of ${header.count}; the file is corrupt, ${REDO}`);
      const len = table.readUInt32LE(off);
      off += 4;
      if (off + len > table.length) throw new UserError(`${path}: id ${i} (${len} bytes) runs past the end of the id table; the file is corrupt, ${REDO}`);
      ids[i] = table.toString('utf8', off, off + len);
      off += len;
    }
    if (off !== table.length) throw new UserError(`${path}: ${table.length - off} unused bytes after the last id; the file is corrupt, ${REDO}`);
    return { header, ids };
  } finally {
    closeSync(fd);
  }
}

export interface OpenVectorsOptions {
  /** Recompute the checksum (reads the whole file once). Default true. */
  verify?: boolean;
}

/** A finished vectors file opened for reading: header, ids, and rows on demand as f32. */
export class VectorsReader {
  private constructor(
    readonly path: string,
    private fd: number,
    readonly header: VectorsHeader,
    readonly ids: readonly string[],
  ) {}

  get dim(): number {
    return this.header.dim;
  }

  get count(): number {
    return this.header.count;
  }

  get dtype(): VectorDType {
    return this.header.dtype;
  }

  static open(path: string, opts: OpenVectorsOptions = {}): VectorsReader {
    const { header, ids } = inspectVectorsFile(path);
    if (!header.complete) {
      throw new UserError(`${path}: written by an \`sbp embed\` that did not finish; run \`sbp embed\` again to complete it`);
    }
    const fd = openSync(path, 'r');
    if (opts.verify ?? true) {
      const sum = checksumOf(fd, VECTORS_HEADER_BYTES, expectedBytes(header));
      if (sum !== header.checksum) {
        closeSync(fd);
        throw new UserError(`${path}: checksum mismatch (header ${header.checksum}, content ${sum}): the rows or ids were changed or damaged; ${REDO}`);
      }
    }
    return new VectorsReader(path, fd, header, ids);
  }

  /** Rows [start, start + n) as one (n, dim) f32 array. */
  readRows(start: number, n: number): Float32Array {
    if (!Number.isInteger(start) || !Number.isInteger(n) || start < 0 || n < 0 || start + n > this.count) {
      throw new RangeError(`readRows: rows [${start}, ${start + n}) outside [0, ${this.count})`);
    }
    const bpv = bytesPerValue(this.dtype);
    const bytes = readExactly(this.fd, n * this.dim * bpv, VECTORS_HEADER_BYTES + start * this.dim * bpv);
    // Copy into a fresh, aligned buffer: a Buffer from the pool may start at an odd offset.
    const aligned = new Uint8Array(bytes.length);
    aligned.set(bytes);
    if (this.dtype === 'f32') return new Float32Array(aligned.buffer);
    return decodeFloat16(new Uint16Array(aligned.buffer));
  }

  readAll(): Float32Array {
    return this.readRows(0, this.count);
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}

/** Writes a complete vectors file in one call (tests, small outputs, tools). rows: (ids.length, dim). */
export function writeVectorsFile(path: string, opts: CreateVectorsOptions & { rows: Float32Array }): void {
  if (opts.rows.length !== opts.ids.length * opts.dim) {
    throw new RangeError(`writeVectorsFile: ${opts.rows.length} values for ${opts.ids.length} ids × dim ${opts.dim}`);
  }
  const w = VectorsWriter.create(path, opts);
  try {
    if (opts.ids.length > 0) w.writeRows(0, opts.rows);
    w.finish();
  } finally {
    w.close();
  }
}

/** Opens, reads everything and closes: { ids, dim, dtype, rows (count, dim) f32 }. */
export function readVectorsFile(path: string, opts: OpenVectorsOptions = {}): { ids: string[]; dim: number; dtype: VectorDType; rows: Float32Array } {
  const r = VectorsReader.open(path, opts);
  try {
    return { ids: [...r.ids], dim: r.dim, dtype: r.dtype, rows: r.readAll() };
  } finally {
    r.close();
  }
}
