import { closeSync, fstatSync, openSync, readSync, renameSync, rmSync, writeSync } from 'node:fs';
import { UserError } from '../common/errors.js';
import type { Batch } from '../model/types.js';

/**
 * A file of training batches exactly as a BatchSource produced them, for a trainer outside sbp
 * (docs/formats.md, "batch file"). A 64-byte little-endian header, then the batches back to back,
 * each one (B, T) token ids, (B, T) target ids and, when the file has masks, a (B, T) u8 loss mask:
 *   0  magic "SBPBATCH"        8 bytes
 *   8  version u32 = 1
 *   12 tokenBytes u32          2 (u16 ids) or 4 (i32 ids)
 *   16 flags u32               bit 0: batches carry a loss mask
 *   20 B u32                   rows per batch
 *   24 T u32                   tokens per row
 *   28 reserved u32 = 0
 *   32 numBatches f64
 *   40 vocabSize f64           every id is below it
 *   48 reserved (16 bytes of zeros)
 * Batch i starts at 64 + i · (B·T·(2·tokenBytes + hasMask)).
 */
export const BATCH_FILE_MAGIC = 'SBPBATCH';
export const BATCH_FILE_VERSION = 1;
export const BATCH_FILE_HEADER_BYTES = 64;

export interface BatchFileHeader {
  version: number;
  tokenBytes: 2 | 4;
  hasMask: boolean;
  B: number;
  T: number;
  numBatches: number;
  vocabSize: number;
}

export function batchBytes(h: Pick<BatchFileHeader, 'tokenBytes' | 'hasMask' | 'B' | 'T'>): number {
  return h.B * h.T * (2 * h.tokenBytes + (h.hasMask ? 1 : 0));
}

function encodeHeader(h: BatchFileHeader): Uint8Array {
  const buf = new Uint8Array(BATCH_FILE_HEADER_BYTES);
  const dv = new DataView(buf.buffer);
  for (let i = 0; i < BATCH_FILE_MAGIC.length; i++) buf[i] = BATCH_FILE_MAGIC.charCodeAt(i);
  dv.setUint32(8, h.version, true);
  dv.setUint32(12, h.tokenBytes, true);
  dv.setUint32(16, h.hasMask ? 1 : 0, true);
  dv.setUint32(20, h.B, true);
  dv.setUint32(24, h.T, true);
  dv.setFloat64(32, h.numBatches, true);
  dv.setFloat64(40, h.vocabSize, true);
  return buf;
}

/**
 * Streams batches into `path` (written as `path.tmp`, renamed on `finish`), a chunk of batches at a
 * time so memory stays constant whatever the number of batches. Ids must lie in [0, vocabSize); masks
 * must be 0 or 1 (sbp's sources only make those), and every batch must have the shape and mask-ness of
 * the first one.
 */
export class BatchFileWriter {
  private readonly fd: number;
  private readonly tmp: string;
  private readonly chunk: Uint8Array;
  private used = 0;
  private count = 0;
  private readonly bytesPerBatch: number;
  private readonly tokenBytes: 2 | 4;

  constructor(
    private readonly path: string,
    private readonly shape: { B: number; T: number; hasMask: boolean; vocabSize: number },
  ) {
    this.tokenBytes = shape.vocabSize <= 65536 ? 2 : 4;
    this.bytesPerBatch = batchBytes({ ...shape, tokenBytes: this.tokenBytes });
    this.chunk = new Uint8Array(Math.max(this.bytesPerBatch, 8 << 20));
    this.tmp = `${path}.tmp`;
    this.fd = openSync(this.tmp, 'w');
    writeSync(this.fd, encodeHeader({ version: BATCH_FILE_VERSION, tokenBytes: this.tokenBytes, ...shape, numBatches: 0 }), 0, BATCH_FILE_HEADER_BYTES, 0);
  }

  get batches(): number {
    return this.count;
  }

  add(batch: Batch): void {
    const { B, T, hasMask, vocabSize } = this.shape;
    if (batch.B !== B || batch.T !== T) throw new Error(`batch file ${this.path}: batch of (${batch.B}, ${batch.T}), the file holds (${B}, ${T})`);
    if ((batch.mask !== null) !== hasMask) throw new Error(`batch file ${this.path}: a batch ${batch.mask ? 'with' : 'without'} a loss mask in a file ${hasMask ? 'with' : 'without'} masks`);
    if (this.used + this.bytesPerBatch > this.chunk.length) this.flush();
    const N = B * T;
    const dv = new DataView(this.chunk.buffer, this.chunk.byteOffset + this.used, this.bytesPerBatch);
    const tb = this.tokenBytes;
    for (const [k, arr] of [[0, batch.tokens], [1, batch.targets]] as const) {
      const base = k * N * tb;
      for (let i = 0; i < N; i++) {
        const id = arr[i]!;
        if (!(id >= 0 && id < vocabSize)) throw new Error(`batch file ${this.path}: id ${id} at batch ${this.count} position ${i} is outside [0, ${vocabSize})`);
        if (tb === 2) dv.setUint16(base + 2 * i, id, true);
        else dv.setInt32(base + 4 * i, id, true);
      }
    }
    if (batch.mask) {
      const base = 2 * N * tb;
      for (let i = 0; i < N; i++) {
        const m = batch.mask[i]!;
        if (m !== 0 && m !== 1) throw new Error(`batch file ${this.path}: mask value ${m} at batch ${this.count} position ${i}; the format stores 0/1 masks`);
        dv.setUint8(base + i, m);
      }
    }
    this.used += this.bytesPerBatch;
    this.count++;
  }

