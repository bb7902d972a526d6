import type { BackendFactory } from '../engine/open-backend.js';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../common/errors.js';
import type { RunConfig } from '../config/schema.js';
import type { Backend } from '../engine/backend.js';
import { resolveModelConfig } from '../model/config.js';
import { LlamaModel } from '../model/llama.js';
import type { ModelConfig } from '../model/types.js';
import { Tokenizer } from '../tokenizer/tokenizer.js';
import { MixtureSampler, type MixtureComponent } from '../tokens/mixture-sampler.js';
import { TokenDataset, listTokenShards, type TokenizedDocuments } from '../tokens/token-dataset.js';
import type { BatchSource } from '../train/batch-source.js';
import { heldoutBatches } from '../train/heldout-batches.js';
import { PackedBatchSource } from '../train/packed-batch-source.js';
import { prepareTrainRun, trainIntoStage, type TrainStageStats } from '../train/train-stage.js';
import { heldoutLoss, type TrainerConfig } from '../train/trainer.js';
import { readDocList } from './doc-list-file.js';
import { DocumentSubset } from './document-subset.js';
import { MixtureBatchSource } from './mixture-batch-source.js';
import { ORACLE_DOCS_FILE, SUBSET_STAGE, VALIDATION_DOCS_FILE } from './subset-stage.js';
import { isSyntheticArm, type Arm } from './arm-table.js';
import { PhasedSampler } from './phased-sampler.js';
import { inputHash, runStage, stageDir, type StageResult } from '../stage/stage.js';

export { ARMS, type Arm } from './arm-table.js';
export const SYNTH_TOKENS_STAGE = 'synth-tokens';

export interface ArmTrainOptions {
  cfg: RunConfig;
  runDir: string;
  sourceDir: string;
  arm: Arm;
  /** The run's folder `models/<name>` (default: the arm; a sweep names each variant, see sweep.ts). */
  name?: string;
  /** The synthetic token folder a synthetic arm reads (default `synth-tokens`). */
  synthTokensStage?: string;
  /**
   * The synthetic stream was made for more than `syntheticTokens` (a sweep's largest share): train on
   * its shortest prefix of whole shards holding `syntheticTokens`, which is what synthesis for this
   * share alone would have kept.
   */
  syntheticPrefix?: boolean;
  /** Optimizer steps: the same for every arm (the compute match). */
  steps: number;
  /** Synthetic tokens a synthetic arm draws (S); the real data fills the rest of the budget. */
  syntheticTokens: number;
  /** Also score the final model on the validation split (`corpus/validation-docs.bin`): a baseline-search run. */
  validation?: boolean;
  createBackend: BackendFactory;
  force?: boolean;
  quiet?: boolean;
  shouldStop?: (step: number) => boolean;
  log?: (line: string) => void;
}

export interface ArmTrainStats extends TrainStageStats {
  arm: Arm;
  /** Unique documents and tokens (unframed) of each data component, and the tokens drawn from it. */
  data: Record<string, { docs: number; tokens: number; drawnTokens?: number }>;
  /** Where each component comes from (a folder of this run, or the source's tokens restricted to a document list). */
  sources: Record<string, string>;
  dataOrder: 'mixed' | 'synthetic-first' | null;
  /** The hyper-parameters that differ between experiments: the (searched) weight decay, the evaluation spacing, the seed. */
  train: { weightDecay: number; evalEvery: number; seed: number };
  /** A search run's final loss on the validation split (nats per token). */
  validation?: { loss: number; tokens: number };
  /** The baseline of the first seed is the search run of the chosen weight decay, copied. */
  copiedFrom?: string;
}

/**
 * One run of the compute-matched experiment, `models/<name>`: the model from the `model` section
 * (fresh, seeded by the run seed) trained for `steps` steps with the `train` section — identical for
 * every arm — on the arm's data (arm-table.ts):
 *   baseline     the run's train tokens (the U subset), repeated as often as the budget needs;
 *   sbp, selfdistill, randompairs
 *                the same real tokens, repeated, with the arm's synthetic tokens (each used at most
 *                once) making up S of the budget: mixed throughout, or first (experiment.dataOrder);
 *   oracle       the oracle subset of the source's train tokens (a superset of U).
 * The output folder is the same as `sbp train` writes (Hugging Face folder, metrics.jsonl, checkpoint/).
 */
