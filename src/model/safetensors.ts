import { closeSync, fstatSync, fsyncSync, mkdirSync, openSync, readSync, renameSync, rmSync, writeSync } from 'node:fs';
import { endianness } from 'node:os';
import { dirname } from 'node:path';
import { UserError } from '../common/errors.js';

/**
 * Reader and writer of the safetensors format: an 8-byte little-endian header length, a JSON header
 * `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {..}}`, then the raw tensor
 * bytes (offsets relative to the end of the header). Hand-written because the format is this small
 * and the npm packages for it are not maintained. Tensors are read one at a time straight from the
 * file, so a multi-gigabyte checkpoint never needs one buffer the size of the file.
 */

export type SafetensorsDType = 'F32' | 'F16' | 'BF16' | 'F64';
const BYTES: Record<SafetensorsDType, number> = { F32: 4, F16: 2, BF16: 2, F64: 8 };
const MAX_HEADER_BYTES = 100 * 1024 * 1024; // a larger header is a corrupt file, not a big model

export interface SafetensorsInfo {
  dtype: SafetensorsDType;
  shape: number[];
  begin: number; // byte offset inside the data section
  end: number;
}

export interface SafetensorsTensor {
  name: string;
  shape: readonly number[];
  data: Float32Array;
}

function assertLittleEndian(): void {
  if (endianness() !== 'LE') throw new Error('safetensors I/O assumes a little-endian host');
}

function readFully(fd: number, buf: Uint8Array, position: number, file: string): void {
  let done = 0;
  while (done < buf.length) {
    const chunk = Math.min(buf.length - done, 1 << 30);
    const n = readSync(fd, buf, done, chunk, position + done);
    if (n === 0) throw new UserError(`${file}: unexpected end of file while reading tensor data; the file is truncated`);
    done += n;
  }
}

/** An open safetensors file: the parsed header, and tensors read on demand as float32. */
export class SafetensorsFile {
  readonly tensors: ReadonlyMap<string, SafetensorsInfo>;
  readonly metadata: Readonly<Record<string, string>>;
  private readonly dataStart: number;
  private fd: number | null;

  private constructor(readonly path: string, fd: number, tensors: Map<string, SafetensorsInfo>, metadata: Record<string, string>, dataStart: number) {
    this.fd = fd;
    this.tensors = tensors;
    this.metadata = metadata;
    this.dataStart = dataStart;
  }

