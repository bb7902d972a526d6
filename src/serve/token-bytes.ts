import type { Tokenizer } from '../tokenizer/tokenizer.js';

const NO_BYTES = new Uint8Array(0);

/**
 * The bytes of a token as the server decodes it. A checkpoint may have more embedding rows than its
 * tokenizer has tokens (vocabularies padded to a multiple of 64 or 128 are common); such an id can
 * be sent in a token-id prompt or, rarely, drawn. It decodes to no text instead of failing the
 * request or, inside the worker, the whole batch.
 */
export function serverBytesOf(tokenizer: Tokenizer): (token: number) => Uint8Array {
  const size = tokenizer.vocabSize;
  return (token) => (token >= size && Number.isInteger(token) ? NO_BYTES : tokenizer.bytesOf(token));
}
