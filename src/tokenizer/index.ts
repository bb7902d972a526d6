// sbp/tokenizer: byte-level BPE — train on texts, encode, decode, Hugging Face tokenizer.json in and out; and the tokenizer stage.
export { Tokenizer, trainTokenizer, trainTokenizerWithStats, type SpecialTokens, type TrainProgress, type TrainStats } from './tokenizer.js';
export { runTokenizerStage, TOKENIZER_STAGE, type TokenizerStageStats, type TokenizerStageOptions } from './tokenizer-stage.js';
