import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { UserError } from '../common/errors.js';
import { BinarySink } from './binary-sink.js';
import { tokenBytes, type ExportDType } from './token-stream.js';

/**
 * Megatron's indexed dataset (`MMIDIDX`), read by Megatron-LM, NeMo, GPT-NeoX and OLMo through
 * `--data-path <prefix>`: `<prefix>.bin` holds the token ids of every sequence back to back;
 * `<prefix>.idx` is, little-endian:
 *
 *   magic            9 bytes  "MMIDIDX\0\0"
 *   version          u64      1
 *   dtype code       u8       8 = uint16, 4 = int32
 *   sequence count   u64      S
 *   document count   u64      D + 1 (the document index below, with its leading 0)
 *   sequence lengths i32 × S  tokens per sequence
 *   sequence offsets i64 × S  byte offset of each sequence in the .bin
 *   document index   i64 × (D + 1)  0, then the sequence count after each document
 *
 * sbp writes one sequence per document, framed `[bos] doc [eos]`. The .bin streams; the index keeps
 * 4 bytes per document in memory until `close()` (12 bytes per document end up in the .idx).
 */
export const MEGATRON_MAGIC = Buffer.from('MMIDIDX\x00\x00', 'latin1');
const DTYPE_CODE: Record<ExportDType, number> = { u16: 8, u32: 4 };

export class MegatronIndexedWriter {
  private readonly bin: BinarySink;
  private lengths = new Int32Array(1 << 16);
  private count = 0;
  private readonly scratch = { buf: new Uint16Array(0) };
  tokens = 0;

  constructor(readonly prefix: string, readonly dtype: ExportDType) {
    this.bin = new BinarySink(`${prefix}.bin`);
  }

  /** Appends one document (already framed) as one sequence. */
  add(ids: Uint32Array): void {
    if (this.count === this.lengths.length) {
      const grown = new Int32Array(this.lengths.length * 2);
      grown.set(this.lengths);
      this.lengths = grown;
    }
    this.lengths[this.count++] = ids.length;
    this.tokens += ids.length;
    this.bin.write(tokenBytes(ids, this.dtype, this.scratch));
  }

  get bytes(): number {
    return this.bin.bytes;
  }

  close(): void {
    this.bin.close();
    const S = this.count;
    const idx = new BinarySink(`${this.prefix}.idx`);
    const head = Buffer.alloc(9 + 8 + 1 + 8 + 8);
    MEGATRON_MAGIC.copy(head, 0);
    head.writeBigUInt64LE(1n, 9);
    head.writeUInt8(DTYPE_CODE[this.dtype], 17);
    head.writeBigUInt64LE(BigInt(S), 18);
    head.writeBigUInt64LE(BigInt(S + 1), 26);
    idx.write(head);
    idx.write(new Uint8Array(this.lengths.buffer, 0, S * 4));
    const itemBytes = this.dtype === 'u16' ? 2 : 4;
    const chunk = new BigInt64Array(1 << 16);
    const flush = (n: number) => idx.write(new Uint8Array(chunk.buffer, 0, n * 8));
    let offset = 0;
    let k = 0;
    for (let i = 0; i < S; i++) {
      chunk[k++] = BigInt(offset);
      offset += this.lengths[i]! * itemBytes;
      if (k === chunk.length) (flush(k), (k = 0));
    }
    flush(k);
    k = 0;
    for (let i = 0; i <= S; i++) {
      chunk[k++] = BigInt(i);
      if (k === chunk.length) (flush(k), (k = 0));
    }
    flush(k);
    idx.close();
  }
}

export interface MegatronIndex {
  dtype: ExportDType;
  lengths: Int32Array; // (S,)
  offsets: BigInt64Array; // (S,) bytes into the .bin
  documentIndex: BigInt64Array; // (D+1,)
}

/** Reads `<prefix>.idx` and checks it against `<prefix>.bin`'s size; errors name the file. */
export function readMegatronIndex(prefix: string): MegatronIndex {
  const path = `${prefix}.idx`;
  const fd = openSync(path, 'r');
  try {
    const size = statSync(path).size;
    const buf = Buffer.alloc(size);
    readSync(fd, buf, 0, size, 0);
    if (size < 34 || !buf.subarray(0, 9).equals(MEGATRON_MAGIC)) throw new UserError(`${path}: not a Megatron indexed dataset index (no MMIDIDX magic)`);
    const version = buf.readBigUInt64LE(9);
    if (version !== 1n) throw new UserError(`${path}: index version ${version}, sbp reads version 1`);
    const code = buf.readUInt8(17);
    const dtype: ExportDType | undefined = code === 8 ? 'u16' : code === 4 ? 'u32' : undefined;
    if (!dtype) throw new UserError(`${path}: dtype code ${code}; sbp reads uint16 (8) and int32 (4)`);
    const S = Number(buf.readBigUInt64LE(18));
    const D = Number(buf.readBigUInt64LE(26));
    const expected = 34 + S * 12 + D * 8;
    if (size !== expected) throw new UserError(`${path}: ${size} bytes, the header implies ${expected}; the file is truncated or not of this format`);
    const copy = (at: number, bytes: number) => buf.buffer.slice(buf.byteOffset + at, buf.byteOffset + at + bytes);
    const index = {
      dtype,
      lengths: new Int32Array(copy(34, S * 4)),
      offsets: new BigInt64Array(copy(34 + S * 4, S * 8)),
      documentIndex: new BigInt64Array(copy(34 + S * 12, D * 8)),
    };
    const binBytes = statSync(`${prefix}.bin`).size;
    const itemBytes = dtype === 'u16' ? 2 : 4;
    const last = S === 0 ? 0 : Number(index.offsets[S - 1]!) + index.lengths[S - 1]! * itemBytes;
    if (last !== binBytes) throw new UserError(`${prefix}.bin: ${binBytes} bytes, its index describes ${last}; the pair of files does not match`);
    return index;
  } finally {
    closeSync(fd);
  }
}
