import type { CorpusSplit } from './document.js';
import { DROP_REASONS, type DropReason } from './filters.js';
import type { SourceCounters } from './source-context.js';

/** `corpus/stats.json` (also the `stats` of the stage manifest). Characters are Unicode code points. */
export interface CorpusStats {
  /** Records read from the sources: documents plus malformed records. docsIn = docsOut + Σ drops. */
  docsIn: number;
  /** Characters of the documents as read, before normalisation (malformed records count 0). */
  charsIn: number;
  docsOut: number;
  /** Characters written, after normalisation. */
  charsOut: number;
  drops: Record<DropReason, number>;
  /** Documents whose text normalisation changed. */
  normalized: number;
  /** Documents whose bytes were not valid UTF-8 and were repaired (bad bytes → U+FFFD). */
  invalidUtf8Repaired: number;
  /** Documents that held NUL bytes, which normalisation removed (a repair, like invalid UTF-8). */
  nulBytesRemoved: number;
  splits: Record<CorpusSplit, { docs: number; chars: number; shards: number }>;
  /** True when prepare.maxDocs stopped reading before the sources were exhausted. */
  stoppedAtMaxDocs: boolean;
  /** Per-source counters, in the order the sources were read (sources after a maxDocs stop are absent). */
  sources: SourceCounters[];
}

export function newCorpusStats(): CorpusStats {
  return {
    docsIn: 0,
    charsIn: 0,
    docsOut: 0,
    charsOut: 0,
    drops: Object.fromEntries(DROP_REASONS.map((r) => [r, 0])) as Record<DropReason, number>,
    normalized: 0,
    invalidUtf8Repaired: 0,
    nulBytesRemoved: 0,
    splits: { train: { docs: 0, chars: 0, shards: 0 }, heldout: { docs: 0, chars: 0, shards: 0 } },
    stoppedAtMaxDocs: false,
    sources: [],
  };
}
