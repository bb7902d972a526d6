// sbp/embed: embedders (lm, use, http, hash), the vectors file, and the embed stage.
export { runEmbedStage, embedIdentity, EMBED_STAGE, VECTORS_FILE, HASH_DF_FILE, type EmbedStats, type EmbedStageOptions } from './embed-stage.js';
export { EMBEDDER_KINDS, normalizeRows, type Embedder, type EmbedderKind, type EmbedInput } from './embedder.js';
export { VectorsReader, VectorsWriter, readVectorsFile, writeVectorsFile, VECTORS_MAGIC, VECTORS_VERSION, type VectorDType, type VectorsHeader } from './vectors-file.js';
export { HashEmbedder, DocumentFrequencies, HASH_DEFAULTS, readDocumentFrequencies, writeDocumentFrequencies, type HashEmbedderOptions } from './hash-embedder.js';
export { HttpEmbedder, HTTP_DEFAULTS, type HttpEmbedderOptions } from './http-embedder.js';
export { UseEmbedder, USE_DEFAULTS, USE_DIM, type UseEmbedderOptions } from './use-embedder.js';
export { LmEmbedder, LM_DEFAULTS, type LmEmbedderOptions } from './lm-embedder.js';
export { documentPrefix, type DocumentPrefix, type PrefixTokenizer } from './document-prefix.js';
export { encodeFloat16, decodeFloat16, float32ToFloat16Bits, float16BitsToFloat32 } from './f16.js';
