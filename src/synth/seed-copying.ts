import { words } from './gopher-repetition.js';

/**
 * How much of a synthetic document is lifted from its seed: word n-grams (n = `ngramWords`) that also
 * occur in the seed. The synthesizer should write a new document about the seed's topic, not repeat
 * it; a shared run of `ngramWords` words or more is a copy (rare between independent texts once n is
 * a few dozen words, even on the same topic).
 */
export interface SeedCopying {
  sharedNgrams: number; // n-gram positions of the synthetic document also found in the seed
  coveredWordFraction: number; // synthetic words inside a shared n-gram
  copied: boolean; // sharedNgrams > 0
}

export function seedCopying(synthetic: string, seed: string, ngramWords: number): SeedCopying {
  const sw = words(seed);
  const dw = words(synthetic);
  if (sw.length < ngramWords || dw.length < ngramWords) return { sharedNgrams: 0, coveredWordFraction: 0, copied: false };
  const seedGrams = new Set<string>();
  for (let i = 0; i + ngramWords <= sw.length; i++) seedGrams.add(sw.slice(i, i + ngramWords).join('\u0001'));
  const covered = new Uint8Array(dw.length);
  let shared = 0;
  for (let i = 0; i + ngramWords <= dw.length; i++) {
    if (seedGrams.has(dw.slice(i, i + ngramWords).join('\u0001'))) {
      shared++;
      covered.fill(1, i, i + ngramWords);
    }
  }
  let c = 0;
  for (const x of covered) c += x;
  return { sharedNgrams: shared, coveredWordFraction: c / dw.length, copied: shared > 0 };
}
