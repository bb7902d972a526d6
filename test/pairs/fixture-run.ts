import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runStage } from '../../src/stage/stage.js';
import { writeVectorsFile } from '../../src/embed/vectors-file.js';
import { tempDir } from '../helpers.js';
import { gaussian } from './clustered-vectors.js';

export interface PairFixture {
  runsDir: string;
  runDir: string;
  ids: string[];
  texts: string[];
  /** Topic group of each row (-1 for the empty document). */
  group: number[];
  /** Rows whose texts are near-duplicates of each other: [a, b] with a < b. */
  nearDuplicates: Array<[number, number]>;
}

export const FIXTURE_GROUPS = 20;
export const FIXTURE_GROUP_SIZE = 3;
export const FIXTURE_NEAR_DUPLICATE_GROUPS = 5;

/**
 * A run directory holding what `sbp prepare` and `sbp embed` leave, with a known answer: 20 topic
 * groups of 3 documents whose vectors are almost equal inside a group (cosine ≈ 0.99) and unrelated
 * across groups, plus one empty document with a zero vector (the last row). In groups 0–4 the second
 * text is the first with its last word changed (a near-duplicate); every other text is distinct.
 * Corpus in two train shards, vectors in f16.
 */
export async function pairFixtureRun(dim = 32): Promise<PairFixture> {
  const runsDir = tempDir('sbp-pair-');
  const runDir = join(runsDir, 'fx');
  const g = gaussian(11);
  const ids: string[] = [];
  const texts: string[] = [];
  const group: number[] = [];
  const rows: number[] = [];
  for (let grp = 0; grp < FIXTURE_GROUPS; grp++) {
    const centre = Array.from({ length: dim }, () => g());
    for (let m = 0; m < FIXTURE_GROUP_SIZE; m++) {
      const words = Array.from({ length: 40 }, (_, j) => `topic${grp}member${m}word${j}`);
      if (m === 1 && grp < FIXTURE_NEAR_DUPLICATE_GROUPS) {
        words.splice(0, words.length, ...Array.from({ length: 40 }, (_, j) => (j === 39 ? 'changed' : `topic${grp}member0word${j}`)));
      }
      ids.push(`fx:${grp}-${m}`);
      texts.push(words.join(' '));
      group.push(grp);
      for (let j = 0; j < dim; j++) rows.push(centre[j]! + 0.05 * g());
    }
  }
  ids.push('fx:empty');
  texts.push('');
  group.push(-1);
  for (let j = 0; j < dim; j++) rows.push(0);

  const docs = ids.map((id, i) => ({ id, text: texts[i]!, meta: { group: group[i] } }));
  await runStage({
    stage: 'corpus',
    runDir,
    config: { fixture: 'pairs' },
    run: async (ctx) => {
      mkdirSync(ctx.dir, { recursive: true });
      const half = 31;
      writeFileSync(join(ctx.dir, 'train-00000.jsonl'), docs.slice(0, half).map((d) => JSON.stringify(d) + '\n').join(''));
      writeFileSync(join(ctx.dir, 'train-00001.jsonl'), docs.slice(half).map((d) => JSON.stringify(d) + '\n').join(''));
      writeFileSync(join(ctx.dir, 'heldout-00000.jsonl'), JSON.stringify({ id: 'h:0', text: 'held out', meta: {} }) + '\n');
      return {};
    },
  });
  await runStage({
    stage: 'embed',
    runDir,
    config: { fixture: 'pairs', dim },
    run: async (ctx) => {
      writeVectorsFile(join(ctx.dir, 'vectors.bin'), { dtype: 'f16', dim, ids, rows: Float32Array.from(rows) });
      return {};
    },
  });
  const nearDuplicates: Array<[number, number]> = [];
  for (let grp = 0; grp < FIXTURE_NEAR_DUPLICATE_GROUPS; grp++) nearDuplicates.push([grp * 3, grp * 3 + 1]);
  return { runsDir, runDir, ids, texts, group, nearDuplicates };
}
