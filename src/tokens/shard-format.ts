import { crc32 } from 'node:zlib';

/**
 * The token shard (`*.tok`): one file holding tokenized documents, readable by document number.
 *
 *   [header: 128 bytes][tokens: numTokens × (2|4) bytes][pad to 8][index: (numDocs+1) × u64]
 *   [id offsets: (numDocs+1) × u64][id bytes: UTF-8, concatenated]
 *
 * All integers are little-endian. Document i is tokens[index[i] .. index[i+1]), in token units.
 * Its corpus id is idBytes[idOffsets[i] .. idOffsets[i+1]). Documents are stored WITHOUT bos/eos:
 * the trainer adds them when it packs sequences, so the same shard serves any packing scheme.
 * docs/formats.md has the byte-exact table; change both together and bump SHARD_VERSION.
 */
export const SHARD_MAGIC = new Uint8Array([0x53, 0x42, 0x50, 0x54, 0x4f, 0x4b, 0x00, 0x00]); // "SBPTOK\0\0"
export const SHARD_VERSION = 1;
export const SHARD_HEADER_BYTES = 128;
export const SHARD_EXTENSION = '.tok';

export type TokenDType = 'u16' | 'u32';
export type TokenArray = Uint16Array | Uint32Array;

/** The largest vocabulary whose ids fit in a uint16 (ids 0..65535). */
export const U16_MAX_VOCAB = 65_536;
/** Token ids are stored as u32 at most; the header field is a u32 too. */
export const MAX_VOCAB = 2 ** 32 - 1;

export function dtypeForVocab(vocabSize: number): TokenDType {
  if (!Number.isInteger(vocabSize) || vocabSize < 1 || vocabSize > MAX_VOCAB) {
    throw new RangeError(`vocabSize must be a whole number in 1..${MAX_VOCAB}, got ${vocabSize}`);
  }
  return vocabSize <= U16_MAX_VOCAB ? 'u16' : 'u32';
}

export function bytesPerToken(dtype: TokenDType): 2 | 4 {
  return dtype === 'u16' ? 2 : 4;
}

export function allocTokens(dtype: TokenDType, length: number): TokenArray {
  return dtype === 'u16' ? new Uint16Array(length) : new Uint32Array(length);
}

export interface TokenShardHeader {
  version: number;
  dtype: TokenDType;
  vocabSize: number;
  numDocs: number;
  numTokens: number;
  tokensOffset: number; // bytes from the start of the file
  indexOffset: number;
  idsOffset: number;
  fileBytes: number; // total file size the header promises
  tokensCrc32: number; // CRC-32 of the tokens section (checked by `verify`, not on open)
  tailCrc32: number; // CRC-32 of index + id offsets + id bytes (checked on open)
}

// Byte offsets of header fields (docs/formats.md mirrors this table).
const F = {
  magic: 0,
  version: 8,
  bytesPerToken: 12,
  vocabSize: 16,
  headerBytes: 20,
  numDocs: 24,
  numTokens: 32,
  tokensOffset: 40,
  indexOffset: 48,
  idsOffset: 56,
  fileBytes: 64,
  tokensCrc32: 72,
  tailCrc32: 76,
  headerCrc32: 124, // CRC-32 of bytes 0..123
} as const;

export function align8(n: number): number {
  return Math.ceil(n / 8) * 8;
}

/** Section offsets implied by the counts: the writer lays the file out this way and the reader insists on it. */
export function shardLayout(dtype: TokenDType, numDocs: number, numTokens: number, idBytes: number) {
  const tokensOffset = SHARD_HEADER_BYTES;
  const indexOffset = align8(tokensOffset + numTokens * bytesPerToken(dtype));
  const idsOffset = indexOffset + 8 * (numDocs + 1);
  const fileBytes = idsOffset + 8 * (numDocs + 1) + idBytes;
  return { tokensOffset, indexOffset, idsOffset, fileBytes };
}

export function encodeShardHeader(h: TokenShardHeader): Uint8Array {
  const bytes = new Uint8Array(SHARD_HEADER_BYTES);
  const v = new DataView(bytes.buffer);
  bytes.set(SHARD_MAGIC, F.magic);
  v.setUint32(F.version, h.version, true);
  v.setUint32(F.bytesPerToken, bytesPerToken(h.dtype), true);
  v.setUint32(F.vocabSize, h.vocabSize, true);
  v.setUint32(F.headerBytes, SHARD_HEADER_BYTES, true);
  v.setBigUint64(F.numDocs, BigInt(h.numDocs), true);
  v.setBigUint64(F.numTokens, BigInt(h.numTokens), true);
  v.setBigUint64(F.tokensOffset, BigInt(h.tokensOffset), true);
  v.setBigUint64(F.indexOffset, BigInt(h.indexOffset), true);
  v.setBigUint64(F.idsOffset, BigInt(h.idsOffset), true);
  v.setBigUint64(F.fileBytes, BigInt(h.fileBytes), true);
  v.setUint32(F.tokensCrc32, h.tokensCrc32 >>> 0, true);
  v.setUint32(F.tailCrc32, h.tailCrc32 >>> 0, true);
  v.setUint32(F.headerCrc32, crc32(bytes.subarray(0, F.headerCrc32)), true);
  return bytes;
}

