import { HashSet64 } from './hash-set-64.js';
import type { TextHash } from './text-hash.js';

/** Why a document (or record) did not make it into the corpus; every drop is counted by reason. */
export const DROP_REASONS = ['malformed', 'empty', 'too_short', 'too_long', 'duplicate'] as const;
export type DropReason = (typeof DROP_REASONS)[number];

/** A filter step: undefined keeps the document, a reason drops it. */
export type LengthFilter = (chars: number) => DropReason | undefined;

/** Keeps documents of minChars..maxChars characters (inclusive), counted after normalisation. */
export function lengthFilter(minChars: number, maxChars: number): LengthFilter {
  return (chars) => (chars === 0 ? 'empty' : chars < minChars ? 'too_short' : chars > maxChars ? 'too_long' : undefined);
}

/** Exact deduplication on the 64-bit hash of the normalised text; the first copy is kept. */
export class ExactDedup {
  private readonly seen = new HashSet64();

  check(h: TextHash): DropReason | undefined {
    return this.seen.add(h.hi, h.lo) ? undefined : 'duplicate';
  }

  get uniqueCount(): number {
    return this.seen.size;
  }
}
