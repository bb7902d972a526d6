import type { Neighbours } from './neighbours.js';

/** Directed pairs (d1 → d2) as parallel arrays of vector-set rows and cosine similarities. */
export interface PairList {
  d1: Uint32Array;
  d2: Uint32Array;
  sims: Float32Array;
}

/** Why a neighbour did not become a pair; every neighbour the search returns is counted once. */
export interface PairDrops {
  /** The document found itself. */
  self: number;
  /** The (k+1)-th neighbour, searched for in case the document itself is among the first k+1, when it was not. */
  beyond_k: number;
  /** Similarity not above α. */
  below_alpha: number;
  /** Word-shingle Jaccard (MinHash estimate) at or above the near-duplicate threshold. */
  near_duplicate: number;
}

export function noDrops(): PairDrops {
  return { self: 0, beyond_k: 0, below_alpha: 0, near_duplicate: 0 };
}

/**
 * Turns a (k+1)-neighbour search into at most k candidate pairs per query: the query's own row is
 * dropped as `self`, and when it was not among the results the last one is dropped as `beyond_k`.
 * Output order: query order, then the search's order (similarity descending).
 *
 * queryRows: (q,) the vector-set row of each query; neighbours: (q, k+1).
 */
export function selectCandidates(queryRows: Uint32Array, neighbours: Neighbours, k: number, drops: PairDrops): PairList {
  if (neighbours.k !== k + 1) throw new Error(`selectCandidates: expected a search for k+1 = ${k + 1} neighbours, got ${neighbours.k}`);
  if (neighbours.queries !== queryRows.length) throw new Error(`selectCandidates: ${neighbours.queries} result rows for ${queryRows.length} queries`);
  const kk = k + 1;
  const d1 = new Uint32Array(queryRows.length * k);
  const d2 = new Uint32Array(queryRows.length * k);
  const sims = new Float32Array(queryRows.length * k);
  let n = 0;
  for (let i = 0; i < queryRows.length; i++) {
    const self = queryRows[i]!;
    let taken = 0;
    for (let j = 0; j < kk; j++) {
      const r = neighbours.rows[i * kk + j]!;
      if (r < 0) continue;
      if (r === self) {
        drops.self++;
        continue;
      }
      if (taken === k) {
        drops.beyond_k++;
        continue;
      }
      d1[n] = self;
      d2[n] = r;
      sims[n] = neighbours.sims[i * kk + j]!;
      n++;
      taken++;
    }
  }
  return { d1: d1.slice(0, n), d2: d2.slice(0, n), sims: sims.slice(0, n) };
}

/** The pairs at the positions where `keep` is 1, in order. */
export function filterPairs(pairs: PairList, keep: Uint8Array): PairList {
  let n = 0;
  for (let i = 0; i < keep.length; i++) n += keep[i]!;
  const out: PairList = { d1: new Uint32Array(n), d2: new Uint32Array(n), sims: new Float32Array(n) };
  let o = 0;
  for (let i = 0; i < keep.length; i++) {
    if (!keep[i]) continue;
    out.d1[o] = pairs.d1[i]!;
    out.d2[o] = pairs.d2[i]!;
    out.sims[o] = pairs.sims[i]!;
    o++;
  }
  return out;
}
