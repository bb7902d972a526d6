// The corpus layer's public API: the document type, the stage, the reader later stages use, and
// the building blocks (sources, normalisation, filters) for programs that compose their own.
export type { Document, CorpusSplit } from './document.js';
export { CORPUS_SPLITS } from './document.js';
export { listCorpusShards, readCorpusDocs, parseCorpusLine } from './corpus-reader.js';
export { prepareCorpus, CORPUS_STAGE, type PrepareCorpusOptions, type PrepareCorpusResult } from './prepare-corpus.js';
export { corpusPipeline, type PipelineOptions } from './corpus-pipeline.js';
export type { CorpusStats } from './corpus-stats.js';
export { normalizeText, countChars } from './normalize.js';
export { lengthFilter, ExactDedup, DROP_REASONS, type DropReason } from './filters.js';
export { hashText, type TextHash } from './text-hash.js';
export { HashSet64 } from './hash-set-64.js';
export { openSource, parseSourceSpec, describeSource } from './source-registry.js';
export { newSourceCounters, type DocumentSource, type SourceContext, type SourceCounters } from './source-context.js';
export { SourceNotInstalledError } from './sources/installed.js';
export { shardFileName, type ShardInfo } from './shard-writer.js';
