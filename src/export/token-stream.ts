import type { TokenArray } from '../tokens/shard-format.js';
import type { TokenizedDocuments } from '../tokens/token-dataset.js';

/** Token ids as written to files: uint16 when every id fits, else uint32 (int32 in Megatron). */
export type ExportDType = 'u16' | 'u32';

export function exportDType(vocabSize: number): ExportDType {
  return vocabSize <= 65_536 ? 'u16' : 'u32';
}

/** The ids of one document framed as sbp trains on it: `[bos] doc [eos]`. */
export interface DocumentFraming {
  bos: number;
  eos: number;
}

/**
 * Documents `first..end-1` of a dataset in their stored order, each framed `[bos] doc [eos]` in one
 * reused buffer (valid until the next step). The same stream feeds every token exporter, so their
 * files hold the same tokens in the same order.
 */
export function* framedDocuments(data: TokenizedDocuments, framing: DocumentFraming, first = 0, end = data.numDocs): Generator<{ index: number; tokens: Uint32Array }> {
  let buf = new Uint32Array(1024);
  for (let i = first; i < end; i++) {
    const doc: TokenArray = data.doc(i);
    const n = doc.length + 2;
    if (n > buf.length) buf = new Uint32Array(Math.max(n, buf.length * 2));
    buf[0] = framing.bos;
    buf.set(doc, 1);
    buf[n - 1] = framing.eos;
    yield { index: i, tokens: buf.subarray(0, n) };
  }
}

/** Little-endian bytes of ids in the given dtype (a view when the platform is little-endian and no narrowing is needed). */
export function tokenBytes(ids: Uint32Array, dtype: ExportDType, scratch: { buf: Uint16Array }): Uint8Array {
  if (dtype === 'u32') return new Uint8Array(ids.buffer, ids.byteOffset, ids.byteLength);
  if (scratch.buf.length < ids.length) scratch.buf = new Uint16Array(Math.max(ids.length, scratch.buf.length * 2));
  const out = scratch.buf.subarray(0, ids.length);
  out.set(ids); // ids were checked against the vocabulary: they fit
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}
