import { createHash } from 'node:crypto';
import { UserError } from '../common/errors.js';

/**
 * The experiment's data subsets, drawn from the train split only (the held-out split is never
 * trained on). Documents are put in a deterministic hash order — SHA-256 of (salt, id) — and
 * the U subset is the shortest prefix of that order holding at least U tokens; the oracle subset
 * is the shortest prefix holding at least oracleFactor × U (or the whole split). Both are prefixes
 * of the same order, so the oracle data always contains the U data. A validation split (for the
 * baseline's regularization search) is the shortest suffix of the order holding validationTokens:
 * no run trains on it, so the oracle stops where it starts.
 */
export interface SubsetSelection {
  /** (numDocs,) document numbers of the train split in hash order. */
  order: Uint32Array;
  uniqueDocs: number; // order[0, uniqueDocs) is the U subset
  uniqueTokens: number;
  oracleDocs: number; // order[0, oracleDocs) is the oracle subset
  oracleTokens: number;
  validationDocs: number; // order[n - validationDocs, n) is the validation split (0 without a search)
  validationTokens: number;
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
export function selectSubsets(order: Uint32Array, tokens: ArrayLike<number>, uniqueTokens: number, oracleFactor: number, validationTokens = 0): SubsetSelection {
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
  let v = n;
  let validation = 0;
  while (v > uniqueDocs && validation < validationTokens) validation += tokens[order[--v]!]!;
  if (validationTokens > 0 && validation < validationTokens) {
    throw new UserError(`experiment.baselineSearch.validationTokens is ${validationTokens}, but the train split holds only ${validation} tokens outside U; lower it or experiment.uniqueTokens`);
  }
  const oracleTarget = oracleFactor * U;
  while (k < v && sum < oracleTarget) sum += tokens[order[k++]!]!;
  return { order, uniqueDocs, uniqueTokens: U, oracleDocs: k, oracleTokens: sum, validationDocs: n - v, validationTokens: validation, availableDocs: n, availableTokens: available };
}