  /** Opens and validates the header (dtypes, shapes, offsets inside the file, no overlaps). */
  static open(path: string): SafetensorsFile {
    assertLittleEndian();
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch (err) {
      throw new UserError(`${path}: cannot open safetensors file (${(err as Error).message})`);
    }
    try {
      const fileSize = fstatSync(fd).size;
      const bad = (why: string) => new UserError(`${path}: not a valid safetensors file: ${why}`);
      if (fileSize < 8) throw bad(`${fileSize} bytes is shorter than the 8-byte header length`);
      const lenBuf = Buffer.alloc(8);
      readFully(fd, lenBuf, 0, path);
      const headerLen = Number(lenBuf.readBigUInt64LE(0));
      if (headerLen > MAX_HEADER_BYTES || 8 + headerLen > fileSize) throw bad(`header length ${headerLen} does not fit in a ${fileSize}-byte file`);
      const headerBuf = Buffer.alloc(headerLen);
      readFully(fd, headerBuf, 8, path);
      let header: unknown;
      try {
        header = JSON.parse(headerBuf.toString('utf8'));
      } catch (err) {
        throw bad(`header is not JSON (${(err as Error).message})`);
      }
      if (typeof header !== 'object' || header === null || Array.isArray(header)) throw bad('header is not a JSON object');
      const dataStart = 8 + headerLen;
      const dataSize = fileSize - dataStart;
      const tensors = new Map<string, SafetensorsInfo>();
      let metadata: Record<string, string> = {};
      for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
        if (name === '__metadata__') {
          metadata = (raw ?? {}) as Record<string, string>;
          continue;
        }
        const e = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
        if (typeof e !== 'object' || e === null) throw bad(`entry "${name}" is not an object`);
        if (typeof e.dtype !== 'string' || !(e.dtype in BYTES)) throw bad(`tensor "${name}" has dtype ${JSON.stringify(e.dtype)}; supported: ${Object.keys(BYTES).join(', ')}`);
        const dtype = e.dtype as SafetensorsDType;
        if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isInteger(d) && d >= 0)) throw bad(`tensor "${name}" has an invalid shape ${JSON.stringify(e.shape)}`);
        const shape = e.shape as number[];
        const off = e.data_offsets;
        if (!Array.isArray(off) || off.length !== 2 || !off.every((x) => Number.isInteger(x) && x >= 0) || off[0] > off[1]) {
          throw bad(`tensor "${name}" has invalid data_offsets ${JSON.stringify(off)}`);
        }
        const [begin, end] = off as [number, number];
        const want = shape.reduce((a, b) => a * b, 1) * BYTES[dtype];
        if (end - begin !== want) throw bad(`tensor "${name}" ${dtype}[${shape.join(', ')}] needs ${want} bytes but data_offsets span ${end - begin}`);
        if (end > dataSize) throw bad(`tensor "${name}" ends at byte ${end} of a ${dataSize}-byte data section; the file is truncated`);
        tensors.set(name, { dtype, shape, begin, end });
      }
      const spans = [...tensors.entries()].sort((a, b) => a[1].begin - b[1].begin);
      for (let i = 1; i < spans.length; i++) {
        if (spans[i]![1].begin < spans[i - 1]![1].end) throw bad(`tensors "${spans[i - 1]![0]}" and "${spans[i]![0]}" overlap`);
      }
      return new SafetensorsFile(path, fd, tensors, metadata, dataStart);
    } catch (err) {
      closeSync(fd);
      throw err;
    }
  }

  /** Reads one tensor, converting F16 / BF16 / F64 to float32. */
  read(name: string): Float32Array {
    const info = this.tensors.get(name);
    if (!info) throw new UserError(`${this.path}: tensor "${name}" is missing`);
    if (this.fd === null) throw new Error(`${this.path}: read after close`);
    const bytes = new Uint8Array(info.end - info.begin);
    readFully(this.fd, bytes, this.dataStart + info.begin, this.path);
    const n = bytes.length / BYTES[info.dtype];
    switch (info.dtype) {
      case 'F32':
        return new Float32Array(bytes.buffer, 0, n);
      case 'F64':
        return Float32Array.from(new Float64Array(bytes.buffer, 0, n));
      case 'BF16': {
        // bfloat16 is the top half of a float32
        const src = new Uint16Array(bytes.buffer, 0, n);
        const out = new Uint32Array(n);
        for (let i = 0; i < n; i++) out[i] = src[i]! << 16;
        return new Float32Array(out.buffer);
      }
      case 'F16': {
        const src = new Uint16Array(bytes.buffer, 0, n);
        const out = new Float32Array(n);
        for (let i = 0; i < n; i++) out[i] = halfToFloat(src[i]!);
        return out;
      }
    }
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}

/** IEEE 754 binary16 bits to a number. */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24; // subnormal
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/**
 * Writes float32 tensors as one safetensors file, atomically (tmp file, fsync, rename). The header is
 * padded with spaces to a multiple of 8 bytes so that every tensor starts aligned.
 */
export function writeSafetensors(path: string, tensors: readonly SafetensorsTensor[], metadata: Record<string, string> = {}): void {
  assertLittleEndian();
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header['__metadata__'] = metadata;
  let offset = 0;
  for (const t of tensors) {
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (n !== t.data.length) throw new Error(`writeSafetensors: tensor "${t.name}" has shape [${t.shape.join(', ')}] but ${t.data.length} values`);
    if (t.name in header) throw new Error(`writeSafetensors: duplicate tensor name "${t.name}"`);
    header[t.name] = { dtype: 'F32', shape: [...t.shape], data_offsets: [offset, offset + 4 * n] };
    offset += 4 * n;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const headerBytes = Buffer.from(json, 'utf8');
  const lenBytes = Buffer.alloc(8);
  lenBytes.writeBigUInt64LE(BigInt(headerBytes.length));

  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w');
  try {
    const writeAll = (buf: Uint8Array) => {
      let done = 0;
      while (done < buf.length) done += writeSync(fd, buf, done, Math.min(buf.length - done, 1 << 30));
    };
    writeAll(lenBytes);
    writeAll(headerBytes);
    for (const t of tensors) writeAll(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw err;
  }
  closeSync(fd);
  renameSync(tmp, path);
}
