import type { BackendFactory } from '../engine/open-backend.js';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../common/errors.js';
import type { RunConfig } from '../config/schema.js';
import { inputHash, runStage, stageDir, type StageResult } from '../stage/stage.js';
import type { Backend } from '../engine/backend.js';
import { loadModelFolder, saveModelFolder } from '../model/hf-folder.js';
import { fromHfConfig, resolveModelConfig } from '../model/config.js';
import { LlamaModel } from '../model/llama.js';
import type { ModelConfig } from '../model/types.js';
import { Tokenizer, tokenizerFiles } from '../tokenizer/tokenizer.js';
import { TokenDataset, listTokenShards } from '../tokens/token-dataset.js';
import { heldoutBatches } from './heldout-batches.js';
import { hfModelStore } from './hf-model-store.js';
import { resolveModelDir } from '../stage/model-dir.js';
import { PackedBatchSource } from './packed-batch-source.js';
import type { FramingTokens } from './batch-source.js';
import { trainExternal } from './external-trainer.js';
import { train, type EvalMetrics, type TrainerConfig, type TrainOptions, type TrainResult } from './trainer.js';

export interface TrainStageOptions {
  cfg: RunConfig;
  runDir: string;
  modelName: string; // output folder models/<modelName>
  createBackend: BackendFactory;
  force?: boolean;
  quiet?: boolean;
  /** Polled after each step; true = checkpoint now and stop (SIGINT). */
  shouldStop?: (step: number) => boolean;
  log?: (line: string) => void;
}

export interface TrainStageStats {
  modelConfig: ModelConfig;
  numParams: number;
  backend: string;
  steps: number;
  tokens: number;
  skippedSteps: number;
  finalLoss: number | null;
  heldout: EvalMetrics | null;
  trainTokensPerSec: number;
  initFrom: string | null;
}

/** Training was stopped by request; the checkpoint is written and the same command resumes. */
export class TrainingInterrupted extends Error {
  constructor(
    readonly step: number,
    readonly checkpointDir: string,
  ) {
    super(`training interrupted after step ${step}; checkpoint in ${checkpointDir} — rerun the same command to resume`);
    this.name = 'TrainingInterrupted';
  }
}

/**
 * The training step every model stage shares (baseline, synthesizer, the experiment's runs): train in
 * the stage folder with Hugging Face checkpoints, turn an interrupt into `TrainingInterrupted`, and
 * save the final model as the stage's Hugging Face folder.
 */
export async function trainIntoStage(
  opts: Omit<TrainOptions, 'dir' | 'models' | 'model'> & { model: LlamaModel; dir: string; tokenizerPath: string },
): Promise<TrainResult> {
  const { tokenizerPath, ...trainOpts } = opts;
  // train.engine picks the trainer (docs/trainers.md); every stage that ends here gets every engine.
  const result =
    (opts.cfg.engine ?? 'sbp') === 'sbp'
      ? await train({ ...trainOpts, models: hfModelStore({ tokenizerJsonPath: tokenizerPath }) })
      : await trainExternal(trainOpts);
  if (result.status === 'interrupted') throw new TrainingInterrupted(result.step, join(opts.dir, 'checkpoint'));
  saveModelFolder(opts.dir, opts.model, { tokenizer: tokenizerFiles(tokenizerPath) });
  return result;
}

/** What every training stage sets up the same way before it trains (`sbp train`, the experiment's runs). */
export interface TrainRunSetup {
  tokenizerPath: string;
  framing: FramingTokens;
  modelConfig: ModelConfig;
  seed: number;
}

/** `tokenizer/tokenizer.json` of the run; a user error with `hint` when it is missing. */
export function runTokenizerPath(runDir: string, hint: string): string {
  const path = join(stageDir(runDir, 'tokenizer'), 'tokenizer.json');
  if (!existsSync(path)) throw new UserError(`${path} is missing; ${hint}`);
  return path;
}

/**
 * The run's tokenizer (`tokenizer/tokenizer.json`) and its framing tokens, the model config — the
 * `model` section with the tokenizer's special tokens, or `modelConfig` when the model starts from a
 * folder — checked against the data's vocabulary and `train.seqLen`, and the training seed.
 */
export function prepareTrainRun(o: { cfg: RunConfig; runDir: string; vocabSize: number; hint: string; modelConfig?: ModelConfig }): TrainRunSetup {
  const tc = o.cfg.train;
  const tokenizerPath = runTokenizerPath(o.runDir, o.hint);
  const special = Tokenizer.load(tokenizerPath).special;
  const framing: FramingTokens = { bos: special.bos, eos: special.eos, sep: special.sep, pad: special.pad };
  const modelConfig: ModelConfig = o.modelConfig ?? {
    ...resolveModelConfig(o.cfg.model, { vocabSize: o.vocabSize, source: 'model' }),
    bosTokenId: special.bos,
    eosTokenId: special.eos,
    padTokenId: special.pad,
  };
  if (modelConfig.vocabSize < o.vocabSize) {
    throw new UserError(`train.initFrom: the model's vocabulary (${modelConfig.vocabSize}) is smaller than the tokenizer's (${o.vocabSize}); it was trained with another tokenizer`);
  }
  if (tc.seqLen > modelConfig.maxSeqLen) throw new UserError(`train.seqLen ${tc.seqLen} exceeds the model's context (model.maxSeqLen ${modelConfig.maxSeqLen})`);
  return { tokenizerPath, framing, modelConfig, seed: tc.seed ?? o.cfg.seed };
}

