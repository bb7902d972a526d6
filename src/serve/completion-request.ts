import { ApiError, invalidField } from './api-error.js';
import type { PromptEncoder } from './prompt-encoder.js';
import { MAX_LOGPROBS } from './token-logprobs.js';

/** A validated `POST /v1/completions` body. */
export interface CompletionRequest {
  prompts: Array<{ ids: Int32Array; text: string }>; // model input ids (bos included for text) and the text echoed back
  maxTokens: number; // 0 only with echo: the prompt alone (scored when logprobs is set)
  temperature: number;
  topP: number;
  topK: number; // 0 = off
  n: number;
  stop: string[];
  seed: number | null; // null: a fresh random seed per request
  stream: boolean;
  includeUsage: boolean; // stream_options.include_usage: a last chunk carrying usage
  echo: boolean;
  logprobs: number | null; // null: none; N in [0, 5]: each token's log-probability and the N most likely alternatives
  ignoreEos: boolean;
}

export interface CompletionLimits {
  modelId: string;
  maxSeqLen: number; // the model's context
  vocabSize: number;
  maxN: number; // choices per request (each takes a batch slot)
}

const DEFAULT_MAX_TOKENS = 16; // OpenAI's default for /v1/completions
const MAX_STOPS = 16;

/** Fields accepted only at their neutral value: we do not implement them, and silently ignoring a real value would be a lie. */
const NEUTRAL: Record<string, (v: unknown) => boolean> = {
  presence_penalty: (v) => v === 0,
  frequency_penalty: (v) => v === 0,
  logit_bias: (v) => typeof v === 'object' && v !== null && Object.keys(v).length === 0,
  suffix: (v) => v === '',
};
const KNOWN = new Set(['model', 'prompt', 'max_tokens', 'temperature', 'top_p', 'top_k', 'n', 'best_of', 'stop', 'seed', 'stream', 'stream_options', 'echo', 'logprobs', 'user', 'ignore_eos', ...Object.keys(NEUTRAL)]);

/**
 * Checks every field of a completions request and resolves the prompts to token ids. Errors are
 * `ApiError`s naming the field (`param`), in the shape OpenAI clients expect.
 */
export function parseCompletionRequest(body: unknown, limits: CompletionLimits, encoder: PromptEncoder): CompletionRequest {
  const b = requireObject(body);
  for (const key of Object.keys(b)) {
    if (!KNOWN.has(key)) throw invalidField(key, `Unrecognized request argument supplied: ${key}`, 'unsupported_parameter');
  }
  checkModel(b.model, limits.modelId);
  for (const [key, neutral] of Object.entries(NEUTRAL)) {
    const v = b[key];
    if (v !== undefined && v !== null && !neutral(v)) throw invalidField(key, `${key} is not supported by sbp serve; leave it out (or at its neutral value)`, 'unsupported_parameter');
  }
  const logprobs = parseLogprobs(b.logprobs);
  const echo = optionalBool(b, 'echo', false);
  const n = optionalInt(b, 'n', 1, 1, limits.maxN);
  if (b.best_of !== undefined && b.best_of !== null && b.best_of !== n) throw invalidField('best_of', `best_of is not supported by sbp serve unless it equals n (${n})`, 'unsupported_parameter');
  const stream = optionalBool(b, 'stream', false);
  let includeUsage = false;
  if (b.stream_options !== undefined && b.stream_options !== null) {
    if (!stream) throw invalidField('stream_options', 'stream_options is only allowed when stream is true', 'invalid_value');
    const so = b.stream_options;
    if (typeof so !== 'object' || Array.isArray(so)) throw invalidField('stream_options', 'stream_options must be an object', 'invalid_type');
    for (const k of Object.keys(so)) if (k !== 'include_usage') throw invalidField(`stream_options.${k}`, `Unrecognized stream option: ${k}`, 'unsupported_parameter');
    includeUsage = optionalBool(so as Record<string, unknown>, 'include_usage', false, 'stream_options.');
  }
  const prompts = parsePrompts(b.prompt, limits, encoder);
  const explicitMax = b.max_tokens !== undefined && b.max_tokens !== null;
  let maxTokens = optionalInt(b, 'max_tokens', DEFAULT_MAX_TOKENS, 0, Number.MAX_SAFE_INTEGER);
  if (maxTokens === 0 && !echo) throw invalidField('max_tokens', 'max_tokens must be at least 1; 0 is allowed only with echo (it returns the prompt alone, with logprobs its scores)', 'invalid_value');
  const longest = Math.max(...prompts.map((p) => p.ids.length));
  if (!explicitMax) maxTokens = Math.max(1, Math.min(maxTokens, limits.maxSeqLen - longest));
  if (longest + maxTokens > limits.maxSeqLen) {
    throw invalidField(
      explicitMax ? 'max_tokens' : 'prompt',
      `This model's maximum context length is ${limits.maxSeqLen} tokens, however you requested ${longest + maxTokens} tokens (${longest} in your prompt; ${maxTokens} for the completion). Please reduce your prompt or completion length.`,
      'context_length_exceeded',
    );
  }
  const temperature = optionalNumber(b, 'temperature', 1, 0, Infinity);
  const topP = optionalNumber(b, 'top_p', 1, 0, 1);
  if (topP === 0) throw invalidField('top_p', 'top_p must be in (0, 1]', 'invalid_value');
  let topK = optionalInt(b, 'top_k', 0, -1, Number.MAX_SAFE_INTEGER);
  if (topK === -1) topK = 0; // vLLM's spelling of "off"
  return {
    prompts,
    maxTokens,
    temperature,
    topP,
    topK,
    n,
    stop: parseStop(b.stop),
    seed: b.seed === undefined || b.seed === null ? null : optionalInt(b, 'seed', 0, Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER),
    stream,
    includeUsage,
    echo,
    logprobs,
    ignoreEos: optionalBool(b, 'ignore_eos', false),
  };
}

