/**
 * Test hooks: the one way a test reaches into a stage to simulate a crash mid-run, so that resume can
 * be tested end to end. A stage that has them takes `testHooks?: StageTestHooks` in its options; a
 * unit is the stage's unit of resumption (a shard, a search block). The CLI fills the hooks from one
 * environment variable per command, all named SBP_<STAGE>_FAIL_AFTER_<UNITS> and listed in
 * TEST_HOOK_ENV; the SBP_<STAGE>_STOP_AFTER_<UNITS> variables (an interrupt as by Ctrl-C) are read by
 * the CLI's runInterruptible. None of them is for users.
 */
export interface StageTestHooks {
  /** Throw, as a kill would, once this many units were done in this attempt. */
  failAfterUnits?: number;
  /** Called after each finished unit with its name; a test throws from it to crash in between. */
  afterUnit?: (unit: string) => void;
}

/** Every test-hook environment variable and the stage option it sets. */
export const TEST_HOOK_ENV = {
  SBP_TOKENIZE_FAIL_AFTER_SHARDS: 'tokens: failAfterUnits (token shards)',
  SBP_EMBED_FAIL_AFTER_SHARDS: 'embed: failAfterUnits (vector shards)',
  SBP_PAIR_FAIL_AFTER_BLOCKS: 'pairs: failAfterUnits (search blocks)',
  SBP_SYNTH_FAIL_AFTER_SHARDS: 'synth: failAfterShards (synthetic shards)',
  SBP_SYNTH_STOP_AFTER_SHARDS: 'synth: an interrupt after this many shards',
  SBP_TRAIN_STOP_AFTER_STEPS: 'train, experiment: an interrupt after this many steps',
  SBP_TUNE_STOP_AFTER_STEPS: 'tune: an interrupt after this many steps',
} as const;

export type TestHookEnv = keyof typeof TEST_HOOK_ENV;

/** The hooks a test asked for through `env` (one of TEST_HOOK_ENV), or undefined when it is unset. */
export function testHooksFromEnv(env: TestHookEnv): StageTestHooks | undefined {
  const raw = process.env[env];
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`${env} must be a whole number, got '${raw}'`);
  return { failAfterUnits: n };
}

/** True when the hooks ask to fail now, `done` units into this attempt. */
export function shouldFailAfter(hooks: StageTestHooks | undefined, done: number): boolean {
  return hooks?.failAfterUnits !== undefined && done >= hooks.failAfterUnits;
}
