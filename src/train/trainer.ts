import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../common/errors.js';
import type { TorchEngineConfig, TrainEngine } from '../config/schema.js';
import { Progress, formatCount } from '../common/progress.js';
import type { Batch, LanguageModel } from '../model/types.js';
import { AdamW, decayMask } from './adamw.js';
import type { BatchSource } from './batch-source.js';
import { CheckpointStore, type ModelStore, type TrainerState } from './checkpoint-store.js';
import { learningRate } from './lr-schedule.js';

/** What the training loop needs (the `train` config section minus data and model choices). */
export interface TrainerConfig {
  steps: number; // optimizer steps in the whole run
  gradAccumSteps: number; // micro-batches per step
  lr: number; // peak learning rate
  lrFloor: number; // cosine ends here
  warmupFraction: number; // of `steps`
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  decayEmbeddings: boolean;
  noDecay: readonly string[];
  clip: number; // max global gradient L2 norm; 0 = off
  evalEvery: number; // steps between held-out evaluations; 0 = only at the end
  checkpointEvery: number; // steps between checkpoints; 0 = only at the end and on interrupt
  logEvery: number; // steps between metrics rows
  maxBadSteps: number; // consecutive non-finite steps before stopping
  /** Which trainer runs the loop (docs/trainers.md); absent = sbp. `train` itself is the sbp engine. */
  engine?: TrainEngine;
  command?: string; // engine command: the shell command that honours the trainer contract
  torch?: TorchEngineConfig; // engine torch: how PyTorch is launched
}

export interface StepMetrics {
  step: number; // steps done, counting this one
  tokens: number;
  lr: number;
  loss: number | null; // null when non-finite
  gradNorm: number | null; // before clipping; null when non-finite
  skipped: boolean; // non-finite loss or gradient: no update
  tokensPerSec: number;
  epochs?: number;
}

export interface EvalMetrics {
  step: number;
  tokens: number;
  heldoutLoss: number; // mean nats per counted token
  heldoutPpl: number;
  heldoutTokens: number;
}

export interface TrainOptions {
  model: LanguageModel;
  data: BatchSource;
  heldout?: readonly Batch[];
  cfg: TrainerConfig;
  /** Output folder: metrics.jsonl and the checkpoint/ folder. */
  dir: string;
  models: ModelStore;
  /** Polled after every step (SIGINT flag, tests): true = checkpoint and return 'interrupted'. */
  shouldStop?: (step: number) => boolean;
  onStep?: (m: StepMetrics) => void;
  onEval?: (m: EvalMetrics) => void;
  quiet?: boolean;
  log?: (line: string) => void;
}

export interface TrainResult {
  status: 'finished' | 'interrupted';
  resumedFrom: number | null; // step of the checkpoint this call started from
  step: number;
  tokens: number;
  skippedSteps: number;
  lastLoss: number | null;
  heldout: EvalMetrics | null;
  seconds: number;
  tokensPerSec: number;
}

/** Training stopped because the loss or gradient stayed non-finite. */
export class NonFiniteTrainingError extends UserError {}

/**
 * The training loop: gradient accumulation, global-norm clipping, AdamW (decoupled decay) under a
 * warm-up + cosine schedule, held-out evaluation, metrics as JSONL, checkpoints on a schedule and when
 * `shouldStop` says so. If `dir` holds a checkpoint, training resumes from it: weights, moments, step
 * and data position are restored, so the continued run computes the same floats as an uninterrupted one.
 * A step whose loss or gradient norm is not finite is skipped (no update); `maxBadSteps` of them in a
 * row stop training with a NonFiniteTrainingError, and non-finite weights are never checkpointed.
 */
