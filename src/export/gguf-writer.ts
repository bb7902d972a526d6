import { BinarySink } from './binary-sink.js';

/**
 * A GGUF (version 3) file writer: the format llama.cpp, ollama and LM Studio load. Layout, all
 * little-endian: "GGUF", u32 version, u64 tensor count, u64 key/value count, the key/values, the
 * tensor infos (name, n_dims, dims innermost first, ggml type, offset into the data), padding to
 * `general.alignment` (32), then each tensor's data, each padded to the alignment. Written from the
 * format's description in ggml's docs/gguf.md; the Python `gguf` package reads the result in the tests.
 */
export const GGUF_ALIGNMENT = 32;

const T = { u8: 0, i8: 1, u16: 2, i16: 3, u32: 4, i32: 5, f32: 6, bool: 7, string: 8, array: 9, u64: 10, i64: 11, f64: 12 } as const;
export type GgufValue =
  | { type: 'u32' | 'i32' | 'f32' | 'u64' | 'f64'; value: number }
  | { type: 'bool'; value: boolean }
  | { type: 'string'; value: string }
  | { type: 'array-string'; value: readonly string[] }
  | { type: 'array-i32'; value: ArrayLike<number> };

export interface GgufTensor {
  name: string;
  shape: readonly number[]; // row-major, outermost first (as in PyTorch); written reversed
  data: () => Float32Array; // F32 data, asked for when it is written
}

class Bytes {
  private parts: Buffer[] = [];
  length = 0;
  push(b: Buffer): void {
    this.parts.push(b);
    this.length += b.length;
  }
  u32(v: number): void {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v);
    this.push(b);
  }
  u64(v: number): void {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(v));
    this.push(b);
  }
  str(s: string): void {
    const b = Buffer.from(s, 'utf8');
    this.u64(b.length);
    this.push(b);
  }
  take(): Buffer {
    const out = Buffer.concat(this.parts, this.length);
    this.parts = [];
    this.length = 0;
    return out;
  }
}

function writeValue(o: Bytes, v: GgufValue): void {
  switch (v.type) {
    case 'u32': o.u32(T.u32); o.u32(v.value); break;
    case 'i32': { o.u32(T.i32); const b = Buffer.alloc(4); b.writeInt32LE(v.value); o.push(b); break; }
    case 'f32': { o.u32(T.f32); const b = Buffer.alloc(4); b.writeFloatLE(v.value); o.push(b); break; }
    case 'f64': { o.u32(T.f64); const b = Buffer.alloc(8); b.writeDoubleLE(v.value); o.push(b); break; }
    case 'u64': o.u32(T.u64); o.u64(v.value); break;
    case 'bool': o.u32(T.bool); o.push(Buffer.of(v.value ? 1 : 0)); break;
    case 'string': o.u32(T.string); o.str(v.value); break;
    case 'array-string': o.u32(T.array); o.u32(T.string); o.u64(v.value.length); for (const s of v.value) o.str(s); break;
    case 'array-i32': {
      o.u32(T.array); o.u32(T.i32); o.u64(v.value.length);
      const b = Buffer.alloc(4 * v.value.length);
      for (let i = 0; i < v.value.length; i++) b.writeInt32LE(v.value[i]!, 4 * i);
      o.push(b);
      break;
    }
  }
}

const pad = (n: number) => (GGUF_ALIGNMENT - (n % GGUF_ALIGNMENT)) % GGUF_ALIGNMENT;

/** Writes `path` (via `<path>.partial`); tensors are F32 (ggml type 0). Returns the bytes written. */
export function writeGguf(path: string, kv: ReadonlyArray<[string, GgufValue]>, tensors: readonly GgufTensor[]): number {
  const sink = new BinarySink(path);
  try {
    const o = new Bytes();
    o.push(Buffer.from('GGUF', 'latin1'));
    o.u32(3);
    o.u64(tensors.length);
    o.u64(kv.length + 1);
    o.str('general.alignment');
    writeValue(o, { type: 'u32', value: GGUF_ALIGNMENT });
    for (const [key, value] of kv) {
      o.str(key);
      writeValue(o, value);
    }
    let offset = 0;
    for (const t of tensors) {
      o.str(t.name);
      o.u32(t.shape.length);
      for (let d = t.shape.length - 1; d >= 0; d--) o.u64(t.shape[d]!);
      o.u32(0); // GGML_TYPE_F32
      o.u64(offset);
      const bytes = 4 * t.shape.reduce((a, b) => a * b, 1);
      offset += bytes + pad(bytes);
    }
    const head = o.take();
    sink.write(head);
    sink.write(new Uint8Array(pad(head.length)));
    for (const t of tensors) {
      const data = t.data();
      const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
      if (bytes.length !== 4 * t.shape.reduce((a, b) => a * b, 1)) throw new Error(`gguf: tensor ${t.name} has ${data.length} values, its shape [${t.shape.join(', ')}] needs more or fewer`);
      sink.write(bytes);
      sink.write(new Uint8Array(pad(bytes.length)));
    }
    sink.close();
    return sink.bytes;
  } catch (err) {
    sink.abandon();
    throw err;
  }
}