export async function runArmTrainStage(opts: ArmTrainOptions): Promise<StageResult<ArmTrainStats>> {
  const { cfg, runDir, sourceDir, arm } = opts;
  const name = opts.name ?? arm;
  const synthTokensStage = opts.synthTokensStage ?? SYNTH_TOKENS_STAGE;
  const synthetic_ = isSyntheticArm(arm);
  const dataOrder = synthetic_ ? cfg.experiment.dataOrder : null;
  const tc = cfg.train;
  const tokensDir = stageDir(runDir, 'tokens');
  if (tc.initFrom) throw new UserError('train.initFrom: the experiment trains every run from scratch; remove train.initFrom (the synthesizer has its own tuning section)');

  const inputs: Record<string, string> = { tokens: inputHash(runDir, 'tokens', 'sbp experiment') };
  const sources: Record<string, string> = {};
  const opened: TokenDataset[] = [];
  const open = (dir: string, split: string) => {
    const d = TokenDataset.open(dir, split, { hint: 'sbp experiment' });
    opened.push(d);
    return d;
  };
  const sourceSubset = (file: string) => {
    inputs.subsets = inputHash(runDir, SUBSET_STAGE, 'sbp experiment');
    inputs.sourceTokens = inputHash(sourceDir, 'tokens', 'sbp experiment');
    const docs = readDocList(join(stageDir(runDir, SUBSET_STAGE), file), 'rerun `sbp experiment --force`');
    return new DocumentSubset(open(stageDir(sourceDir, 'tokens'), 'train'), docs);
  };
  try {
    const real = open(tokensDir, tc.trainSplit);
    let oracle: DocumentSubset | null = null;
    let synthetic: TokenizedDocuments | null = null;
    if (arm === 'oracle') {
      oracle = sourceSubset(ORACLE_DOCS_FILE);
      sources.oracle = `source/tokens (train) ∩ ${SUBSET_STAGE}/${ORACLE_DOCS_FILE}`;
    } else {
      sources.real = `tokens (${tc.trainSplit})`;
    }
    if (synthetic_ && opts.syntheticTokens > 0) {
      inputs.synthetic = inputHash(runDir, synthTokensStage, 'sbp experiment');
      sources.synthetic = `${synthTokensStage} (train)`;
      if (listTokenShards(stageDir(runDir, synthTokensStage), 'train').length > 0) {
        const all = open(stageDir(runDir, synthTokensStage), 'train');
        synthetic = opts.syntheticPrefix ? shardPrefix(all, opts.syntheticTokens) : all;
      }
      if (!synthetic || synthetic.numTokens === 0) opts.log?.(`${name} run: synthesis kept no documents, so this run trains on the real data alone (see ${synthTokensStage.replace('synth-tokens', 'synth')}/stats.json for the drops)`);
    }
    let validationData: TokenizedDocuments | null = null;
    if (opts.validation) {
      validationData = sourceSubset(VALIDATION_DOCS_FILE);
      sources.validation = `source/tokens (train) ∩ ${SUBSET_STAGE}/${VALIDATION_DOCS_FILE}`;
    }
    const heldoutData = tc.evalTokens > 0 ? open(tokensDir, tc.heldoutSplit) : null;

    const backend = await opts.createBackend(tc.backend, cfg.threads);
    const { tokenizerPath, framing, modelConfig, seed } = prepareTrainRun({ cfg, runDir, vocabSize: real.vocabSize, hint: 'run `sbp experiment` again to rebuild the tokenizer stage' });
    const budget = opts.steps * tc.batchSize * tc.seqLen * tc.gradAccumSteps;
    const synth = synthetic ? Math.min(opts.syntheticTokens, budget - 1) : 0;
    const trainerCfg: TrainerConfig = { ...tc, steps: opts.steps };
    const { backend: _backend, totalTokens: _totalTokens, ...identity } = tc;
    // The identity of the three original arms is what it was before controls existed (their caches stay valid).
    const extra = { ...(opts.syntheticPrefix ? { syntheticPrefix: true } : {}), ...(opts.validation ? { validation: true } : {}), ...(synthetic_ && dataOrder !== 'mixed' ? { dataOrder } : {}) };
    return await runStage<ArmTrainStats>({
      stage: join('models', name),
      runDir,
      config: { arm, model: modelConfig, train: { ...identity, steps: opts.steps }, seed, syntheticTokens: synthetic_ ? synth : 0, ...extra },
      inputs,
      force: opts.force,
      run: async (ctx) => {
        const model = new LlamaModel(modelConfig, backend, { seed });
        const describe = (d: TokenizedDocuments) => ({ docs: d.numDocs, tokens: d.numTokens });
        let data: BatchSource;
        let sampler: MixtureSampler | PhasedSampler | null = null;
        const dataStats: ArmTrainStats['data'] = {};
        if (oracle) {
          data = new PackedBatchSource(oracle, tc.batchSize, tc.seqLen, framing, seed, 'the oracle subset');
          dataStats.oracle = describe(oracle);
        } else if (synthetic && synth > 0) {
          const synthComponent: MixtureComponent = { name: 'synthetic', source: synthetic, weight: synth, epochs: 1 };
          const realComponent: MixtureComponent = { name: 'real', source: real, weight: budget - synth };
          sampler = dataOrder === 'synthetic-first' ? new PhasedSampler([synthComponent, realComponent], { seed }) : new MixtureSampler([realComponent, synthComponent], { seed });
          data = new MixtureBatchSource(sampler, tc.batchSize, tc.seqLen, framing, dataOrder === 'synthetic-first' ? 'synthetic, then real' : 'real + synthetic mixture');
          dataStats.real = describe(real);
          dataStats.synthetic = describe(synthetic);
        } else {
          data = new PackedBatchSource(real, tc.batchSize, tc.seqLen, framing, seed, `${tokensDir} (${tc.trainSplit})`);
          dataStats.real = describe(real);
        }
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
        // The search chooses on this; the test split's curve above only watches (it decides nothing).
        const validation = validationData ? heldoutLoss(model, heldoutBatches(validationData, tc.batchSize, tc.seqLen, framing, validationData.numTokens + 2 * validationData.numDocs)) : null;
        if (sampler) {
          const drawn = sampler.drawnTokens();
          for (const [component, n] of Object.entries(drawn)) dataStats[component]!.drawnTokens = n;
        }
        return {
          arm,
          data: dataStats,
          sources,
          dataOrder,
          train: { weightDecay: tc.weightDecay, evalEvery: tc.evalEvery, seed },
          ...(validation ? { validation: { loss: validation.heldoutLoss, tokens: validation.heldoutTokens } } : {}),
          modelConfig,
          numParams: model.numParams,
          backend: backend.name,
          steps: result.step,
          tokens: result.tokens,
          skippedSteps: result.skippedSteps,
          finalLoss: result.lastLoss,
          heldout: result.heldout,
          trainTokensPerSec: result.tokensPerSec,
          initFrom: null,
        };
      },
    });
  } finally {
    for (const d of opened) d.close();
  }
}

/** The first whole shards of a token dataset, as few as hold at least `tokens` tokens (all of them when they hold fewer). */
export function shardPrefix(data: TokenDataset, tokens: number): TokenizedDocuments {
  let docs = 0;
  let sum = 0;
  for (const shard of data.shards) {
    if (sum >= tokens) break;
    docs += shard.numDocs;
    sum += shard.numTokens;
  }
  return docs === data.numDocs ? data : new DocumentSubset(data, Uint32Array.from({ length: docs }, (_, i) => i));
}
