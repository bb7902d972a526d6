import { invalidField } from './api-error.js';
import { checkModel, describe, requireObject } from './completion-request.js';
import type { EmbedItem } from './worker-protocol.js';

/** A validated `POST /v1/embeddings` body. */
export interface EmbeddingRequest {
  inputs: EmbedItem[]; // texts, or token ids (without bos)
  encodingFormat: 'float' | 'base64';
}

const KNOWN = new Set(['model', 'input', 'encoding_format', 'dimensions', 'user']);
const MAX_INPUTS = 2048; // OpenAI's limit per request

/**
 * Checks an embeddings request. `input` is a string, an array of strings, an array of token ids, or
 * an array of token-id arrays (as in OpenAI's API). `dimensions` is accepted only when it equals the
 * model's width: the vectors are mean-pooled hidden states and cannot be shortened meaningfully.
 */
export function parseEmbeddingRequest(body: unknown, limits: { modelId: string; hiddenSize: number; vocabSize: number }): EmbeddingRequest {
  const b = requireObject(body);
  for (const key of Object.keys(b)) {
    if (!KNOWN.has(key)) throw invalidField(key, `Unrecognized request argument supplied: ${key}`, 'unsupported_parameter');
  }
  checkModel(b.model, limits.modelId);
  const fmt = b.encoding_format ?? 'float';
  if (fmt !== 'float' && fmt !== 'base64') throw invalidField('encoding_format', `encoding_format must be "float" or "base64", got ${describe(fmt)}`, 'invalid_value');
  if (b.dimensions !== undefined && b.dimensions !== null && b.dimensions !== limits.hiddenSize) {
    throw invalidField('dimensions', `this model's embeddings have ${limits.hiddenSize} dimensions; dimensions=${describe(b.dimensions)} is not supported`, 'invalid_value');
  }
  const input = b.input;
  if (input === undefined || input === null) throw invalidField('input', 'you must provide an input: a string, an array of strings, or token ids', 'missing_required_parameter');
  const ids = (list: unknown[], where: string): Int32Array => {
    const out = new Int32Array(list.length);
    list.forEach((t, i) => {
      if (!Number.isInteger(t) || (t as number) < 0 || (t as number) >= limits.vocabSize) throw invalidField('input', `${where}[${i}] = ${describe(t)} is not a token id in [0, ${limits.vocabSize})`, 'invalid_token_id');
      out[i] = t as number;
    });
    return out;
  };
  let inputs: EmbedItem[];
  if (typeof input === 'string') inputs = [input];
  else if (!Array.isArray(input)) throw invalidField('input', `input must be a string or an array, got ${describe(input)}`, 'invalid_type');
  else if (input.length === 0) throw invalidField('input', 'input must not be an empty array', 'invalid_value');
  else if (input.every((x) => typeof x === 'number')) inputs = [ids(input, 'input')];
  else {
    inputs = input.map((x, i) => {
      if (typeof x === 'string') return x;
      if (Array.isArray(x)) return ids(x, `input[${i}]`);
      throw invalidField('input', `input[${i}] must be a string or an array of token ids, got ${describe(x)}`, 'invalid_type');
    });
  }
  if (inputs.length > MAX_INPUTS) throw invalidField('input', `at most ${MAX_INPUTS} inputs per request, got ${inputs.length}`, 'too_many_values');
  return { inputs, encodingFormat: fmt };
}
