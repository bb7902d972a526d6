// sbp/pairs: pair mining — ANN and exact search, α threshold, near-duplicate filter, the pairs file, and the pair stage.
export { runPairStage, pairIdentity, minerOptions, PAIRS_STAGE, PAIRS_FILE, PAIR_STATS_FILE, PAIR_SAMPLES_FILE, type PairStageOptions, type PairStageStats } from './pair-stage.js';
export { minePairs, EXCERPT_CHARS, type PairMinerOptions, type PairStats, type PairSample, type MinedPairs, type NearDuplicateOptions, type RecallStats, type DocumentText, type TextSource, type SearchCheckpoint, type PairMinerHooks, type MinerPhase } from './pair-miner.js';
export { readPairsFile, writePairsFile, encodePairsFile, decodePairsFile, PAIRS_MAGIC, PAIRS_VERSION, PAIRS_HEADER_BYTES, type PairsFile } from './pairs-file.js';
export { selectCandidates, filterPairs, noDrops, type PairList, type PairDrops } from './pair-list.js';
export { resolveAlpha, quantile, passesAlpha, type AlphaSpec, type ResolvedAlpha } from './alpha-threshold.js';
export { MinHasher, estimateJaccard, exactShingleJaccard, shingleSet, splitWords, type MinHashOptions } from './minhash.js';
export { exactSearch, type ExactSearchOptions } from './exact-search.js';
export { nativeExactSearch } from './native-exact-search.js';
export { AnnIndex, type AnnParams } from './ann-index.js';
export { checkVectorSet, type VectorSet } from './vector-set.js';
export type { Neighbours } from './neighbours.js';
export { similarityHistogram, partnerStats, SIMILARITY_BINS, type SimilarityHistogram, type PartnerStats, type SimilaritySummary } from './pair-stats.js';
