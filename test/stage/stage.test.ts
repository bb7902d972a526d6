import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runStage, inputHash, StageMissingError } from '../../src/stage/stage.js';
import { tempDir } from '../helpers.js';

test('a finished stage is skipped; a changed config reruns it from scratch', async () => {
  const runDir = tempDir();
  let calls = 0;
  const spec = (n: number) => ({
    stage: 's1',
    runDir,
    config: { n },
    run: async (ctx: { dir: string }) => {
      calls++;
      writeFileSync(join(ctx.dir, 'out.txt'), String(n));
      return { n };
    },
  });
  const a = await runStage(spec(1));
  assert.equal(a.skipped, false);
  assert.ok(existsSync(join(runDir, 's1/manifest.json')));
  const b = await runStage(spec(1));
  assert.equal(b.skipped, true);
  assert.equal(calls, 1);
  await runStage(spec(2));
  assert.equal(calls, 2);
  assert.equal(readFileSync(join(runDir, 's1/out.txt'), 'utf8'), '2');
});

test('an interrupted stage resumes from its shard markers', async () => {
  const runDir = tempDir();
  const shardsRun: string[] = [];
  const work = (failAt?: string) => ({
    stage: 's2',
    runDir,
    config: { k: 1 },
    run: async (ctx: import('../../src/stage/stage.js').StageContext) => {
      for (const shard of ['a', 'b', 'c']) {
        if (ctx.isDone(shard)) continue;
        if (shard === failAt) throw new Error('killed');
        shardsRun.push(shard);
        ctx.markDone(shard, { shard });
      }
      return { resumed: ctx.resumed };
    },
  });
  await assert.rejects(runStage(work('b')), /killed/);
  assert.ok(!existsSync(join(runDir, 's2/manifest.json')), 'no manifest after a failure');
  const r = await runStage(work());
  assert.deepEqual(shardsRun, ['a', 'b', 'c']);
  assert.deepEqual(r.manifest.stats, { resumed: true });
});

test('inputHash names the command to run when the upstream stage is missing', () => {
  const runDir = tempDir();
  assert.throws(() => inputHash(runDir, 'corpus', 'sbp prepare'), (e: unknown) => e instanceof StageMissingError && /sbp prepare/.test((e as Error).message));
});