/** Why a header was refused; the reader turns it into a message naming the file and what to do. */
export type HeaderProblem =
  | { kind: 'magic'; found: string }
  | { kind: 'version'; found: number }
  | { kind: 'checksum' }
  | { kind: 'field'; detail: string };

function u64(v: DataView, off: number): number {
  const x = v.getBigUint64(off, true);
  // Beyond 2^53 a count cannot be a real file's; reading it as a number would round silently.
  return x > BigInt(Number.MAX_SAFE_INTEGER) ? Number.NaN : Number(x);
}

export function magicText(bytes: Uint8Array): string {
  return Array.from(bytes.subarray(0, 8), (b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, '0')}`)).join('');
}

/**
 * Parses and checks a header: magic, then version (a newer layout may move every other field),
 * then the header checksum, then that every field agrees with the layout the counts imply.
 */
export function decodeShardHeader(bytes: Uint8Array): TokenShardHeader | HeaderProblem {
  for (let i = 0; i < SHARD_MAGIC.length; i++) {
    if (bytes[i] !== SHARD_MAGIC[i]) return { kind: 'magic', found: magicText(bytes) };
  }
  const v = new DataView(bytes.buffer, bytes.byteOffset, SHARD_HEADER_BYTES);
  const version = v.getUint32(F.version, true);
  if (version !== SHARD_VERSION) return { kind: 'version', found: version };
  if (crc32(bytes.subarray(0, F.headerCrc32)) !== v.getUint32(F.headerCrc32, true)) return { kind: 'checksum' };

  const bpt = v.getUint32(F.bytesPerToken, true);
  if (bpt !== 2 && bpt !== 4) return { kind: 'field', detail: `token width is ${bpt} bytes (must be 2 or 4)` };
  const dtype: TokenDType = bpt === 2 ? 'u16' : 'u32';
  const vocabSize = v.getUint32(F.vocabSize, true);
  if (vocabSize < 1 || dtypeForVocab(vocabSize) !== dtype) {
    return { kind: 'field', detail: `vocabulary size ${vocabSize} does not match token width ${bpt} bytes` };
  }
  const headerBytes = v.getUint32(F.headerBytes, true);
  if (headerBytes !== SHARD_HEADER_BYTES) return { kind: 'field', detail: `header size field is ${headerBytes} (must be ${SHARD_HEADER_BYTES})` };

  const h: TokenShardHeader = {
    version,
    dtype,
    vocabSize,
    numDocs: u64(v, F.numDocs),
    numTokens: u64(v, F.numTokens),
    tokensOffset: u64(v, F.tokensOffset),
    indexOffset: u64(v, F.indexOffset),
    idsOffset: u64(v, F.idsOffset),
    fileBytes: u64(v, F.fileBytes),
    tokensCrc32: v.getUint32(F.tokensCrc32, true),
    tailCrc32: v.getUint32(F.tailCrc32, true),
  };
  for (const key of ['numDocs', 'numTokens', 'tokensOffset', 'indexOffset', 'idsOffset', 'fileBytes'] as const) {
    if (!Number.isFinite(h[key])) return { kind: 'field', detail: `${key} is larger than 2^53` };
  }
  const expect = shardLayout(dtype, h.numDocs, h.numTokens, 0);
  for (const key of ['tokensOffset', 'indexOffset', 'idsOffset'] as const) {
    if (h[key] !== expect[key]) return { kind: 'field', detail: `${key} is ${h[key]} but the counts put it at ${expect[key]}` };
  }
  if (h.fileBytes < expect.fileBytes) return { kind: 'field', detail: `fileBytes ${h.fileBytes} is smaller than the sections need (${expect.fileBytes})` };
  return h;
}

export function isHeaderProblem(x: TokenShardHeader | HeaderProblem): x is HeaderProblem {
  return 'kind' in x;
}

/** The token shard files are little-endian and written/read through typed-array views of byte buffers. */
export function assertLittleEndianHost(): void {
  if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
    throw new Error('token shards are little-endian; this big-endian host would need byte swapping, which sbp does not implement');
  }
}
