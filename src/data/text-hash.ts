import { createHash } from 'node:crypto';

/**
 * One SHA-256 per normalised document, salted by the split seed, gives both the dedup key (first 8
 * bytes, as two uint32 halves) and the split draw (next 6 bytes as a uniform number in [0, 1)).
 * Equal texts get equal keys and equal draws, so duplicates never straddle the split.
 */
export interface TextHash {
  hi: number; // uint32
  lo: number; // uint32
  /** Uniform in [0, 1) with 48 bits of resolution. */
  draw: number;
}

export function hashText(text: string, splitSeed: string): TextHash {
  const d = createHash('sha256').update(splitSeed).update('\u0000').update(text).digest();
  return { hi: d.readUInt32BE(0), lo: d.readUInt32BE(4), draw: d.readUIntBE(8, 6) / 2 ** 48 };
}
