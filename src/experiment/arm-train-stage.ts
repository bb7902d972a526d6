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
import { trainIntoStage, type TrainStageStats } from '../train/train-stage.js';
import type { TrainerConfig } from '../train/trainer.js';
import { readDocList } from './doc-list-file.js';
import { DocumentSubset } from './document-subset.js';
import { MixtureBatchSource } from './mixture-batch-source.js';
import { ORACLE_DOCS_FILE, SUBSET_STAGE } from './subset-stage.js';
import { inputHash, runStage, stageDir, type StageResult } from '../stage/stage.js';

export type Arm = 'baseline' | 'sbp' | 'oracle';
export const ARMS: readonly Arm[] = ['baseline', 'sbp', 'oracle'];
export const SYNTH_TOKENS_STAGE = 'synth-tokens';

export interface ArmTrainOptions {
  cfg: RunConfig;
  runDir: string;
  sourceDir: string;
  arm: Arm;
  /** The run's folder `models/<name>` (default: the arm; a sweep names each variant, see sweep.ts). */
  name?: string;
  /** The synthetic token folder an SBP run reads (default `synth-tokens`). */
  synthTokensStage?: string;
  /**
   * The synthetic stream was made for more than `syntheticTokens` (a sweep's largest share): train on
   * its shortest prefix of whole shards holding `syntheticTokens`, which is what synthesis for this
   * share alone would have kept.
   */
  syntheticPrefix?: boolean;
  /** Optimizer steps: the same for every arm (the compute match). */
  steps: number;
  /** Synthetic tokens the SBP run draws (S); the real data fills the rest of the budget. */
  syntheticTokens: number;
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
}

/**
 * One run of the compute-matched experiment, `models/<arm>`: the model from the `model` section
 * (fresh, seeded by the run seed) trained for `steps` steps with the `train` section — identical for
 * all three arms — on the arm's data:
 *   baseline  the run's train tokens (the U subset), repeated as often as the budget needs;
 *   sbp       the same real tokens, repeated, mixed with the synthetic tokens (each used at most
 *             once) so that synthetic text makes up S of the budget;
 *   oracle    the oracle subset of the source's train tokens (a superset of U).
 * The output folder is the same as `sbp train` writes (Hugging Face folder, metrics.jsonl, checkpoint/).
 */
export async function runArmTrainStage(opts: ArmTrainOptions): Promise<StageResult<ArmTrainStats>> {
  const { cfg, runDir, sourceDir, arm } = opts;
  const name = opts.name ?? arm;
  const synthTokensStage = opts.synthTokensStage ?? SYNTH_TOKENS_STAGE;
  const tc = cfg.train;
  const tokensDir = stageDir(runDir, 'tokens');
  const tokenizerPath = join(stageDir(runDir, 'tokenizer'), 'tokenizer.json');
  if (!existsSync(tokenizerPath)) throw new UserError(`${tokenizerPath} is missing; run \`sbp experiment\` again to rebuild the tokenizer stage`);
  const special = Tokenizer.load(tokenizerPath).special;
  const framing = { bos: special.bos, eos: special.eos, sep: special.sep, pad: special.pad };

  const inputs: Record<string, string> = { tokens: inputHash(runDir, 'tokens', 'sbp experiment') };
  const opened: TokenDataset[] = [];
  const open = (dir: string, split: string) => {
    const d = TokenDataset.open(dir, split, { hint: 'sbp experiment' });
    opened.push(d);
    return d;
  };
  try {
    const real = open(tokensDir, tc.trainSplit);
    let oracle: DocumentSubset | null = null;
    let synthetic: TokenizedDocuments | null = null;
    if (arm === 'oracle') {
      inputs.subsets = inputHash(runDir, SUBSET_STAGE, 'sbp experiment');
      inputs.sourceTokens = inputHash(sourceDir, 'tokens', 'sbp experiment');
      const docs = readDocList(join(stageDir(runDir, SUBSET_STAGE), ORACLE_DOCS_FILE), 'rerun `sbp experiment --force`');
      oracle = new DocumentSubset(open(stageDir(sourceDir, 'tokens'), 'train'), docs);
    } else if (arm === 'sbp' && opts.syntheticTokens > 0) {
      inputs.synthetic = inputHash(runDir, synthTokensStage, 'sbp experiment');
      if (listTokenShards(stageDir(runDir, synthTokensStage), 'train').length > 0) {
        const all = open(stageDir(runDir, synthTokensStage), 'train');
        synthetic = opts.syntheticPrefix ? shardPrefix(all, opts.syntheticTokens) : all;
      }
      if (!synthetic || synthetic.numTokens === 0) opts.log?.('sbp run: synthesis kept no documents, so this run trains on the real data alone (see synth/stats.json for the drops)');
    }
    const evalWanted = tc.evalTokens > 0;
    const heldoutData = evalWanted ? open(tokensDir, tc.heldoutSplit) : null;

    const backend = await opts.createBackend(tc.backend, cfg.threads);
    const modelConfig: ModelConfig = {
      ...resolveModelConfig(cfg.model, { vocabSize: real.vocabSize, source: 'model' }),
      bosTokenId: special.bos,
      eosTokenId: special.eos,
      padTokenId: special.pad,
    };
    if (tc.seqLen > modelConfig.maxSeqLen) throw new UserError(`train.seqLen ${tc.seqLen} exceeds the model's context (model.maxSeqLen ${modelConfig.maxSeqLen})`);
    if (tc.initFrom) throw new UserError('train.initFrom: the experiment trains every run from scratch; remove train.initFrom (the synthesizer has its own tuning section)');
    const seed = tc.seed ?? cfg.seed;
    const budget = opts.steps * tc.batchSize * tc.seqLen * tc.gradAccumSteps;
    const synth = synthetic ? Math.min(opts.syntheticTokens, budget - 1) : 0;
    const trainerCfg: TrainerConfig = { ...tc, steps: opts.steps };
    const { backend: _backend, totalTokens: _totalTokens, ...identity } = tc;
    return await runStage<ArmTrainStats>({
      stage: join('models', name),
      runDir,
      config: { arm, model: modelConfig, train: { ...identity, steps: opts.steps }, seed, syntheticTokens: arm === 'sbp' ? synth : 0, ...(opts.syntheticPrefix ? { syntheticPrefix: true } : {}) },
      inputs,
      force: opts.force,
      run: async (ctx) => {
        const model = new LlamaModel(modelConfig, backend, { seed });
        const describe = (d: TokenizedDocuments) => ({ docs: d.numDocs, tokens: d.numTokens });
        let data: BatchSource;
        let sampler: MixtureSampler | null = null;
        const dataStats: ArmTrainStats['data'] = {};
        if (arm === 'oracle') {
          data = new PackedBatchSource(oracle!, tc.batchSize, tc.seqLen, framing, seed, 'the oracle subset');
          dataStats.oracle = describe(oracle!);
        } else if (arm === 'sbp' && synthetic && synth > 0) {
          const components: MixtureComponent[] = [
            { name: 'real', source: real, weight: budget - synth },
            { name: 'synthetic', source: synthetic, weight: synth, epochs: 1 },
          ];
          sampler = new MixtureSampler(components, { seed });
          data = new MixtureBatchSource(sampler, tc.batchSize, tc.seqLen, framing, 'real + synthetic mixture');
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
        if (sampler) {
          const drawn = sampler.drawnTokens();
          for (const [name, n] of Object.entries(drawn)) dataStats[name]!.drawnTokens = n;
        }
        return {
          arm,
          data: dataStats,
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
