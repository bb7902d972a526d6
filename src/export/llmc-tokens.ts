import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { UserError } from '../common/errors.js';
import { BinarySink } from './binary-sink.js';
import { tokenBytes, type ExportDType } from './token-stream.js';

/**
 * Token files for llm.c and nanoGPT: one stream of token ids, documents framed `[bos] doc [eos]` back
 * to back in their stored order.
 *
 *   llm.c   a 1024-byte header of 256 little-endian int32 — [0] magic 20240520, [1] version (1: uint16
 *           ids, 2: uint32 ids), [2] token count, the rest 0 — then the ids (the layout of llm.c's
 *           `dev/data/data_common.py`, read by its `dataloader.h`)
 *   nanoGPT the ids alone, uint16 (what nanoGPT's `train.py` maps with `np.memmap(..., dtype=np.uint16)`)
 */
export const LLMC_MAGIC = 20240520;
export const LLMC_HEADER_BYTES = 1024;

export type TokenFileLayout = 'llmc' | 'nanogpt';

export class TokenFileWriter {
  private readonly sink: BinarySink;
  private readonly scratch = { buf: new Uint16Array(0) };
  tokens = 0;

  constructor(readonly path: string, readonly layout: TokenFileLayout, readonly dtype: ExportDType) {
    if (layout === 'nanogpt' && dtype !== 'u16') throw new UserError(`${path}: nanoGPT token files are uint16, but the vocabulary needs uint32 ids; export --format llmc (version 2) instead`);
    this.sink = new BinarySink(path);
    if (layout === 'llmc') this.sink.write(new Uint8Array(LLMC_HEADER_BYTES)); // patched on close
  }

  add(ids: Uint32Array): void {
    this.tokens += ids.length;
    this.sink.write(tokenBytes(ids, this.dtype, this.scratch));
  }

  get bytes(): number {
    return this.sink.bytes;
  }

  close(): void {
    if (this.layout === 'llmc') {
      if (this.tokens > 0x7fffffff) throw new UserError(`${this.path}: ${this.tokens} tokens do not fit llm.c's int32 count; export fewer documents per file`);
      const header = new Int32Array(256);
      header[0] = LLMC_MAGIC;
      header[1] = this.dtype === 'u16' ? 1 : 2;
      header[2] = this.tokens;
      this.sink.writeAt(new Uint8Array(header.buffer), 0);
    }
    this.sink.close();
  }
}

/** Reads an llm.c token file's header and checks the file size against it. */
export function readLlmcHeader(path: string): { dtype: ExportDType; tokens: number } {
  const fd = openSync(path, 'r');
  try {
    const head = Buffer.alloc(LLMC_HEADER_BYTES);
    if (readSync(fd, head, 0, LLMC_HEADER_BYTES, 0) < LLMC_HEADER_BYTES) throw new UserError(`${path}: shorter than llm.c's 1024-byte header`);
    if (head.readInt32LE(0) !== LLMC_MAGIC) throw new UserError(`${path}: magic ${head.readInt32LE(0)}, llm.c token files start with ${LLMC_MAGIC}`);
    const version = head.readInt32LE(4);
    if (version !== 1 && version !== 2) throw new UserError(`${path}: version ${version}; llm.c token files are version 1 (uint16) or 2 (uint32)`);
    const dtype: ExportDType = version === 1 ? 'u16' : 'u32';
    const tokens = head.readInt32LE(8);
    const expected = LLMC_HEADER_BYTES + tokens * (version === 1 ? 2 : 4);
    const size = statSync(path).size;
    if (size !== expected) throw new UserError(`${path}: ${size} bytes, the header's ${tokens} tokens imply ${expected}`);
    return { dtype, tokens };
  } finally {
    closeSync(fd);
  }
}