/**
 * The `models/<name>` stage: tokens/ (+ tokenizer/, + an initial model when fine-tuning) → a trained
 * Hugging Face folder, metrics.jsonl, the resumable checkpoint/ and manifest.json. The model is a fresh
 * Llama from the `model` config section, or `train.initFrom` (a run model name or a folder).
 */
export async function runTrainStage(opts: TrainStageOptions): Promise<StageResult<TrainStageStats>> {
  const { cfg, runDir, modelName } = opts;
  if (!/^[A-Za-z0-9._-]+$/.test(modelName)) throw new UserError(`--model ${modelName}: a model name uses letters, digits, ".", "_" and "-" only`);
  const tc = cfg.train;
  const tokensDir = stageDir(runDir, 'tokens');
  const inputs: Record<string, string> = { tokens: inputHash(runDir, 'tokens', 'sbp tokenize') };
  const init = tc.initFrom ? resolveModelDir(runDir, tc.initFrom, 'train.initFrom') : null;
  if (init) inputs.initFrom = init.inputHash;
  if (init?.runModel === modelName) throw new UserError(`train.initFrom: model "${modelName}" cannot start from itself; choose another --model name`);
  const tokenizerHint = 'run `sbp tokenizer train` first';
  runTokenizerPath(runDir, tokenizerHint); // before the data: the first missing piece is named

  const trainData = TokenDataset.open(tokensDir, tc.trainSplit, { hint: 'sbp tokenize' });
  const evalWanted = tc.evalTokens > 0;
  if (evalWanted && listTokenShards(tokensDir, tc.heldoutSplit).length === 0) {
    trainData.close();
    throw new UserError(`${tokensDir}: no ${tc.heldoutSplit}-*.tok shards for held-out evaluation; tokenize a held-out split (prepare.heldOutFraction > 0) or set train.evalTokens=0`);
  }
  const heldoutData = evalWanted ? TokenDataset.open(tokensDir, tc.heldoutSplit, { hint: 'sbp tokenize' }) : null;
  try {
    const backend = await opts.createBackend(tc.backend, cfg.threads);
    const { tokenizerPath, framing, modelConfig, seed } = prepareTrainRun({
      cfg,
      runDir,
      vocabSize: trainData.vocabSize,
      hint: tokenizerHint,
      modelConfig: init ? readHfConfig(join(init.dir, 'config.json')) : undefined,
    });
    const tokensPerStep = tc.batchSize * tc.seqLen * tc.gradAccumSteps;
    const steps = tc.totalTokens !== undefined ? Math.ceil(tc.totalTokens / tokensPerStep) : tc.steps;
    const trainerCfg: TrainerConfig = { ...tc, steps };
    // threads and backend choose how, not what, is computed: they stay out of the identity of the stage.
    const { backend: _backend, ...identity } = tc;
    return await runStage<TrainStageStats>({
      stage: join('models', modelName),
      runDir,
      config: { model: modelConfig, train: { ...identity, steps }, seed },
      inputs,
      force: opts.force,
      run: async (ctx) => {
        const model = init ? loadModelFolder(init.dir, backend) : new LlamaModel(modelConfig, backend, { seed });
        const data = new PackedBatchSource(trainData, tc.batchSize, tc.seqLen, framing, seed, `${tokensDir} (${tc.trainSplit})`);
        const heldout = heldoutData ? heldoutBatches(heldoutData, tc.batchSize, tc.seqLen, framing, tc.evalTokens) : undefined;
        const result = await trainIntoStage({
          model,
          data,
          heldout,
          cfg: trainerCfg,
          dir: ctx.dir,
          tokenizerPath,
          shouldStop: opts.shouldStop,
          quiet: opts.quiet,
          log: opts.log,
        });
        return {
          modelConfig,
          numParams: model.numParams,
          backend: backend.name,
          steps: result.step,
          tokens: result.tokens,
          skippedSteps: result.skippedSteps,
          finalLoss: result.lastLoss,
          heldout: result.heldout,
          trainTokensPerSec: result.tokensPerSec,
          initFrom: init?.dir ?? null,
        };
      },
    });
  } finally {
    trainData.close();
    heldoutData?.close();
  }
}

function readHfConfig(path: string): ModelConfig {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new UserError(`${path}: not valid JSON (${(err as Error).message})`);
  }
  return fromHfConfig(json, path);
}
