import { join } from 'node:path';
import { UserError } from '../common/errors.js';
import { readJsonIfExists, writeJsonAtomic } from '../common/fs-atomic.js';
import { readCorpusDocs } from '../data/corpus-reader.js';
import type { CorpusSplit } from '../data/document.js';
import { ShardWriter } from '../data/shard-writer.js';
import { TokenDataset } from '../tokens/token-dataset.js';
import { writeDocList } from './doc-list-file.js';
import { inputHash, runStage, stageDir, type StageResult } from '../stage/stage.js';
import { hashOrder, selectSubsets } from './token-subsets.js';

export const SUBSET_STAGE = 'corpus';
export const SELECTION_FILE = 'selection.json';
export const ORACLE_DOCS_FILE = 'oracle-docs.bin';
export const VALIDATION_DOCS_FILE = 'validation-docs.bin';

export interface SubsetConfig {
  uniqueTokens: number;
  oracleFactor: number;
  subsetSalt: string;
  docsPerShard: number;
  /** Tokens of the validation split for the baseline search (0: none). */
  validationTokens: number;
}

/** selection.json: what the subset stage took, in the source's document numbers. */
export interface SubsetStats {
  salt: string;
  uniqueDocs: number;
  uniqueTokens: number; // framed (bos/eos) tokens
  oracleDocs: number;
  oracleTokens: number;
  /** The validation split of the baseline search (absent without one). */
  validationDocs?: number;
  validationTokens?: number;
  availableDocs: number;
  availableTokens: number;
  heldoutDocs: number;
}

export interface SubsetStageOptions {
  /** The experiment's run directory: the U corpus becomes its `corpus/`. */
  runDir: string;
  /** The run directory holding the full prepared corpus and its tokens (`<runDir>/source`). */
  sourceDir: string;
  config: SubsetConfig;
  force?: boolean;
}

/**
 * The experiment's `corpus/` stage: the U subset of the source corpus's train split (documents in
 * hash order until U tokens, see token-subsets.ts) as corpus shards, plus the whole held-out split,
 * so that every stage which reads the run's corpus — tokenizer, embed, pair, tune, synthesize, eval —
 * sees only the U data. Also writes `oracle-docs.bin`: the source train documents of the oracle
 * subset (a superset of U, in hash order), `validation-docs.bin` when the baseline search needs a
 * validation split (the last train documents in hash order, outside U and the oracle), and
 * `selection.json`.
 */
export async function runSubsetStage(opts: SubsetStageOptions): Promise<StageResult<SubsetStats>> {
  const { runDir, sourceDir, config } = opts;
  const inputs = {
    sourceCorpus: inputHash(sourceDir, 'corpus', 'sbp experiment'),
    sourceTokens: inputHash(sourceDir, 'tokens', 'sbp experiment'),
  };
  return runStage<SubsetStats>({
    stage: SUBSET_STAGE,
    runDir,
    // Without a search the identity is what it was before the validation split existed.
    config: config.validationTokens > 0 ? { formatVersion: 1, ...config } : { formatVersion: 1, uniqueTokens: config.uniqueTokens, oracleFactor: config.oracleFactor, subsetSalt: config.subsetSalt, docsPerShard: config.docsPerShard },
    inputs,
    force: opts.force,
    run: async (ctx) => {
      const tokens = TokenDataset.open(stageDir(sourceDir, 'tokens'), 'train', { hint: 'sbp experiment' });
      let ids: string[];
      let framed: Float64Array;
      try {
        ids = Array.from({ length: tokens.numDocs }, (_, i) => tokens.docId(i));
        framed = Float64Array.from({ length: tokens.numDocs }, (_, i) => tokens.docLength(i) + 2);
      } finally {
        tokens.close();
      }
      const sel = selectSubsets(hashOrder(ids, config.subsetSalt), framed, config.uniqueTokens, config.oracleFactor, config.validationTokens);
      const inU = new Uint8Array(ids.length);
      for (let k = 0; k < sel.uniqueDocs; k++) inU[sel.order[k]!] = 1;

      const sourceCorpus = stageDir(sourceDir, 'corpus');
      const copySplit = async (split: CorpusSplit, keep: (i: number) => boolean): Promise<number> => {
        const writer = new ShardWriter(ctx, split, config.docsPerShard);
        let i = 0;
        let kept = 0;
        try {
          for await (const doc of readCorpusDocs(sourceCorpus, split)) {
            if (split === 'train' && doc.id !== ids[i]) {
              throw new UserError(`${sourceCorpus}: train document ${i} is "${doc.id}" but its token shard says "${ids[i]}"; the source tokens are stale — rerun with --force`);
            }
            if (keep(i++)) {
              writer.add(JSON.stringify({ id: doc.id, text: doc.text, meta: doc.meta }), doc.text.length);
              kept++;
            }
          }
          writer.finish();
        } finally {
          writer.abort();
        }
        return kept;
      };
      const keptTrain = await copySplit('train', (i) => inU[i] === 1);
      if (keptTrain !== sel.uniqueDocs) throw new Error(`subset: wrote ${keptTrain} train documents, selected ${sel.uniqueDocs}`);
      const heldoutDocs = await copySplit('heldout', () => true);

      writeDocList(join(ctx.dir, ORACLE_DOCS_FILE), sel.order.subarray(0, sel.oracleDocs));
      if (sel.validationDocs > 0) writeDocList(join(ctx.dir, VALIDATION_DOCS_FILE), sel.order.subarray(sel.availableDocs - sel.validationDocs));
      const stats: SubsetStats = {
        salt: config.subsetSalt,
        uniqueDocs: sel.uniqueDocs,
        uniqueTokens: sel.uniqueTokens,
        oracleDocs: sel.oracleDocs,
        oracleTokens: sel.oracleTokens,
        ...(sel.validationDocs > 0 ? { validationDocs: sel.validationDocs, validationTokens: sel.validationTokens } : {}),
        availableDocs: sel.availableDocs,
        availableTokens: sel.availableTokens,
        heldoutDocs,
      };
      writeJsonAtomic(join(ctx.dir, SELECTION_FILE), stats);
      // The corpus report reads stats.json: the source's preparation figures, with what the subset took.
      const sourceStats = readJsonIfExists<Record<string, unknown>>(join(sourceCorpus, 'stats.json')) ?? {};
      writeJsonAtomic(join(ctx.dir, 'stats.json'), { ...sourceStats, experimentSubset: stats });
      return stats;
    },
  });
}
