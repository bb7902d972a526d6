/**
 * The result of a k-nearest-neighbour search, exact or approximate: for each query row its `k` best
 * base rows by cosine similarity, best first. Rows that the search could not fill hold -1 (and NaN
 * similarity), e.g. when the base has fewer than k rows.
 */
export interface Neighbours {
  k: number;
  queries: number;
  rows: Int32Array; // (queries, k) base row index, -1 when empty
  sims: Float32Array; // (queries, k) cosine similarity, NaN when empty
}
