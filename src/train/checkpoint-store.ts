import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { readJsonIfExists, writeJsonAtomic } from '../common/fs-atomic.js';
import { UserError } from '../common/errors.js';
import { recordChecksums, verifyChecksums } from '../common/file-checksums.js';
import type { LanguageModel } from '../model/types.js';
import type { AdamW } from './adamw.js';
import type { BatchSourceState } from './batch-source.js';

/** How model weights go to and come back from a folder (the model package's Hugging Face folder in production). */
export interface ModelStore {
  /** Writes a self-contained model folder (config + weights + whatever else makes it loadable). */
  save(dir: string, model: LanguageModel): void;
  /** Overwrites `model`'s parameters with the ones saved in `dir` (same architecture). */
  loadInto(dir: string, model: LanguageModel): void;
}

/** trainer-state.json: everything besides weights and moments that resuming needs. */
export interface TrainerState {
  formatVersion: 1;
  step: number; // training steps done (applied + skipped)
  tokens: number; // training tokens consumed
  totalSteps: number;
  optimizerStep: number; // applied AdamW updates (bias correction)
  skippedSteps: number; // steps dropped for a non-finite loss or gradient
  consecutiveBad: number;
  data: BatchSourceState; // position in the training data (its RNG is derived from seed and epoch)
  lastLoss: number | null;
  lastHeldout: { loss: number; ppl: number; step: number } | null;
  savedAt: string;
}

export const CHECKPOINT_DIR = 'checkpoint';
const STATE_FILE = 'trainer-state.json';
const OPTIMIZER_FILE = 'optimizer.bin';

/**
 * The resumable state of a training run lives in `<dir>/checkpoint/`: the model folder, optimizer.bin
 * and trainer-state.json. A new checkpoint is written whole into `checkpoint.tmp/` and swapped in by
 * renames, so an interruption at any moment leaves one complete checkpoint (`checkpoint/`, or
 * `checkpoint.old/` during the swap).
 */
export class CheckpointStore {
  constructor(
    readonly dir: string,
    private readonly models: ModelStore,
  ) {}

  get path(): string {
    return join(this.dir, CHECKPOINT_DIR);
  }

  /** The folder of the latest complete checkpoint, or undefined when there is none. */
  latest(): string | undefined {
    for (const name of [CHECKPOINT_DIR, `${CHECKPOINT_DIR}.old`]) {
      const p = join(this.dir, name);
      if (existsSync(join(p, STATE_FILE))) return p;
    }
    return undefined;
  }

  save(model: LanguageModel, optimizer: AdamW, state: TrainerState): void {
    const sq = model.backend.sumSquares(model.params);
    if (!Number.isFinite(sq)) throw new Error(`refusing to checkpoint non-finite weights at step ${state.step}`);
    const tmp = join(this.dir, `${CHECKPOINT_DIR}.tmp`);
    const old = join(this.dir, `${CHECKPOINT_DIR}.old`);
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp, { recursive: true });
    this.models.save(tmp, model);
    optimizer.save(join(tmp, OPTIMIZER_FILE));
    writeJsonAtomic(join(tmp, STATE_FILE), state);
    recordChecksums(tmp, [OPTIMIZER_FILE, STATE_FILE]);
    rmSync(old, { recursive: true, force: true });
    if (existsSync(this.path)) renameSync(this.path, old);
    renameSync(tmp, this.path);
    rmSync(old, { recursive: true, force: true });
  }

  /** Restores weights and moments from `from`; returns the trainer state. */
  load(from: string, model: LanguageModel, optimizer: AdamW): TrainerState {
    verifyChecksums(from, `delete ${from} to restart training from scratch (or rerun with --force)`, [STATE_FILE, OPTIMIZER_FILE]);
    const state = readJsonIfExists<TrainerState>(join(from, STATE_FILE));
    if (!state || state.formatVersion !== 1) throw new UserError(`${join(from, STATE_FILE)}: missing or of an unknown format; delete ${from} to restart training`);
    this.models.loadInto(from, model);
    optimizer.load(join(from, OPTIMIZER_FILE));
    if (optimizer.step !== state.optimizerStep) {
      throw new UserError(`${from}: optimizer.bin is at update ${optimizer.step} but trainer-state.json says ${state.optimizerStep}; the checkpoint is inconsistent — delete it to restart`);
    }
    return state;
  }
}
