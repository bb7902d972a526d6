import { UserError } from '../common/errors.js';

/**
 * Document vectors in corpus order: row i is the embedding of document ids[i]. This is what pair
 * mining needs from the embed stage, independent of how the vectors were stored.
 */
export interface VectorSet {
  ids: readonly string[];
  dim: number;
  vectors: Float32Array; // (ids.length, dim)
}

/**
 * Checks shape and values; `origin` names the file (or caller) in messages. Non-finite values are a
 * user error because they come from a broken embed run, not from this code.
 */
export function checkVectorSet(set: VectorSet, origin: string): void {
  if (!Number.isInteger(set.dim) || set.dim <= 0) throw new UserError(`${origin}: vector dimension must be a positive integer, got ${set.dim}`);
  if (set.ids.length === 0) throw new UserError(`${origin}: holds no vectors; pair mining needs at least 2 documents (check the corpus and rerun \`sbp embed\`)`);
  if (set.vectors.length !== set.ids.length * set.dim) {
    throw new UserError(
      `${origin}: ${set.vectors.length} values do not make ${set.ids.length} vectors of dimension ${set.dim} ` +
        `(expected ${set.ids.length * set.dim}); the dimension does not match the data — rerun \`sbp embed\``,
    );
  }
  for (let i = 0; i < set.vectors.length; i++) {
    if (!Number.isFinite(set.vectors[i]!)) {
      const row = Math.floor(i / set.dim);
      throw new UserError(`${origin}: row ${row} (document ${JSON.stringify(set.ids[row])}) holds a non-finite value at column ${i % set.dim}; rerun \`sbp embed\` for that corpus`);
    }
  }
}

/**
 * Copies `vectors` (n, dim) with every row scaled to unit length, so inner products are cosine
 * similarities. A zero row stays zero (similarity 0 to everything).
 */
export function normalizeRows(vectors: Float32Array, dim: number): Float32Array {
  const out = new Float32Array(vectors.length);
  for (let off = 0; off < vectors.length; off += dim) {
    let ss = 0;
    for (let j = 0; j < dim; j++) ss += vectors[off + j]! * vectors[off + j]!;
    const inv = ss > 0 ? 1 / Math.sqrt(ss) : 0;
    for (let j = 0; j < dim; j++) out[off + j] = vectors[off + j]! * inv;
  }
  return out;
}
