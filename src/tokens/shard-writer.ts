import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { crc32 } from 'node:zlib';
import {
  SHARD_HEADER_BYTES,
  SHARD_VERSION,
  assertLittleEndianHost,
  bytesPerToken,
  dtypeForVocab,
  encodeShardHeader,
  shardLayout,
  type TokenDType,
} from './shard-format.js';

export interface TokenShardWriterOptions {
  vocabSize: number; // every token id must be < vocabSize; also picks u16 (≤ 65536) or u32
  bufferBytes?: number; // tokens are written in chunks of this size (default 4 MiB)
}

export interface TokenShardSummary {
  path: string;
  dtype: TokenDType;
  vocabSize: number;
  numDocs: number;
  numTokens: number;
  bytes: number; // file size
}

const DEFAULT_BUFFER_BYTES = 4 << 20;

/**
 * Streams documents into a token shard. Tokens go to `<path>.tmp` in chunks as they arrive; the
 * index and ids stay in memory (16 bytes per document plus the id text) and are written by `close()`,
 * which writes the header last, fsyncs and renames to `path`. A writer killed before `close()` leaves
 * only the `.tmp` file — never a `.tok` that looks complete.
 */
export class TokenShardWriter {
  readonly path: string;
  readonly tmpPath: string;
  readonly dtype: TokenDType;
  readonly vocabSize: number;
  private fd: number | undefined;
  private readonly chunk: Uint8Array; // (bufferBytes,) staging area for tokens
  private readonly chunkTokens: Uint16Array | Uint32Array; // the same memory, as token ids
  private chunkFill = 0; // tokens staged in `chunk`
  private docStarts: number[] = [0]; // (numDocs+1,) in tokens
  private ids: Uint8Array[] = [];
  private idBytes = 0;
  private tokensCrc = 0;
  private written = 0; // bytes written to the file so far, header placeholder included

  constructor(path: string, opts: TokenShardWriterOptions) {
    assertLittleEndianHost();
    this.path = path;
    this.tmpPath = `${path}.tmp`;
    this.vocabSize = opts.vocabSize;
    this.dtype = dtypeForVocab(opts.vocabSize);
    const bpt = bytesPerToken(this.dtype);
    const bufferBytes = Math.max(bpt, Math.floor((opts.bufferBytes ?? DEFAULT_BUFFER_BYTES) / bpt) * bpt);
    this.chunk = new Uint8Array(bufferBytes);
    this.chunkTokens = this.dtype === 'u16' ? new Uint16Array(this.chunk.buffer) : new Uint32Array(this.chunk.buffer);
    mkdirSync(dirname(path), { recursive: true });
    this.fd = openSync(this.tmpPath, 'w');
    // The header is written last; until then the file starts with zeros, which no reader accepts.
    this.writeBytes(new Uint8Array(SHARD_HEADER_BYTES));
  }

  get numDocs(): number {
    return this.docStarts.length - 1;
  }

  get numTokens(): number {
    return this.docStarts[this.docStarts.length - 1]!;
  }

  /** Appends one document (without bos/eos). `id` maps it back to its corpus document. */
  addDocument(id: string, tokens: ArrayLike<number>): void {
    if (this.fd === undefined) throw new Error(`${this.path}: addDocument after close()/abort()`);
    const cap = this.chunkTokens.length;
    const vocab = this.vocabSize;
    for (let i = 0; i < tokens.length; ) {
      if (this.chunkFill === cap) this.flushChunk();
      const n = Math.min(tokens.length - i, cap - this.chunkFill);
      for (let k = 0; k < n; k++) {
        const t = tokens[i + k]!;
        // A token outside the vocabulary is a tokenizer bug, and a u16 store would wrap it silently.
        if (!(t >= 0 && t < vocab) || !Number.isInteger(t)) {
          throw new RangeError(`${this.path}: document "${id}" token ${i + k} is ${t}, outside the vocabulary 0..${vocab - 1}`);
        }
        this.chunkTokens[this.chunkFill + k] = t;
      }
      this.chunkFill += n;
      i += n;
    }
    this.docStarts.push(this.numTokens + tokens.length);
    const idUtf8 = Buffer.from(id, 'utf8');
    this.ids.push(idUtf8);
    this.idBytes += idUtf8.length;
  }

  /** Finishes the file: index, ids, header, fsync, rename into place. */
  close(): TokenShardSummary {
    if (this.fd === undefined) throw new Error(`${this.path}: close() called twice`);
    this.flushChunk();
    const numDocs = this.numDocs;
    const numTokens = this.numTokens;
    const layout = shardLayout(this.dtype, numDocs, numTokens, this.idBytes);
    if (this.written !== layout.indexOffset) this.writeBytes(new Uint8Array(layout.indexOffset - this.written));

    const tail = new Uint8Array(layout.fileBytes - layout.indexOffset);
    const view = new DataView(tail.buffer);
    const nOff = this.docStarts.length;
    for (let i = 0; i < nOff; i++) view.setBigUint64(8 * i, BigInt(this.docStarts[i]!), true);
    let idPos = 0;
    const idOffsetsAt = layout.idsOffset - layout.indexOffset;
    const idBytesAt = idOffsetsAt + 8 * nOff;
    view.setBigUint64(idOffsetsAt, 0n, true);
    for (let i = 0; i < this.ids.length; i++) {
      tail.set(this.ids[i]!, idBytesAt + idPos);
      idPos += this.ids[i]!.length;
      view.setBigUint64(idOffsetsAt + 8 * (i + 1), BigInt(idPos), true);
    }
    this.writeBytes(tail);

    const header = encodeShardHeader({
      version: SHARD_VERSION,
      dtype: this.dtype,
      vocabSize: this.vocabSize,
      numDocs,
      numTokens,
      ...layout,
      tokensCrc32: this.tokensCrc,
      tailCrc32: crc32(tail),
    });
    const fd = this.fd;
    writeAllAt(fd, header, 0);
    fsyncSync(fd);
    closeSync(fd);
    this.fd = undefined;
    renameSync(this.tmpPath, this.path);
    this.docStarts = [];
    this.ids = [];
    return { path: this.path, dtype: this.dtype, vocabSize: this.vocabSize, numDocs, numTokens, bytes: layout.fileBytes };
  }

  /** Drops the partial file (e.g. when tokenizing failed); safe to call after close(). */
  abort(): void {
    if (this.fd === undefined) return;
    closeSync(this.fd);
    this.fd = undefined;
    rmSync(this.tmpPath, { force: true });
  }

  private flushChunk(): void {
    if (this.chunkFill === 0) return;
    const bytes = this.chunk.subarray(0, this.chunkFill * bytesPerToken(this.dtype));
    this.tokensCrc = crc32(bytes, this.tokensCrc);
    this.writeBytes(bytes);
    this.chunkFill = 0;
  }

  private writeBytes(bytes: Uint8Array): void {
    writeAllAt(this.fd!, bytes, this.written);
    this.written += bytes.length;
  }
}

function writeAllAt(fd: number, bytes: Uint8Array, position: number): void {
  let off = 0;
  while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off, position + off);
}
