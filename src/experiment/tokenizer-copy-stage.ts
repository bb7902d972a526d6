import { copyFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../common/errors.js';
import { readJsonIfExists } from '../common/fs-atomic.js';
import { inputHash, runStage, stageDir, type StageResult } from '../stage/stage.js';

/**
 * The experiment's `tokenizer/` stage: the tokenizer trained on the source corpus's train split,
 * copied in so that the run's own stages (tokenize, embed, train, tune, synthesize, eval) find it
 * where they always look. The subset selection counts tokens, so the tokenizer has to exist before
 * the subsets do; all three runs share it (it is part of the model), and it never sees held-out text.
 */
export async function runTokenizerCopyStage(opts: { runDir: string; sourceDir: string; force?: boolean }): Promise<StageResult<unknown>> {
  return runStage<unknown>({
    stage: 'tokenizer',
    runDir: opts.runDir,
    config: { copiedFrom: 'source' },
    inputs: { sourceTokenizer: inputHash(opts.sourceDir, 'tokenizer', 'sbp experiment') },
    force: opts.force,
    run: async (ctx) => {
      const from = stageDir(opts.sourceDir, 'tokenizer');
      const json = join(from, 'tokenizer.json');
      if (!existsSync(json)) throw new UserError(`${json} is missing although its stage finished; rerun with --force`);
      copyFileSync(json, join(ctx.dir, 'tokenizer.json'));
      if (existsSync(join(from, 'stats.json'))) copyFileSync(join(from, 'stats.json'), join(ctx.dir, 'stats.json'));
      return readJsonIfExists<{ stats: unknown }>(join(from, 'manifest.json'))?.stats ?? {};
    },
  });
}