  private flush(): void {
    let off = 0;
    const pos = BATCH_FILE_HEADER_BYTES + (this.count - this.used / this.bytesPerBatch) * this.bytesPerBatch;
    while (off < this.used) off += writeSync(this.fd, this.chunk, off, this.used - off, pos + off);
    this.used = 0;
  }

  /** Writes the final count into the header and renames the file into place. */
  finish(): void {
    this.flush();
    writeSync(this.fd, encodeHeader({ version: BATCH_FILE_VERSION, tokenBytes: this.tokenBytes, ...this.shape, numBatches: this.count }), 0, BATCH_FILE_HEADER_BYTES, 0);
    closeSync(this.fd);
    renameSync(this.tmp, this.path);
  }

  /** Drops the unfinished file. */
  abort(): void {
    try {
      closeSync(this.fd);
    } finally {
      rmSync(this.tmp, { force: true });
    }
  }
}

/** Reads a batch file's header and checks magic, version and size. */
export function readBatchFileHeader(path: string): BatchFileHeader {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const head = new Uint8Array(BATCH_FILE_HEADER_BYTES);
    if (size < BATCH_FILE_HEADER_BYTES || readSync(fd, head, 0, BATCH_FILE_HEADER_BYTES, 0) !== BATCH_FILE_HEADER_BYTES) {
      throw new UserError(`${path}: too short for a batch file; delete it and rerun the stage`);
    }
    const magic = String.fromCharCode(...head.subarray(0, 8));
    if (magic !== BATCH_FILE_MAGIC) throw new UserError(`${path}: not a batch file (magic "${magic}")`);
    const dv = new DataView(head.buffer);
    const version = dv.getUint32(8, true);
    if (version !== BATCH_FILE_VERSION) throw new UserError(`${path}: batch file version ${version}, this sbp reads version ${BATCH_FILE_VERSION}`);
    const tokenBytes = dv.getUint32(12, true);
    if (tokenBytes !== 2 && tokenBytes !== 4) throw new UserError(`${path}: token width ${tokenBytes} bytes; expected 2 or 4`);
    const h: BatchFileHeader = {
      version,
      tokenBytes,
      hasMask: (dv.getUint32(16, true) & 1) === 1,
      B: dv.getUint32(20, true),
      T: dv.getUint32(24, true),
      numBatches: dv.getFloat64(32, true),
      vocabSize: dv.getFloat64(40, true),
    };
    const want = BATCH_FILE_HEADER_BYTES + h.numBatches * batchBytes(h);
    if (size !== want) throw new UserError(`${path}: ${size} bytes, the header implies ${want} (truncated?); delete it and rerun the stage`);
    return h;
  } finally {
    closeSync(fd);
  }
}

/** Reads batch `i` back (tests and checks; trainers memory-map the file). */
export function readBatch(path: string, h: BatchFileHeader, i: number): Batch {
  if (!Number.isInteger(i) || i < 0 || i >= h.numBatches) throw new RangeError(`batch ${i} of ${h.numBatches}`);
  const N = h.B * h.T;
  const bytes = new Uint8Array(batchBytes(h));
  const fd = openSync(path, 'r');
  try {
    readSync(fd, bytes, 0, bytes.length, BATCH_FILE_HEADER_BYTES + i * bytes.length);
  } finally {
    closeSync(fd);
  }
  const dv = new DataView(bytes.buffer);
  const ids = (k: number) => {
    const out = new Int32Array(N);
    for (let j = 0; j < N; j++) out[j] = h.tokenBytes === 2 ? dv.getUint16(k * N * 2 + 2 * j, true) : dv.getInt32(k * N * 4 + 4 * j, true);
    return out;
  };
  const mask = h.hasMask ? Float32Array.from(bytes.subarray(2 * N * h.tokenBytes)) : null;
  return { B: h.B, T: h.T, tokens: ids(0), targets: ids(1), mask };
}
