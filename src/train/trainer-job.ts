import { mkdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { formatCount } from '../common/progress.js';
import { writeJsonAtomic } from '../common/fs-atomic.js';
import type { TorchEngineConfig } from '../config/schema.js';
import { toHfConfig } from '../model/config.js';
import { saveModelFolder } from '../model/hf-folder.js';
import type { LlamaModel } from '../model/llama.js';
import type { Batch } from '../model/types.js';
import { decayMask } from './adamw.js';
import { BatchFileWriter } from './batch-file.js';
import type { BatchSource } from './batch-source.js';
import type { TrainerConfig } from './trainer.js';

/** The folder a training stage writes for an outside trainer, inside the stage folder. */
export const TRAINER_JOB_DIR = 'trainer-job';
export const TRAINER_JOB_FILE = 'job.json';
/** Written by the trainer into the stage folder when it ends (finished or interrupted). */
export const TRAINER_RESULT_FILE = 'trainer-result.json';
/** Created by sbp in the job folder to ask the trainer to checkpoint and stop. */
export const TRAINER_STOP_FILE = 'STOP';

/** job.json, version 1 (docs/trainers.md). Paths are relative to the job folder. */
export interface TrainerJob {
  format: 'sbp-trainer-job';
  version: 1;
  engine: string;
  model: {
    init: string; // Hugging Face folder with the initial weights
    config: Record<string, unknown>; // its config.json
    numParams: number;
    params: Array<{ name: string; shape: number[]; decay: boolean }>; // every trainable tensor, in sbp's order
  };
  optimizer: { kind: 'adamw'; beta1: number; beta2: number; eps: number; weightDecay: number };
  schedule: { kind: 'warmup-cosine'; peakLr: number; floorLr: number; warmupSteps: number; totalSteps: number };
  clip: number;
  steps: number;
  gradAccumSteps: number;
  microBatchRows: number; // B of every batch in the data files
  seqLen: number; // T
  globalBatchRows: number; // gradAccumSteps · B: rows per optimizer step
  tokensPerStep: number;
  data: { train: string; heldout: string | null; batchesPerStep: number };
  evalEvery: number;
  checkpointEvery: number;
  logEvery: number;
  maxBadSteps: number;
  out: string; // the stage folder: metrics.jsonl, checkpoint/, the final model, trainer-result.json
  torch: TorchEngineConfig | null;
  cpuThreads: number | null; // the CPU threads sbp's backend uses (`threads`); trainers on a CPU share them among their processes
}

export interface WriteJobOptions {
  model: LlamaModel;
  data: BatchSource;
  heldout?: readonly Batch[];
  cfg: TrainerConfig;
  dir: string; // the stage folder
  engine: string;
  log: (line: string) => void;
}

/**
 * Writes `<dir>/trainer-job/`: job.json, init/ (the starting weights as a Hugging Face folder, so the
 * trainer starts from exactly sbp's initialisation), train.batches (every batch the BatchSource yields
 * for the whole run, `steps · gradAccumSteps` of them, in order) and heldout.batches. Randomness lives
 * in sbp (initial weights, document order), so a trainer that honours the contract needs no seed.
 * The batch files are streamed, so memory stays constant; they are rewritten on every launch from a
 * fresh source, which also leaves the source's counters as if sbp had trained on it.
 */
export function writeTrainerJob(o: WriteJobOptions): { jobDir: string; jobPath: string; job: TrainerJob } {
  const { model, data, cfg } = o;
  const jobDir = join(o.dir, TRAINER_JOB_DIR);
  mkdirSync(jobDir, { recursive: true });
  rmSync(join(jobDir, TRAINER_STOP_FILE), { force: true });
  const initDir = join(jobDir, 'init');
  mkdirSync(initDir, { recursive: true });
  saveModelFolder(initDir, model);

  const vocabSize = model.config.vocabSize;
  const total = cfg.steps * cfg.gradAccumSteps;
  const t0 = performance.now();
  const trainPath = join(jobDir, 'train.batches');
  let writer: BatchFileWriter | null = null;
  try {
    for (let i = 0; i < total; i++) {
      const b = data.next();
      writer ??= new BatchFileWriter(trainPath, { B: b.B, T: b.T, hasMask: b.mask !== null, vocabSize });
      writer.add(b);
    }
    writer!.finish();
  } catch (err) {
    writer?.abort();
    throw err;
  }
  let heldoutName: string | null = null;
  if (o.heldout && o.heldout.length > 0) {
    heldoutName = 'heldout.batches';
    const first = o.heldout[0]!;
    const hw = new BatchFileWriter(join(jobDir, heldoutName), { B: first.B, T: first.T, hasMask: first.mask !== null, vocabSize });
    try {
      for (const b of o.heldout) hw.add(b);
      hw.finish();
    } catch (err) {
      hw.abort();
      throw err;
    }
  }
  o.log(`trainer job: ${total} batches of (${data.B}, ${data.T}) in ${trainPath} (${formatCount(statSync(trainPath).size)}B, ${((performance.now() - t0) / 1000).toFixed(1)} s)`);

  const decay = decayMask(model.paramTable, cfg);
  const job: TrainerJob = {
    format: 'sbp-trainer-job',
    version: 1,
    engine: o.engine,
    model: {
      init: 'init',
      config: toHfConfig(model.config),
      numParams: model.numParams,
      params: model.paramTable.map((e, i) => ({ name: e.name, shape: [...e.shape], decay: decay[i]! })),
    },
    optimizer: { kind: 'adamw', beta1: cfg.beta1, beta2: cfg.beta2, eps: cfg.eps, weightDecay: cfg.weightDecay },
    schedule: { kind: 'warmup-cosine', peakLr: cfg.lr, floorLr: cfg.lrFloor, warmupSteps: Math.round(cfg.warmupFraction * cfg.steps), totalSteps: cfg.steps },
    clip: cfg.clip,
    steps: cfg.steps,
    gradAccumSteps: cfg.gradAccumSteps,
    microBatchRows: data.B,
    seqLen: data.T,
    globalBatchRows: data.B * cfg.gradAccumSteps,
    tokensPerStep: data.tokensPerBatch * cfg.gradAccumSteps,
    data: { train: 'train.batches', heldout: heldoutName, batchesPerStep: cfg.gradAccumSteps },
    evalEvery: cfg.evalEvery,
    checkpointEvery: cfg.checkpointEvery,
    logEvery: cfg.logEvery,
    maxBadSteps: cfg.maxBadSteps,
    out: '..',
    torch: cfg.torch ?? null,
    cpuThreads: (model.backend as { threads?: number }).threads ?? null,
  };
  const jobPath = join(jobDir, TRAINER_JOB_FILE);
  writeJsonAtomic(jobPath, job);
  return { jobDir, jobPath, job };
}
