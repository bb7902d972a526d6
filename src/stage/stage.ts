import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { hashValue } from '../common/hash.js';
import { readJsonIfExists, writeJsonAtomic } from '../common/fs-atomic.js';
import { UserError } from '../common/errors.js';

/**
 * The stage contract: a stage reads only its declared inputs and writes only its own folder; it
 * writes `manifest.json` last, atomically. A stage whose manifest matches (config hash and input
 * hashes) is skipped. A stage that was interrupted resumes from its per-shard completion markers,
 * as long as its config and inputs are unchanged; otherwise its folder is cleared and it starts over.
 */
export interface StageManifest<S = unknown> {
  stage: string;
  formatVersion: 1;
  configHash: string;
  inputHashes: Record<string, string>;
  stats: S;
  timings: { startedAt: string; finishedAt: string; seconds: number };
}

/** Written first, when a stage starts: the identity of the work the markers in this folder belong to. */
interface StageLock {
  stage: string;
  configHash: string;
  inputHashes: Record<string, string>;
}

export interface StageContext {
  /** The stage's own folder (created). */
  dir: string;
  /** True when this shard finished in an earlier, interrupted attempt of the same work. */
  isDone(shard: string): boolean;
  /** Records that a shard's outputs are complete (call after its files are renamed into place). */
  markDone(shard: string, info?: unknown): void;
  /** The info recorded with markDone, if any. */
  doneInfo<T = unknown>(shard: string): T | undefined;
  /** True when the folder held markers from an interrupted attempt of the same work. */
  resumed: boolean;
}

export interface StageSpec<S> {
  /** The folder under the run directory, e.g. 'corpus' or 'models/baseline'. */
  stage: string;
  runDir: string;
  /** The part of the config this stage depends on. */
  config: unknown;
  /** Hashes of the upstream stages this stage reads (see `inputHash`). */
  inputs?: Record<string, string>;
  /** Redo the stage even when its manifest matches. */
  force?: boolean;
  run: (ctx: StageContext) => Promise<S>;
}

export interface StageResult<S> {
  skipped: boolean;
  manifest: StageManifest<S>;
}

const MARKERS = '.done';
const LOCK = '.stage.json';

export function stageDir(runDir: string, stage: string): string {
  return join(runDir, stage);
}

export function readManifest<S = unknown>(runDir: string, stage: string): StageManifest<S> | undefined {
  return readJsonIfExists<StageManifest<S>>(join(stageDir(runDir, stage), 'manifest.json'));
}

/** The identity of a finished stage, for use in a downstream stage's `inputs`. Throws when it has not run. */
export function inputHash(runDir: string, stage: string, hint: string): string {
  const m = readManifest(runDir, stage);
  if (!m) throw new StageMissingError(runDir, stage, hint);
  return hashValue({ stage: m.stage, configHash: m.configHash, inputHashes: m.inputHashes });
}

export class StageMissingError extends UserError {
  constructor(runDir: string, stage: string, hint: string) {
    super(`${join(runDir, stage)} has no manifest.json: that stage has not finished. Run \`${hint}\` first.`);
  }
}

function markerName(shard: string): string {
  return shard.replace(/[^A-Za-z0-9._-]/g, '_');
}

export async function runStage<S>(spec: StageSpec<S>): Promise<StageResult<S>> {
  const dir = stageDir(spec.runDir, spec.stage);
  const configHash = hashValue(spec.config);
  const inputHashes = spec.inputs ?? {};
  const existing = readManifest<S>(spec.runDir, spec.stage);
  if (
    !spec.force &&
    existing &&
    existing.configHash === configHash &&
    hashValue(existing.inputHashes) === hashValue(inputHashes)
  ) {
    return { skipped: true, manifest: existing };
  }

  const lockPath = join(dir, LOCK);
  const lock = readJsonIfExists<StageLock>(lockPath);
  const sameWork =
    !spec.force && !existing && lock !== undefined && lock.configHash === configHash && hashValue(lock.inputHashes) === hashValue(inputHashes);
  if (!sameWork && existsSync(dir)) {
    // Different config or inputs (or --force): the old outputs are not this stage's any more.
    for (const name of readdirSync(dir)) rmSync(join(dir, name), { recursive: true, force: true });
  }
  mkdirSync(join(dir, MARKERS), { recursive: true });
  writeJsonAtomic(lockPath, { stage: spec.stage, configHash, inputHashes } satisfies StageLock);

  const ctx: StageContext = {
    dir,
    resumed: sameWork && readdirSync(join(dir, MARKERS)).length > 0,
    isDone: (shard) => existsSync(join(dir, MARKERS, markerName(shard))),
    markDone: (shard, info) => writeJsonAtomic(join(dir, MARKERS, markerName(shard)), info ?? {}),
    doneInfo: <T>(shard: string) => readJsonIfExists<T>(join(dir, MARKERS, markerName(shard))),
  };

  const startedAt = new Date();
  const stats = await spec.run(ctx);
  const finishedAt = new Date();
  const manifest: StageManifest<S> = {
    stage: spec.stage,
    formatVersion: 1,
    configHash,
    inputHashes,
    stats,
    timings: {
      startedAt: startedAt.toISOString(),
      finishedAt: finishedAt.toISOString(),
      seconds: (finishedAt.getTime() - startedAt.getTime()) / 1000,
    },
  };
  writeJsonAtomic(join(dir, 'manifest.json'), manifest);
  return { skipped: false, manifest };
}

