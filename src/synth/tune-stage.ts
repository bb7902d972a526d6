import type { BackendFactory } from '../engine/open-backend.js';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../common/errors.js';
import { writeJsonAtomic } from '../common/fs-atomic.js';
import type { TuneConfig } from '../config/schema.js';
import { EMBED_STAGE, VECTORS_FILE } from '../embed/embed-stage.js';
import { VectorsReader } from '../embed/vectors-file.js';
import type { Backend } from '../engine/backend.js';
import { inputHash, runStage, stageDir, type StageResult } from '../stage/stage.js';
import { loadModelFolder } from '../model/hf-folder.js';
import type { Batch, LanguageModel } from '../model/types.js';
import { PAIRS_FILE, PAIRS_STAGE } from '../pairs/pair-stage.js';
import { readPairsFile } from '../pairs/pairs-file.js';
import { Tokenizer } from '../tokenizer/tokenizer.js';
import { TokenDataset } from '../tokens/token-dataset.js';
import { resolveModelDir } from '../stage/model-dir.js';
import { trainIntoStage } from '../train/train-stage.js';
import { heldoutLoss, type EvalMetrics } from '../train/trainer.js';
import { pairBatches, type PairFramingTokens, type PairIndex } from './pair-rows.js';
import { synthFraming } from './synth-framing.js';
import { SynthesizerBatchSource } from './synthesizer-batch-source.js';
import { splitTunePairs } from './tune-split.js';

export const TUNE_EVAL_FILE = 'tune-eval.json';

export interface TuneStageOptions {
  runDir: string;
  config: TuneConfig;
  seed: number; // run seed, used when tune.seed is unset
  modelName?: string; // output folder models/<name> (default "synthesizer")
  pairsStage?: string; // the pairs folder it reads (default "pairs")
  createBackend: BackendFactory;
  threads?: number;
  force?: boolean;
  quiet?: boolean;
  shouldStop?: (step: number) => boolean;
  log?: (line: string) => void;
}

/** Mean loss (nats per counted token) of one model on one framing of the held-out pairs. */
export interface PairLoss {
  loss: number;
  ppl: number;
  tokens: number;
}

/**
 * The evidence that conditioning helps, all on the same held-out pairs and the same d2 target tokens:
 *   baselineUnconditional   the starting model on `[bos] d2 [eos]`: log p(d2) with no d1
 *   baselineConditional     the starting model on `[bos] d1 [sep] d2 [eos]` (before tuning)
 *   synthesizerConditional  the tuned synthesizer on `[bos] d1 [sep] d2 [eos]`
 *   synthesizerUnconditional the tuned synthesizer on `[bos] d2 [eos]`: what tuning alone (adapting to
 *                           the d2 distribution) explains, without d1
 * gain = baselineUnconditional.loss - synthesizerConditional.loss (nats per token; > 0 = d1 helps);
 * conditioningGain = synthesizerUnconditional.loss - synthesizerConditional.loss (the part due to d1).
 */
export interface TuneEval {
  pairs: number;
  baselineUnconditional: PairLoss;
  baselineConditional: PairLoss;
  synthesizerConditional: PairLoss;
  synthesizerUnconditional: PairLoss;
  gainNatsPerToken: number;
  conditioningGainNatsPerToken: number;
}

export interface TuneStageStats {
  initFrom: string;
  backend: string;
  numParams: number;
  framing: { seqLen: number; d1Fraction: number; d1Budget: number };
  pairs: { mined: number; train: number; heldout: number; straddling: number; heldoutBothSides: number; heldoutDocs: number; evaluated: number };
  steps: number;
  tokens: number;
  epochs: number; // passes over the training pairs
  skippedSteps: number;
  finalLoss: number | null;
  trainTokensPerSec: number;
  eval: TuneEval | null;
}

function pairLoss(model: LanguageModel, batches: readonly Batch[]): PairLoss {
  const h = heldoutLoss(model, batches);
  return { loss: h.heldoutLoss, ppl: h.heldoutPpl, tokens: h.heldoutTokens };
}

