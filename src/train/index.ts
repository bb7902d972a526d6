// sbp/train: the trainer (batches, AdamW, schedule, checkpoints, held-out loss) and the train stage.
export { train, heldoutLoss, NonFiniteTrainingError, type TrainOptions, type TrainResult, type TrainerConfig, type StepMetrics, type EvalMetrics } from './trainer.js';
export { runTrainStage, TrainingInterrupted, type TrainStageOptions, type TrainStageStats } from './train-stage.js';
export { emptyBatch, type BatchSource, type BatchSourceState, type DocumentCorpus, type FramingTokens } from './batch-source.js';
export { PackedBatchSource } from './packed-batch-source.js';
export { heldoutBatches } from './heldout-batches.js';
export { AdamW, decayMask, type AdamWConfig, type WeightDecayRule } from './adamw.js';
export { learningRate, type LrSchedule } from './lr-schedule.js';
export { CheckpointStore, CHECKPOINT_DIR, type ModelStore, type TrainerState } from './checkpoint-store.js';
export { hfModelStore } from './hf-model-store.js';
