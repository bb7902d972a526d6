// sbp/tokens: the token shard format (writer, reader), document order, the mixture sampler, and the tokenize stage.
export { TokenShardWriter, type TokenShardWriterOptions, type TokenShardSummary } from './shard-writer.js';
export { TokenShardReader, type TokenShardReaderOptions } from './shard-reader.js';
export { SHARD_MAGIC, SHARD_VERSION, SHARD_EXTENSION, dtypeForVocab, type TokenDType, type TokenArray, type TokenShardHeader } from './shard-format.js';
export { TokenDataset, listTokenShards, type TokenizedDocuments } from './token-dataset.js';
export { DocumentOrder, type DocumentOrderOptions, type DocumentOrderState } from './document-order.js';
export { MixtureSampler, type MixtureComponent, type MixtureDraw, type MixtureState } from './mixture-sampler.js';
export { tokenizeCorpus, tokenShardName, type TokenizeCorpusOptions, type TokenizeStats, type SplitTokenStats } from './tokenize-corpus.js';
export { tokenizeShard, type TokenEncoder, type ShardTokenStats } from './tokenize-shard.js';
export { runTokenizeStage, TOKENS_STAGE } from './tokenize-stage.js';
