import { closeSync, existsSync, openSync, readFileSync, readSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { UserError } from './errors.js';
import { writeJsonAtomic } from './fs-atomic.js';

/**
 * `checksums.json`: the CRC-32 and size of every file sbp wrote into a model folder or a training
 * checkpoint. It is written after the files and checked when the folder is loaded, so a flipped
 * byte in `model.safetensors` or `optimizer.bin` is a clear error instead of silently wrong weights.
 * A folder without one (made by another tool) loads unchecked. CRC-32 is zlib's (Node's native
 * `zlib.crc32`), the checksum the token shards already use; bench/checksum-cost.ts measures it.
 */
export const CHECKSUMS_FILE = 'checksums.json';

export interface FileChecksum {
  bytes: number;
  crc32: number; // unsigned
}

export interface ChecksumsManifest {
  formatVersion: 1;
  algorithm: 'crc32';
  files: Record<string, FileChecksum>;
}

const CHUNK_BYTES = 8 << 20;

/** CRC-32 and size of a file, read in 8 MiB chunks (a multi-GB file never needs one buffer). */
export function checksumFile(path: string): FileChecksum {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(CHUNK_BYTES);
    let crc = 0;
    let bytes = 0;
    for (;;) {
      const n = readSync(fd, buf, 0, CHUNK_BYTES, bytes);
      if (n === 0) break;
      crc = crc32(buf.subarray(0, n), crc);
      bytes += n;
    }
    return { bytes, crc32: crc >>> 0 };
  } finally {
    closeSync(fd);
  }
}

function readManifest(dir: string): ChecksumsManifest | undefined {
  const path = join(dir, CHECKSUMS_FILE);
  if (!existsSync(path)) return undefined;
  let m: ChecksumsManifest;
  try {
    m = JSON.parse(readFileSync(path, 'utf8')) as ChecksumsManifest;
  } catch (err) {
    throw new UserError(`${path}: not valid JSON (${(err as Error).message}); delete it to load the folder unchecked`);
  }
  if (m?.formatVersion !== 1 || m.algorithm !== 'crc32' || typeof m.files !== 'object' || m.files === null) {
    throw new UserError(`${path}: unknown checksum manifest format; delete it to load the folder unchecked`);
  }
  return m;
}

/** Forgets the folder's checksums (before its files are rewritten, so a crash never leaves stale ones). */
export function clearChecksums(dir: string): void {
  rmSync(join(dir, CHECKSUMS_FILE), { force: true });
}

/** Adds (or replaces) the checksums of `names` (files inside `dir`) in `dir/checksums.json`. */
export function recordChecksums(dir: string, names: readonly string[]): void {
  const m: ChecksumsManifest = readManifest(dir) ?? { formatVersion: 1, algorithm: 'crc32', files: {} };
  for (const name of names) m.files[name] = checksumFile(join(dir, name));
  writeJsonAtomic(join(dir, CHECKSUMS_FILE), m);
}

/**
 * Checks the recorded files among `names` (all recorded ones when omitted). Returns how many were
 * checked (0 for a folder with no checksums.json). A missing, resized or changed file is a UserError
 * naming it, with `remedy` (what the user should do).
 */
export function verifyChecksums(dir: string, remedy: string, names?: readonly string[]): number {
  const m = readManifest(dir);
  if (!m) return 0;
  let checked = 0;
  for (const name of names ?? Object.keys(m.files)) {
    const want = m.files[name];
    if (!want) continue;
    const path = join(dir, name);
    if (!existsSync(path)) throw new UserError(`${path}: missing, but ${CHECKSUMS_FILE} lists it; ${remedy}`);
    const size = statSync(path).size;
    if (size !== want.bytes) throw new UserError(`${path}: ${size} bytes, ${CHECKSUMS_FILE} recorded ${want.bytes}: the file is truncated or was replaced; ${remedy}`);
    const got = checksumFile(path);
    if (got.crc32 !== want.crc32 >>> 0) {
      throw new UserError(`${path}: checksum mismatch (CRC-32 ${hex(got.crc32)}, ${CHECKSUMS_FILE} recorded ${hex(want.crc32)}): the file was damaged or changed after sbp wrote it; ${remedy}`);
    }
    checked++;
  }
  return checked;
}

function hex(n: number): string {
  return (n >>> 0).toString(16).padStart(8, '0');
}
