import { createHash } from 'node:crypto';
import { UserError } from '../common/errors.js';

/**
 * The experiment's data subsets, drawn from the train split only (the held-out split is never
 * trained on). Documents are put in a deterministic hash order — SHA-256 of (salt, id) — and
 * the U subset is the shortest prefix of that order holding at least U tokens; the oracle subset
 * is the shortest prefix holding at least oracleFactor × U (or the whole split). Both are prefixes
 * of the same order, so the oracle data always contains the U data.
 */
export interface SubsetSelection {
  /** (numDocs,) document numbers of the train split in hash order. */
  order: Uint32Array;
  uniqueDocs: number; // order[0, uniqueDocs) is the U subset
  uniqueTokens: number;
  oracleDocs: number; // order[0, oracleDocs) is the oracle subset
  oracleTokens: number;
  availableDocs: number;
  availableTokens: number;
}

/** Document numbers 0..n-1 sorted by SHA-256(salt, id); equal hashes (never in practice) fall back to the number. */
export function hashOrder(ids: readonly string[], salt: string): Uint32Array {
  const keys = ids.map((id) => createHash('sha256').update(salt).update('\u0000').update(id).digest('hex').slice(0, 24));
  const order = Uint32Array.from(ids.keys());
  order.sort((a, b) => (keys[a]! < keys[b]! ? -1 : keys[a]! > keys[b]! ? 1 : a - b));
  return order;
}

/**
 * Cuts the hash order into the U and oracle prefixes.
 * @param tokens (numDocs,) tokens of each document as trained (framing included)
 */
export function selectSubsets(order: Uint32Array, tokens: ArrayLike<number>, uniqueTokens: number, oracleFactor: number): SubsetSelection {
  const n = order.length;
  let available = 0;
  for (let i = 0; i < n; i++) available += tokens[i]!;
  if (uniqueTokens > available) {
    throw new UserError(`experiment.uniqueTokens is ${uniqueTokens}, but the train split holds only ${available} tokens; lower experiment.uniqueTokens or use a bigger corpus`);
  }
  let k = 0;
  let sum = 0;
  while (k < n && sum < uniqueTokens) sum += tokens[order[k++]!]!;
  const uniqueDocs = k;
  const U = sum;
  const oracleTarget = oracleFactor * U;
  while (k < n && sum < oracleTarget) sum += tokens[order[k++]!]!;
  return { order, uniqueDocs, uniqueTokens: U, oracleDocs: k, oracleTokens: sum, availableDocs: n, availableTokens: available };
}
