/**
 * What every embedder implements. The embed stage hands each embedder the same view of a document:
 * its first N tokens under the run's tokenizer, and the text those tokens decode to. The `lm`
 * embedder reads the tokens; the text embedders (`use`, `http`, `hash`) read the text.
 */
export type EmbedderKind = 'lm' | 'use' | 'http' | 'hash';
export const EMBEDDER_KINDS: readonly EmbedderKind[] = ['lm', 'use', 'http', 'hash'];

export interface EmbedInput {
  /** The document's first N tokens under the run's tokenizer. */
  tokens: Int32Array;
  /** Those tokens decoded back to text. */
  text: string;
}

export interface Embedder {
  readonly kind: EmbedderKind;
  /** Output width; known once the embedder is created. */
  readonly dim: number;
  /**
   * Embeds a batch of documents into (n, dim) row-major f32, one row per input in order. Rows need
   * not be normalised (the stage L2-normalises them); an all-zero row means "nothing to embed".
   * `onProgress` is called with the number of inputs finished since the last call.
   */
  embed(inputs: readonly EmbedInput[], onProgress?: (done: number) => void): Promise<Float32Array>;
  /** Releases models, sockets and workers. */
  close?(): Promise<void>;
}

/**
 * L2-normalises each row of (n, dim) in place; all-zero rows stay zero (inner product 0 with every
 * other vector, so they never pair). Returns the number of zero rows. A non-finite value is a bug
 * in the embedder (or a broken server) and throws.
 */
export function normalizeRows(rows: Float32Array, dim: number): number {
  const n = rows.length / dim;
  let zeros = 0;
  for (let i = 0; i < n; i++) {
    const off = i * dim;
    let ss = 0;
    for (let j = 0; j < dim; j++) {
      const v = rows[off + j]!;
      ss += v * v;
    }
    if (!Number.isFinite(ss)) throw new Error(`row ${i} has a non-finite value (NaN or Infinity)`);
    if (ss === 0) {
      zeros++;
      continue;
    }
    const inv = 1 / Math.sqrt(ss);
    for (let j = 0; j < dim; j++) rows[off + j] *= inv;
  }
  return zeros;
}

/** Inner product of rows i of a and j of b (both with width dim). */
export function dotRows(a: Float32Array, i: number, b: Float32Array, j: number, dim: number): number {
  let s = 0;
  for (let k = 0; k < dim; k++) s += a[i * dim + k]! * b[j * dim + k]!;
  return s;
}