function firstPairs(p: PairIndex, n: number): PairIndex {
  return { d1: p.d1.subarray(0, n), d2: p.d2.subarray(0, n) };
}

/**
 * `sbp tune`: the `models/synthesizer` stage. Reads pairs/pairs.bin (row indices of embed/vectors.bin,
 * whose i-th row is the i-th train document, as is tokens/train's i-th document), starts from
 * `tune.initFrom` (the baseline LM), trains p(d2 | d1) with loss on d2 only, and writes a Hugging Face
 * folder, metrics.jsonl (held-out conditional loss as `eval` rows), a resumable checkpoint/, and
 * tune-eval.json comparing conditional and unconditional loss on held-out pairs.
 */
export async function runTuneStage(opts: TuneStageOptions): Promise<StageResult<TuneStageStats>> {
  const { runDir, config: tc } = opts;
  const modelName = opts.modelName ?? 'synthesizer';
  const pairsStage = opts.pairsStage ?? PAIRS_STAGE;
  if (!/^[A-Za-z0-9._-]+$/.test(modelName)) throw new UserError(`--model ${modelName}: a model name uses letters, digits, ".", "_" and "-" only`);
  const init = resolveModelDir(runDir, tc.initFrom, 'tune.initFrom');
  if (init.runModel === modelName) throw new UserError(`tune.initFrom: model "${modelName}" cannot start from itself; choose another --model name`);
  const inputs = {
    pairs: inputHash(runDir, pairsStage, 'sbp pair'),
    embed: inputHash(runDir, EMBED_STAGE, 'sbp embed'),
    tokens: inputHash(runDir, 'tokens', 'sbp tokenize'),
    initFrom: init.inputHash,
  };
  const tokenizerPath = join(stageDir(runDir, 'tokenizer'), 'tokenizer.json');
  if (!existsSync(tokenizerPath)) throw new UserError(`${tokenizerPath} is missing; run \`sbp tokenizer train\` first`);
  const special = Tokenizer.load(tokenizerPath).special;
  const tok: PairFramingTokens = { bos: special.bos, eos: special.eos, sep: special.sep, pad: special.pad };
  const seed = tc.seed ?? opts.seed;
  const { backend: _backend, ...identity } = tc;

  return runStage<TuneStageStats>({
    stage: join('models', modelName),
    runDir,
    config: { formatVersion: 1, tune: identity, seed },
    inputs,
    force: opts.force,
    run: async (ctx) => {
      const pairsPath = join(stageDir(runDir, pairsStage), PAIRS_FILE);
      const mined = readPairsFile(pairsPath);
      const vectors = VectorsReader.open(join(stageDir(runDir, EMBED_STAGE), VECTORS_FILE), { verify: false });
      const ids = vectors.ids;
      vectors.close();
      const docs = TokenDataset.open(stageDir(runDir, 'tokens'), 'train', { hint: 'sbp tokenize' });
      try {
        checkSameDocuments(docs, ids, mined.documents, pairsPath);
        const split = splitTunePairs(mined.pairs, ids, tc.heldoutFraction, tc.heldoutSalt);
        const evalSet = firstPairs(split.heldout, Math.min(tc.evalPairs, split.heldout.d1.length));
        const evaluated = evalSet.d1.length;
        if (tc.evalPairs > 0 && evaluated === 0) {
          opts.log?.(`tune: no held-out pairs (tune.heldoutFraction ${tc.heldoutFraction}); the conditional-vs-unconditional comparison is skipped`);
        }

        const backend = await opts.createBackend(tc.backend, opts.threads);
        const model = loadModelFolder(init.dir, backend);
        if (tc.seqLen > model.config.maxSeqLen) throw new UserError(`tune.seqLen ${tc.seqLen} exceeds the model's context (maxSeqLen ${model.config.maxSeqLen} in ${init.dir})`);
        if (model.config.vocabSize < docs.vocabSize) throw new UserError(`tune.initFrom: the model's vocabulary (${model.config.vocabSize}) is smaller than the tokenizer's (${docs.vocabSize}); it was trained with another tokenizer`);
        const framing = synthFraming(tc.seqLen, tc.d1Fraction);
        const B = tc.batchSize;
        const condEval = evaluated > 0 ? pairBatches(docs, evalSet, B, framing, tok, 'conditional') : [];
        const uncondEval = evaluated > 0 ? pairBatches(docs, evalSet, B, framing, tok, 'unconditional') : [];

        // The starting model, scored before any tuning step (the init folder, not a resumed checkpoint).
        let baselineUnconditional: PairLoss | null = null;
        let baselineConditional: PairLoss | null = null;
        if (evaluated > 0) {
          baselineUnconditional = pairLoss(model, uncondEval);
          baselineConditional = pairLoss(model, condEval);
        }

        const data = new SynthesizerBatchSource(docs, split.train, B, framing, tok, seed);
        const result = await trainIntoStage({
          model,
          data,
          heldout: condEval.length > 0 ? condEval : undefined,
          cfg: { ...tc },
          dir: ctx.dir,
          tokenizerPath,
          shouldStop: opts.shouldStop,
          quiet: opts.quiet,
          log: opts.log,
        });

        let evalOut: TuneEval | null = null;
        if (baselineUnconditional && baselineConditional) {
          const h: EvalMetrics | null = result.heldout;
          const synth = h ? { loss: h.heldoutLoss, ppl: h.heldoutPpl, tokens: h.heldoutTokens } : pairLoss(model, condEval);
          const synthUncond = pairLoss(model, uncondEval);
          evalOut = {
            pairs: evaluated,
            baselineUnconditional,
            baselineConditional,
            synthesizerConditional: synth,
            synthesizerUnconditional: synthUncond,
            gainNatsPerToken: baselineUnconditional.loss - synth.loss,
            conditioningGainNatsPerToken: synthUncond.loss - synth.loss,
          };
          writeJsonAtomic(join(ctx.dir, TUNE_EVAL_FILE), evalOut);
        }
        return {
          initFrom: init.dir,
          backend: backend.name,
          numParams: model.numParams,
          framing: { seqLen: tc.seqLen, d1Fraction: tc.d1Fraction, d1Budget: framing.d1Budget },
          pairs: {
            mined: mined.pairs.d1.length,
            train: split.train.d1.length,
            heldout: split.heldout.d1.length,
            straddling: split.straddling,
            heldoutBothSides: split.heldoutBothSides,
            heldoutDocs: split.heldoutDocs,
            evaluated,
          },
          steps: result.step,
          tokens: result.tokens,
          epochs: (result.step * tc.gradAccumSteps * B) / split.train.d1.length,
          skippedSteps: result.skippedSteps,
          finalLoss: result.lastLoss,
          trainTokensPerSec: result.tokensPerSec,
          eval: evalOut,
        };
      } finally {
        docs.close();
      }
    },
  });
}

/** The pairs index vectors rows; tuning reads those documents from tokens/train. Both must list the same documents in the same order. */
function checkSameDocuments(docs: TokenDataset, ids: readonly string[], pairDocs: number, pairsPath: string): void {
  const fix = 'the corpus, tokens, embeddings and pairs come from different runs of their stages; rerun `sbp tokenize`, `sbp embed` and `sbp pair` so they match';
  if (pairDocs !== ids.length) throw new UserError(`${pairsPath}: mined over ${pairDocs} documents, but embed/vectors.bin holds ${ids.length}; ${fix}`);
  if (docs.numDocs !== ids.length) throw new UserError(`tokens/train holds ${docs.numDocs} documents, embed/vectors.bin ${ids.length}; ${fix}`);
  for (let i = 0; i < ids.length; i++) {
    if (docs.docId(i) !== ids[i]) throw new UserError(`document ${i} is "${docs.docId(i)}" in tokens/train but "${ids[i]}" in embed/vectors.bin; ${fix}`);
  }
}
