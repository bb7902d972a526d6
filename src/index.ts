/**
 * sbp — Synthetic Bootstrapped Pretraining as a library (docs/library.md).
 *
 * The surface a program needs: the stages of the pipeline (each reads a run directory and writes
 * its own folder, exactly as the CLI command of the same name), the config that drives them, the
 * model and tokenizer, and `loadModel` for text in, text out. Everything else is reachable through
 * the subpath entries: `sbp/config`, `sbp/common`, `sbp/stage`, `sbp/engine`, `sbp/model`,
 * `sbp/tokenizer`, `sbp/tokens`, `sbp/data`, `sbp/embed`, `sbp/pairs`, `sbp/train`, `sbp/sample`.
 */

// ---- the stages, in pipeline order ----
export { prepareCorpus as prepare, type PrepareCorpusOptions, type PrepareCorpusResult } from './data/prepare-corpus.js';
export { runTokenizerStage as trainTokenizer, type TokenizerStageOptions, type TokenizerStageStats } from './tokenizer/tokenizer-stage.js';
export { runTokenizeStage as tokenize, type TokenizeStageOptions } from './tokens/tokenize-stage.js';
export { runTrainStage as train, TrainingInterrupted, type TrainStageOptions, type TrainStageStats } from './train/train-stage.js';
export { runEmbedStage as embed, type EmbedStageOptions, type EmbedStats } from './embed/embed-stage.js';
export { runPairStage as minePairs, type PairStageOptions, type PairStageStats } from './pairs/pair-stage.js';
export { runTuneStage as tune, type TuneStageOptions, type TuneStageStats } from './synth/tune-stage.js';
export { runSynthesizeStage as synthesize, SynthesisInterrupted, type SynthesizeStageOptions, type SynthesizeStats } from './synth/synthesize-stage.js';
export { runEvalStage as evaluate, type EvalStageOptions, type EvalStageStats, type EvalResults } from './eval/eval-stage.js';
export { runExperiment, type ExperimentOptions, type ExperimentResult } from './experiment/experiment-runner.js';
export { computeMatchedPlan, formatPlan, type ComputeMatchedPlan } from './experiment/compute-matched-plan.js';
export { buildReport, REPORT_FILE, type ReportOptions } from './report/report.js';
export { startServer, type ServeOptions, type SbpServer } from './serve/server.js';
export type { StageResult, StageManifest } from './stage/stage.js';

// ---- the config every stage takes ----
export { resolveConfig, runDirOf, saveResolvedConfig, type ConfigSources } from './config/load.js';
export type { RunConfig } from './config/schema.js';
export { UserError } from './common/errors.js';

// ---- the model and the tokenizer ----
export { loadModel, TextModel, type TextScore, type TokenIds, type GenerateTextOptions, type LoadModelOptions } from './sample/text-model.js';
export { LlamaModel } from './model/llama.js';
export { loadModelFolder, saveModelFolder } from './model/hf-folder.js';
export type { ModelConfig, LanguageModel } from './model/types.js';
export { Tokenizer } from './tokenizer/tokenizer.js';
export { openBackend, type BackendChoice } from './engine/open-backend.js';
