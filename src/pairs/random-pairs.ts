import { join } from 'node:path';
import { UserError } from '../common/errors.js';
import { writeJsonAtomic } from '../common/fs-atomic.js';
import { EMBED_STAGE, VECTORS_FILE } from '../embed/embed-stage.js';
import { VectorsReader } from '../embed/vectors-file.js';
import { inputHash, runStage, stageDir, type StageResult } from '../stage/stage.js';
import { KeyedRandom } from '../tokens/keyed-random.js';
import type { PairList } from './pair-list.js';
import { PAIR_STATS_FILE, PAIRS_FILE } from './pair-stage.js';
import { readPairsFile, writePairsFile } from './pairs-file.js';

export interface RandomPairsStats {
  /** The mined pairs stage whose count this stage matches. */
  matches: string;
  pairs: number;
  documents: number;
  /** Mean cosine similarity of the random pairs, and of the mined ones they stand in for. */
  meanSimilarity: number | null;
  minedMeanSimilarity: number | null;
}

/**
 * `count` directed pairs (d1 → d2) of distinct documents drawn uniformly from `documents`, each
 * pair at most once, sorted by d1 (the pairs file's order; similarity fills in later). Needs
 * count ≤ documents · (documents − 1).
 */
export function drawRandomPairs(documents: number, count: number, seed: number): { d1: Uint32Array; d2: Uint32Array } {
  if (count > documents * (documents - 1)) throw new UserError(`random pairs: ${count} pairs asked of ${documents} documents, which hold only ${documents * (documents - 1)} distinct pairs`);
  const rng = new KeyedRandom(seed, 0x7a125);
  const seen = new Set<number>();
  const out: Array<[number, number]> = [];
  while (out.length < count) {
    const a = rng.below(documents);
    const b = rng.below(documents - 1);
    const d2 = b >= a ? b + 1 : b; // never a itself
    const key = a * documents + d2;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push([a, d2]);
  }
  out.sort((x, y) => x[0] - y[0] || x[1] - y[1]);
  return { d1: Uint32Array.from(out, (p) => p[0]), d2: Uint32Array.from(out, (p) => p[1]) };
}

/**
 * The randompairs control's pairs stage (`pairs-random/`): as many random document pairs as the
 * mined pairs stage `minedStage` kept, over the same documents (the rows of `embed/vectors.bin`),
 * in the pairs file format with each pair's cosine similarity, so the synthesizer is tuned on them
 * exactly as on mined pairs. What the control isolates is the neighbour relation itself.
 */
export async function runRandomPairsStage(opts: { runDir: string; stage: string; minedStage: string; seed: number; force?: boolean }): Promise<StageResult<RandomPairsStats>> {
  const { runDir } = opts;
  return runStage<RandomPairsStats>({
    stage: opts.stage,
    runDir,
    config: { formatVersion: 1, seed: opts.seed },
    inputs: { mined: inputHash(runDir, opts.minedStage, 'sbp pair'), embed: inputHash(runDir, EMBED_STAGE, 'sbp embed') },
    force: opts.force,
    run: async (ctx) => {
      const mined = readPairsFile(join(stageDir(runDir, opts.minedStage), PAIRS_FILE));
      const reader = VectorsReader.open(join(stageDir(runDir, EMBED_STAGE), VECTORS_FILE));
      let vectors: Float32Array;
      const dim = reader.dim;
      try {
        vectors = reader.readAll();
      } finally {
        reader.close();
      }
      const n = reader.count;
      if (n !== mined.documents) throw new UserError(`${opts.minedStage}/${PAIRS_FILE} was mined over ${mined.documents} documents but embed/ holds ${n}; rerun \`sbp experiment\``);
      const count = mined.pairs.d1.length;
      const drawn = drawRandomPairs(n, count, opts.seed);
      const sims = new Float32Array(count);
      for (let i = 0; i < count; i++) {
        const a = drawn.d1[i]! * dim;
        const b = drawn.d2[i]! * dim;
        let dot = 0;
        for (let j = 0; j < dim; j++) dot += vectors[a + j]! * vectors[b + j]!;
        sims[i] = dot;
      }
      // The file's order: by d1, then similarity descending.
      const idx = Array.from({ length: count }, (_, i) => i).sort((x, y) => drawn.d1[x]! - drawn.d1[y]! || sims[y]! - sims[x]!);
      const pairs: PairList = { d1: Uint32Array.from(idx, (i) => drawn.d1[i]!), d2: Uint32Array.from(idx, (i) => drawn.d2[i]!), sims: Float32Array.from(idx, (i) => sims[i]!) };
      writePairsFile(join(ctx.dir, PAIRS_FILE), { documents: n, vectorsChecksum: mined.vectorsChecksum, pairs });
      const mean = (xs: Float32Array) => (xs.length > 0 ? xs.reduce((a, b) => a + b, 0) / xs.length : null);
      const stats: RandomPairsStats = { matches: opts.minedStage, pairs: count, documents: n, meanSimilarity: mean(pairs.sims), minedMeanSimilarity: mean(mined.pairs.sims) };
      writeJsonAtomic(join(ctx.dir, PAIR_STATS_FILE), stats);
      return stats;
    },
  });
}