export function requireObject(body: unknown): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new ApiError(400, 'The request body must be a JSON object', 'invalid_request_error', null, 'invalid_type');
  return body as Record<string, unknown>;
}

export function checkModel(model: unknown, modelId: string): void {
  if (model === undefined || model === null) throw invalidField('model', `you must provide a model parameter (this server serves "${modelId}")`, 'missing_required_parameter');
  if (typeof model !== 'string') throw invalidField('model', `model must be a string, got ${describe(model)}`, 'invalid_type');
  if (model !== modelId) throw new ApiError(404, `The model \`${model}\` does not exist; this server serves "${modelId}" (see GET /v1/models)`, 'invalid_request_error', 'model', 'model_not_found');
}

function parsePrompts(prompt: unknown, limits: CompletionLimits, encoder: PromptEncoder): Array<{ ids: Int32Array; text: string }> {
  if (prompt === undefined || prompt === null) throw invalidField('prompt', 'you must provide a prompt: a string, an array of strings, an array of token ids, or an array of token-id arrays', 'missing_required_parameter');
  const fromIds = (ids: unknown[], where: string) => {
    if (ids.length === 0) throw invalidField('prompt', `${where} is an empty token list`, 'invalid_value');
    const out = new Int32Array(ids.length);
    ids.forEach((t, i) => {
      if (!Number.isInteger(t) || (t as number) < 0 || (t as number) >= limits.vocabSize) {
        throw invalidField('prompt', `${where}[${i}] = ${describe(t)} is not a token id in [0, ${limits.vocabSize})`, 'invalid_token_id');
      }
      out[i] = t as number;
    });
    return { ids: out, text: encoder.decode(out) };
  };
  const fromText = (text: string) => ({ ids: encoder.encode(text), text });
  if (typeof prompt === 'string') return [fromText(prompt)];
  if (!Array.isArray(prompt)) throw invalidField('prompt', `prompt must be a string or an array, got ${describe(prompt)}`, 'invalid_type');
  if (prompt.length === 0) throw invalidField('prompt', 'prompt must not be an empty array', 'invalid_value');
  if (prompt.every((p) => typeof p === 'number')) return [fromIds(prompt, 'prompt')];
  return prompt.map((p, i) => {
    if (typeof p === 'string') return fromText(p);
    if (Array.isArray(p)) return fromIds(p, `prompt[${i}]`);
    throw invalidField('prompt', `prompt[${i}] must be a string or an array of token ids, got ${describe(p)}`, 'invalid_type');
  });
}

/** `logprobs`: an integer in [0, 5] (legacy completions); false and null mean none. */
function parseLogprobs(v: unknown): number | null {
  if (v === undefined || v === null || v === false) return null;
  if (typeof v !== 'number' || !Number.isInteger(v)) {
    const hint = v === true ? ' (true is the chat API\'s spelling; /v1/completions takes the number of alternatives)' : '';
    throw invalidField('logprobs', `logprobs must be an integer in [0, ${MAX_LOGPROBS}], got ${describe(v)}${hint}`, 'invalid_type');
  }
  if (v < 0 || v > MAX_LOGPROBS) throw invalidField('logprobs', `logprobs must be in [0, ${MAX_LOGPROBS}] (the most likely alternatives returned per token), got ${v}`, 'invalid_value');
  return v;
}

function parseStop(stop: unknown): string[] {
  if (stop === undefined || stop === null) return [];
  const list = typeof stop === 'string' ? [stop] : stop;
  if (!Array.isArray(list) || !list.every((s) => typeof s === 'string')) throw invalidField('stop', `stop must be a string or an array of strings, got ${describe(stop)}`, 'invalid_type');
  if (list.length > MAX_STOPS) throw invalidField('stop', `at most ${MAX_STOPS} stop strings, got ${list.length}`, 'too_many_values');
  if (list.some((s) => s.length === 0)) throw invalidField('stop', 'stop strings must not be empty', 'invalid_value');
  return list as string[];
}

export function optionalBool(b: Record<string, unknown>, key: string, dflt: boolean, prefix = ''): boolean {
  const v = b[key];
  if (v === undefined || v === null) return dflt;
  if (typeof v !== 'boolean') throw invalidField(prefix + key, `${prefix}${key} must be true or false, got ${describe(v)}`, 'invalid_type');
  return v;
}

export function optionalNumber(b: Record<string, unknown>, key: string, dflt: number, min: number, max: number): number {
  const v = b[key];
  if (v === undefined || v === null) return dflt;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw invalidField(key, `${key} must be a number, got ${describe(v)}`, 'invalid_type');
  if (v < min || v > max) throw invalidField(key, `${key} must be in [${min}, ${max}], got ${v}`, 'invalid_value');
  return v;
}

export function optionalInt(b: Record<string, unknown>, key: string, dflt: number, min: number, max: number): number {
  const v = b[key];
  if (v === undefined || v === null) return dflt;
  if (typeof v !== 'number' || !Number.isInteger(v)) throw invalidField(key, `${key} must be an integer, got ${describe(v)}`, 'invalid_type');
  if (v < min || v > max) throw invalidField(key, `${key} must be in [${min}, ${max}], got ${v}`, 'invalid_value');
  return v;
}

export function describe(v: unknown): string {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 40 ? `${s.slice(0, 37)}...` : s;
}
