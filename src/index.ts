// The public library entry: everything a program needs to run sbp's stages without the CLI.
export * from './common/errors.js';
export * from './config/schema.js';
export * from './config/load.js';
export * from './experiment/stage.js';
export * from './data/index.js';
export { TokenShardWriter, type TokenShardWriterOptions, type TokenShardSummary } from './tokens/shard-writer.js';
export { TokenShardReader, type TokenShardReaderOptions } from './tokens/shard-reader.js';
export { SHARD_MAGIC, SHARD_VERSION, SHARD_EXTENSION, dtypeForVocab, type TokenDType, type TokenArray, type TokenShardHeader } from './tokens/shard-format.js';
export { TokenDataset, listTokenShards, type TokenizedDocuments } from './tokens/token-dataset.js';
export { DocumentOrder, type DocumentOrderOptions, type DocumentOrderState } from './tokens/document-order.js';
export { MixtureSampler, type MixtureComponent, type MixtureDraw, type MixtureState } from './tokens/mixture-sampler.js';
export { tokenizeCorpus, tokenShardName, type TokenizeCorpusOptions, type TokenizeStats, type SplitTokenStats } from './tokens/tokenize-corpus.js';
export { tokenizeShard, type TokenEncoder, type ShardTokenStats } from './tokens/tokenize-shard.js';
export { runTokenizeStage, TOKENS_STAGE } from './tokens/tokenize-stage.js';
