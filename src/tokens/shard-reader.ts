import { closeSync, fstatSync, openSync, readSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { crc32 } from 'node:zlib';
import { UserError } from '../common/errors.js';
import {
  SHARD_HEADER_BYTES,
  SHARD_VERSION,
  allocTokens,
  assertLittleEndianHost,
  bytesPerToken,
  decodeShardHeader,
  isHeaderProblem,
  type TokenShardHeader,
  type TokenArray,
  type TokenDType,
} from './shard-format.js';

/** What to tell the user when a shard is bad; callers with a better command (a stage) pass their own. */
export const DEFAULT_SHARD_REMEDY = 'rerun `sbp tokenize --force` to rewrite the token shards';

export interface TokenShardReaderOptions {
  remedy?: string; // the "what to do" part of every integrity message
}

/**
 * Random access to a token shard. Opening checks magic, version, header checksum, file size against
 * the header and the whole document index (monotonic, in range, checksum); each failure is a
 * UserError naming the file, what is wrong and what to do. The index and ids (16 bytes per document
 * plus the id text) are held in memory; tokens are not: `doc(i)` is one positional read straight
 * into the array it returns, so a shard of many GB costs only its index and no copy.
 */
export class TokenShardReader {
  readonly path: string;
  readonly header: TokenShardHeader;
  private fd: number | undefined;
  private readonly starts: Float64Array; // (numDocs+1,) token offsets; exact below 2^53
  private readonly idOffsets: Float64Array; // (numDocs+1,) byte offsets into idBytes
  private readonly idBytes: Buffer;
  private readonly remedy: string;

  private constructor(path: string, fd: number, header: TokenShardHeader, starts: Float64Array, idOffsets: Float64Array, idBytes: Buffer, remedy: string) {
    this.path = path;
    this.remedy = remedy;
    this.fd = fd;
    this.header = header;
    this.starts = starts;
    this.idOffsets = idOffsets;
    this.idBytes = idBytes;
  }

  static open(path: string, opts: TokenShardReaderOptions = {}): TokenShardReader {
    assertLittleEndianHost();
    const remedy = opts.remedy ?? DEFAULT_SHARD_REMEDY;
    const fail = (what: string): never => {
      throw new UserError(`${path}: ${what}; ${remedy}`);
    };
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch (err) {
      throw new UserError(`${path}: cannot open token shard (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); ${remedy}`);
    }
    try {
      const size = fstatSync(fd).size;
      if (size < SHARD_HEADER_BYTES) fail(`truncated: ${size} bytes is shorter than the ${SHARD_HEADER_BYTES}-byte header`);
      const headBytes = readExactly(path, fd, SHARD_HEADER_BYTES, 0);
      const decoded = decodeShardHeader(headBytes);
      if (isHeaderProblem(decoded)) {
        switch (decoded.kind) {
          case 'magic':
            return fail(`not a token shard: bad magic "${decoded.found}" (expected "SBPTOK\\x00\\x00")`);
          case 'version':
            if (decoded.found > SHARD_VERSION) {
              throw new UserError(`${path}: token shard format version ${decoded.found} is newer than this sbp reads (${SHARD_VERSION}); upgrade sbp, or ${remedy}`);
            }
            return fail(`unknown token shard format version ${decoded.found} (this sbp reads version ${SHARD_VERSION})`);
          case 'checksum':
            return fail('header checksum mismatch: the header is corrupt');
          case 'field':
            return fail(`corrupt header: ${decoded.detail}`);
        }
      }
      const h = decoded;
      if (size < h.fileBytes) fail(`truncated: expected ${h.fileBytes} bytes, found ${size}`);
      if (size > h.fileBytes) fail(`size mismatch: the header promises ${h.fileBytes} bytes, found ${size} (${size - h.fileBytes} trailing bytes)`);

      const tail = readExactly(path, fd, h.fileBytes - h.indexOffset, h.indexOffset);
      const view = new DataView(tail.buffer, tail.byteOffset, tail.byteLength);
      const n = h.numDocs + 1;
      const starts = readOffsets(view, 0, n);
      const idsAt = h.idsOffset - h.indexOffset;
      const idOffsets = readOffsets(view, idsAt, n);
      const idBytesLen = h.fileBytes - h.idsOffset - 8 * n;
      checkOffsets(starts, h.numTokens, 'document index', 'token', fail);
      checkOffsets(idOffsets, idBytesLen, 'id table', 'byte', fail);
      if (crc32(tail) !== h.tailCrc32) fail('index checksum mismatch: the document index or id table is corrupt');
      const idBytes = Buffer.from(tail.buffer, tail.byteOffset + idsAt + 8 * n, idBytesLen);
      return new TokenShardReader(path, fd, h, starts, idOffsets, idBytes, remedy);
    } catch (err) {
      closeSync(fd);
      throw err;
    }
  }

  get numDocs(): number {
    return this.header.numDocs;
  }

  get numTokens(): number {
    return this.header.numTokens;
  }

  get dtype(): TokenDType {
    return this.header.dtype;
  }

  get vocabSize(): number {
    return this.header.vocabSize;
  }

  /** Offset of document i's first token within this shard, in tokens. */
  docStart(i: number): number {
    this.checkDoc(i);
    return this.starts[i]!;
  }

  docLength(i: number): number {
    this.checkDoc(i);
    return this.starts[i + 1]! - this.starts[i]!;
  }

  /** Document i's tokens (a fresh array, no bos/eos). */
  doc(i: number): TokenArray {
    this.checkDoc(i);
    return this.readTokens(this.starts[i]!, this.starts[i + 1]! - this.starts[i]!);
  }

  /** The corpus id of document i. */
  docId(i: number): string {
    this.checkDoc(i);
    return this.idBytes.toString('utf8', this.idOffsets[i]!, this.idOffsets[i + 1]!);
  }

  /** `count` tokens starting at token `start` of the shard, across document boundaries. */
  readTokens(start: number, count: number): TokenArray {
    if (!(Number.isInteger(start) && Number.isInteger(count) && start >= 0 && count >= 0 && start + count <= this.numTokens)) {
      throw new RangeError(`${this.path}: tokens [${start}, ${start + count}) are outside 0..${this.numTokens}`);
    }
    const out = allocTokens(this.dtype, count);
    const bpt = bytesPerToken(this.dtype);
    readInto(this.path, this.openFd(), new Uint8Array(out.buffer), this.header.tokensOffset + start * bpt);
    return out;
  }

  /**
   * Full scan: the tokens checksum and every token id below the vocabulary size. Opening does not do
   * this because it reads the whole file; run it after a copy or when a training run looks wrong.
   */
  verify(chunkTokens = 1 << 20): void {
    let crc = 0;
    const vocab = this.vocabSize;
    for (let start = 0; start < this.numTokens; start += chunkTokens) {
      const part = this.readTokens(start, Math.min(chunkTokens, this.numTokens - start));
      crc = crc32(new Uint8Array(part.buffer, part.byteOffset, part.byteLength), crc);
      for (let k = 0; k < part.length; k++) {
        if (part[k]! >= vocab) throw new UserError(`${this.path}: token ${start + k} is ${part[k]}, outside the vocabulary of ${vocab}; ${this.remedy}`);
      }
    }
    if (crc !== this.header.tokensCrc32) throw new UserError(`${this.path}: tokens checksum mismatch: the token data is corrupt; ${this.remedy}`);
  }

  /**
   * `verify()` at most once per process for this file as it is now (path, size, mtime, checksum):
   * every stage that reads a shard checks it without paying the full read again in the same process.
   */
  verifyOnce(): void {
    const st = statSync(this.path);
    const key = `${resolve(this.path)}\0${st.size}\0${st.mtimeMs}\0${this.header.tokensCrc32}`;
    if (verifiedShards.has(key)) return;
    this.verify();
    verifiedShards.add(key);
  }

  close(): void {
    if (this.fd === undefined) return;
    closeSync(this.fd);
    this.fd = undefined;
  }

  private openFd(): number {
    if (this.fd === undefined) throw new Error(`${this.path}: read after close()`);
    return this.fd;
  }

  private checkDoc(i: number): void {
    if (!(Number.isInteger(i) && i >= 0 && i < this.header.numDocs)) {
      throw new RangeError(`${this.path}: document ${i} is outside 0..${this.header.numDocs - 1}`);
    }
  }
}

/**
 * Shards already verified by this process. Module state on purpose: the point is to check each shard
 * once per process whichever stage opens it first; an entry names the file's size and mtime, so a
 * rewritten shard is checked again.
 */
const verifiedShards = new Set<string>();

function readOffsets(view: DataView, at: number, n: number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = Number(view.getBigUint64(at + 8 * i, true));
  return out;
}

/** Offsets must start at 0, never decrease and end exactly at the section's size. */
function checkOffsets(offsets: Float64Array, end: number, what: string, unit: string, fail: (what: string) => never): void {
  if (offsets[0] !== 0) fail(`${what} corrupt: entry 0 is ${offsets[0]} (must be 0)`);
  for (let i = 1; i < offsets.length; i++) {
    const o = offsets[i]!;
    if (o > end) fail(`${what} out of range: entry ${i} is ${o}, past the ${end} ${unit}s the shard holds`);
    if (o < offsets[i - 1]!) fail(`${what} corrupt: entry ${i} (${o}) is smaller than entry ${i - 1} (${offsets[i - 1]})`);
  }
  if (offsets[offsets.length - 1] !== end) fail(`${what} corrupt: last entry is ${offsets[offsets.length - 1]} but the shard holds ${end} ${unit}s`);
}

function readExactly(path: string, fd: number, length: number, position: number): Uint8Array {
  const out = new Uint8Array(length);
  readInto(path, fd, out, position);
  return out;
}

function readInto(path: string, fd: number, into: Uint8Array, position: number): void {
  let off = 0;
  while (off < into.length) {
    const n = readSync(fd, into, off, into.length - off, position + off);
    if (n === 0) throw new UserError(`${path}: unexpected end of file at byte ${position + off}: the token shard shrank while open; ${DEFAULT_SHARD_REMEDY}`);
    off += n;
  }
}
