import { repetitionStats, repetitionViolation, type RepetitionLimits } from './gopher-repetition.js';
import { seedCopying } from './seed-copying.js';

/**
 * The paper's Table 2, measured by rules where it used an LLM judge (lower is better):
 *   repetitionRate       documents breaking a Gopher repetition limit
 *   duplicateRate        documents whose exact text equals an earlier one in the same sample
 *   pairCopyingRate      documents sharing a run of `copyNgramWords` words with their seed (d1)
 *   pairIrrelevanceRate  documents whose embedding's cosine with their seed's is below the threshold
 * Pair measures are null for documents without a seed (real documents on their own).
 */
export interface QualityRates {
  docs: number;
  repetitionRate: number;
  duplicateRate: number;
  pairCopyingRate: number | null;
  pairIrrelevanceRate: number | null;
  meanSeedSimilarity: number | null;
  nonFactualRate?: number | null; // LLM judge, when configured
}

export interface QualityDoc {
  text: string;
  seed?: number; // the seed's (d1's) row in the corpus train split
}

export interface QualityOptions {
  limits: RepetitionLimits;
  copyNgramWords: number;
  seedText: (seed: number) => string;
  /** Unit vectors of texts (n, dim), in the space of `seedVector`; omit to skip irrelevance. */
  embed?: (texts: readonly string[]) => Promise<Float32Array>;
  seedVector?: (seed: number) => Float32Array;
  irrelevanceThreshold: number;
}

export async function measureQuality(docs: readonly QualityDoc[], opts: QualityOptions): Promise<QualityRates> {
  const n = docs.length;
  let repetitive = 0;
  let duplicates = 0;
  const seen = new Set<string>();
  let paired = 0;
  let copied = 0;
  for (const d of docs) {
    if (repetitionViolation(repetitionStats(d.text), opts.limits) !== null) repetitive++;
    if (seen.has(d.text)) duplicates++;
    else seen.add(d.text);
    if (d.seed !== undefined) {
      paired++;
      if (seedCopying(d.text, opts.seedText(d.seed), opts.copyNgramWords).copied) copied++;
    }
  }
  let irrelevance: number | null = null;
  let meanSim: number | null = null;
  const withSeed = docs.filter((d) => d.seed !== undefined);
  if (opts.embed && opts.seedVector && withSeed.length > 0) {
    const rows = await opts.embed(withSeed.map((d) => d.text));
    const dim = rows.length / withSeed.length;
    let below = 0;
    let sum = 0;
    withSeed.forEach((d, i) => {
      const v = opts.seedVector!(d.seed!);
      let s = 0;
      for (let k = 0; k < dim; k++) s += rows[i * dim + k]! * v[k]!;
      sum += s;
      if (s < opts.irrelevanceThreshold) below++;
    });
    irrelevance = below / withSeed.length;
    meanSim = sum / withSeed.length;
  }
  return {
    docs: n,
    repetitionRate: n > 0 ? repetitive / n : 0,
    duplicateRate: n > 0 ? duplicates / n : 0,
    pairCopyingRate: paired > 0 ? copied / paired : null,
    pairIrrelevanceRate: irrelevance,
    meanSeedSimilarity: meanSim,
  };
}