export async function train(opts: TrainOptions): Promise<TrainResult> {
  const { model, data, cfg, dir } = opts;
  validate(cfg);
  const be = model.backend;
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  mkdirSync(dir, { recursive: true });
  const metricsPath = join(dir, 'metrics.jsonl');
  const store = new CheckpointStore(dir, opts.models);
  const optimizer = new AdamW(model, cfg, decayMask(model.paramTable, cfg));
  const schedule = { peak: cfg.lr, floor: cfg.lrFloor, warmupSteps: Math.round(cfg.warmupFraction * cfg.steps), totalSteps: cfg.steps };

  let state: TrainerState = {
    formatVersion: 1,
    step: 0,
    tokens: 0,
    totalSteps: cfg.steps,
    optimizerStep: 0,
    skippedSteps: 0,
    consecutiveBad: 0,
    data: data.state(),
    lastLoss: null,
    lastHeldout: null,
    savedAt: '',
  };
  let resumedFrom: number | null = null;
  const latest = store.latest();
  if (latest) {
    state = store.load(latest, model, optimizer);
    if (state.totalSteps !== cfg.steps) {
      throw new UserError(`${latest}: the checkpoint belongs to a run of ${state.totalSteps} steps, the config asks for ${cfg.steps}; rerun with --force to start over`);
    }
    data.restore(state.data);
    resumedFrom = state.step;
    truncateMetrics(metricsPath, state.step);
    log(`resuming from step ${state.step} (${formatCount(state.tokens)} tokens)`);
  } else if (existsSync(metricsPath)) {
    writeFileSync(metricsPath, '');
  }

  const tokensPerStep = data.tokensPerBatch * cfg.gradAccumSteps;
  const progress = new Progress({ label: 'train', total: (cfg.steps - state.step) * tokensPerStep, unit: 'tok', quiet: opts.quiet });
  const t0 = performance.now();
  let trainMs = 0; // time in steps only (not eval / checkpoint), for tokens/s
  let sessionTokens = 0;
  let lastEval: EvalMetrics | null = null;
  const writeRow = (row: object) => appendFileSync(metricsPath, JSON.stringify(row) + '\n');
  const checkpoint = () => {
    state.data = data.state();
    state.optimizerStep = optimizer.step;
    state.savedAt = new Date().toISOString();
    store.save(model, optimizer, state);
  };
  const evaluate = () => {
    if (!opts.heldout || opts.heldout.length === 0) return;
    lastEval = { step: state.step, tokens: state.tokens, ...heldoutLoss(model, opts.heldout) };
    state.lastHeldout = { loss: lastEval.heldoutLoss, ppl: lastEval.heldoutPpl, step: state.step };
    writeRow({ kind: 'eval', ...lastEval });
    opts.onEval?.(lastEval);
  };

  if (state.step === 0 && cfg.evalEvery > 0) evaluate(); // the starting point of the held-out curve

  let interrupted = false;
  while (state.step < cfg.steps) {
    const ts = performance.now();
    model.zeroGrads();
    let lossSum = 0;
    for (let a = 0; a < cfg.gradAccumSteps; a++) {
      const r = model.forwardBackward(data.next(), { gradScale: 1 / cfg.gradAccumSteps });
      lossSum += r.loss;
    }
    const loss = lossSum / cfg.gradAccumSteps;
    const sq = be.sumSquares(model.grads);
    const gradNorm = Math.sqrt(sq);
    const lr = learningRate(schedule, state.step);
    const finite = Number.isFinite(loss) && Number.isFinite(sq);
    if (finite) {
      if (cfg.clip > 0 && gradNorm > cfg.clip) be.scale(model.grads, cfg.clip / gradNorm);
      optimizer.update(lr);
      state.consecutiveBad = 0;
      state.lastLoss = loss;
    } else {
      state.skippedSteps++;
      state.consecutiveBad++;
    }
    be.sync();
    state.step++;
    state.tokens += tokensPerStep;
    sessionTokens += tokensPerStep;
    trainMs += performance.now() - ts;
    const m: StepMetrics = {
      step: state.step,
      tokens: state.tokens,
      lr,
      loss: Number.isFinite(loss) ? loss : null,
      gradNorm: Number.isFinite(gradNorm) ? gradNorm : null,
      skipped: !finite,
      tokensPerSec: (sessionTokens / trainMs) * 1000,
    };
    if (!finite || state.step % cfg.logEvery === 0 || state.step === cfg.steps) writeRow({ kind: 'step', ...m });
    opts.onStep?.(m);
    progress.add(tokensPerStep, `step ${state.step}/${cfg.steps} loss ${m.loss?.toFixed(4) ?? 'NaN'} lr ${lr.toExponential(2)}`);
    if (!finite) {
      log(`step ${state.step}: non-finite ${Number.isFinite(loss) ? 'gradient' : 'loss'} (loss ${loss}, grad norm ${gradNorm}); step skipped (${state.consecutiveBad} in a row)`);
      if (state.consecutiveBad >= cfg.maxBadSteps) {
        progress.finish();
        throw new NonFiniteTrainingError(nonFiniteStopMessage(state, resumedFrom, store.latest(), Number.isFinite(be.sumSquares(model.params))));
      }
    }

    const last = state.step === cfg.steps;
    if ((cfg.evalEvery > 0 && state.step % cfg.evalEvery === 0) || last) evaluate();
    const stop = !last && (opts.shouldStop?.(state.step) ?? false);
    // Skipped steps leave the weights untouched, so a checkpoint here still holds the last finite ones.
    if ((cfg.checkpointEvery > 0 && state.step % cfg.checkpointEvery === 0) || last || stop) checkpoint();
    if (stop) {
      interrupted = true;
      break;
    }
    // Yield to the event loop so a SIGINT handler can run between steps.
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  progress.finish();
  const seconds = (performance.now() - t0) / 1000;
  return {
    status: interrupted ? 'interrupted' : 'finished',
    resumedFrom,
    step: state.step,
    tokens: state.tokens,
    skippedSteps: state.skippedSteps,
    lastLoss: state.lastLoss,
    heldout: lastEval,
    seconds,
    tokensPerSec: trainMs > 0 ? (sessionTokens / trainMs) * 1000 : 0,
  };
}

/** Mean loss and perplexity over fixed held-out batches. */
export function heldoutLoss(model: LanguageModel, batches: readonly Batch[]): { heldoutLoss: number; heldoutPpl: number; heldoutTokens: number } {
  let sum = 0;
  let tokens = 0;
  for (const b of batches) {
    const r = model.evalLoss(b);
    sum += r.sumLoss;
    tokens += r.tokens;
  }
  const loss = tokens > 0 ? sum / tokens : NaN;
  return { heldoutLoss: loss, heldoutPpl: Math.exp(loss), heldoutTokens: tokens };
}

/** Drops metrics rows written after the checkpoint we resume from (a crash after the last checkpoint). */
function truncateMetrics(path: string, step: number): void {
  if (!existsSync(path)) return;
  const kept = readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .filter((line) => {
      try {
        return (JSON.parse(line) as { step: number }).step <= step;
      } catch {
        return false; // a row cut by the interruption
      }
    });
  writeFileSync(path, kept.map((l) => l + '\n').join(''));
}

function validate(cfg: TrainerConfig): void {
  const wholes: Array<keyof TrainerConfig> = ['steps', 'gradAccumSteps', 'logEvery', 'maxBadSteps'];
  for (const k of wholes) {
    const v = cfg[k] as number;
    if (!Number.isInteger(v) || v < 1) throw new UserError(`train.${k} must be a whole number >= 1, got ${v}`);
  }
  if (!(cfg.lr > 0)) throw new UserError(`train.lr must be > 0, got ${cfg.lr}`);
  if (!(cfg.lrFloor >= 0 && cfg.lrFloor <= cfg.lr)) throw new UserError(`train.lrFloor must be in [0, train.lr], got ${cfg.lrFloor}`);
  if (!(cfg.warmupFraction >= 0 && cfg.warmupFraction <= 1)) throw new UserError(`train.warmupFraction must be in [0, 1], got ${cfg.warmupFraction}`);
}

/**
 * Why training stopped after `maxBadSteps` non-finite steps, in words that are true of this run: the
 * weights a skipped step leaves are those of the last good step, so when they are finite the cause is
 * the step size or the data; when every step since a resume failed, the checkpoint itself is suspect.
 */
export function nonFiniteStopMessage(state: TrainerState, resumedFrom: number | null, lastCheckpoint: string | undefined, weightsFinite: boolean): string {
  const first = state.step - state.consecutiveBad + 1;
  const head = `training stopped: the loss or gradient was non-finite for ${state.consecutiveBad} steps in a row (steps ${first}..${state.step}). `;
  if (!weightsFinite) {
    return `${head}The weights themselves are non-finite${resumedFrom !== null ? ` (resumed from ${lastCheckpoint ?? 'a checkpoint'} at step ${resumedFrom})` : ' (from the initial model)'}; rerun with --force to start over, or start from another model.`;
  }
  if (resumedFrom !== null && first === resumedFrom + 1) {
    return `${head}Every step since resuming from ${lastCheckpoint ?? 'the checkpoint'} (step ${resumedFrom}) failed, so that checkpoint may be the cause: rerun with --force to start over, or lower train.lr / set train.clip.`;
  }
  const ckpt = lastCheckpoint ? ` The last checkpoint (${lastCheckpoint}) was saved before these steps and its weights were checked finite when written.` : '';
  return `${head}The weights are still finite (skipped steps do not change them).${ckpt} Lower train.lr, set train.clip, or check the data for bad tokens.`;
}
