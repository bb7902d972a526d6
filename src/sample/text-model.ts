import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../common/errors.js';
import { SampleConfigSchema } from '../config/schema.js';
import { openBackend, type BackendChoice } from '../engine/open-backend.js';
import { loadModelFolder } from '../model/hf-folder.js';
import type { LlamaModel } from '../model/llama.js';
import { Tokenizer } from '../tokenizer/tokenizer.js';
import { generate } from './sampler.js';

/** Token ids as the library passes them around: what `encode` returns and `generate` and `score` accept. */
export type TokenIds = Int32Array;

/** Options of `TextModel.generate`; every field has a default (those of `sbp sample`, seed 0). */
export interface GenerateTextOptions {
  /** New tokens at most (default 256). */
  maxTokens?: number;
  /** 0 = greedy (default 1). */
  temperature?: number;
  /** Nucleus mass in (0, 1]; 1 = off (default 0.9). */
  topP?: number;
  /** Keep the k most likely tokens; 0 = off (default 0). */
  topK?: number;
  /** The same seed, prompt and options give the same text (default 0). */
  seed?: number;
  /**
   * The text is cut before the first occurrence of any of these strings (default none). The model
   * still decodes up to maxTokens or eos; the cut is made on the decoded text.
   */
  stop?: readonly string[];
  /** End at the end-of-document token (default true). */
  stopAtEos?: boolean;
}

/** How well the model predicts a text: natural-log probability of its tokens after `<|bos|>`. */
export interface TextScore {
  tokens: number;
  /** Σ log p(token | everything before it), in nats. */
  logprob: number;
  /** exp(-logprob / tokens). */
  perplexity: number;
}

export interface LoadModelOptions {
  /** Compute backend (default 'auto': the native cpu backend when it loads, else ref). */
  backend?: BackendChoice;
  /** Worker threads of the cpu backend (default all cores). */
  threads?: number;
  /** The tokenizer.json to use (default the model folder's own). */
  tokenizer?: string;
}

/**
 * A model and its tokenizer behind a text-in, text-out interface. Every text is framed as a document
 * is in training: `<|bos|>` first, and generation ends at `<|eos|>`; callers never handle either.
 */
export class TextModel {
  constructor(
    readonly dir: string,
    readonly model: LlamaModel,
    readonly tokenizer: Tokenizer,
  ) {}

  /** The text's token ids (no `<|bos|>`; the framing is added where it is needed). */
  encode(text: string): TokenIds {
    return Int32Array.from(this.tokenizer.encode(text));
  }

  decode(ids: ArrayLike<number>): string {
    return this.tokenizer.decode(ids);
  }

  /** The continuation of `prompt` (text, or ids from `encode`), without the prompt. */
  async generate(prompt: string | TokenIds, opts: GenerateTextOptions = {}): Promise<string> {
    const defaults = SampleConfigSchema.parse({});
    const ids = typeof prompt === 'string' ? this.encode(prompt) : prompt;
    const framed = new Int32Array(ids.length + 1);
    framed[0] = this.tokenizer.special.bos;
    framed.set(ids, 1);
    const [gen] = generate(this.model, [framed], {
      maxTokens: opts.maxTokens ?? defaults.maxTokens,
      temperature: opts.temperature ?? defaults.temperature,
      topP: opts.topP ?? defaults.topP,
      topK: opts.topK ?? defaults.topK,
      seed: opts.seed ?? 0,
      stopTokens: (opts.stopAtEos ?? defaults.stopAtEos) ? [this.tokenizer.special.eos] : [],
    });
    let text = this.decode(gen!.tokens);
    for (const s of opts.stop ?? []) {
      if (s === '') throw new UserError('generate: a stop string must not be empty');
      const at = text.indexOf(s);
      if (at >= 0) text = text.slice(0, at);
    }
    return text;
  }

  /** Scores a whole text (text, or ids from `encode`) under the model, as a document from its start. */
  score(text: string | TokenIds): TextScore {
    const ids = typeof text === 'string' ? this.encode(text) : text;
    const n = ids.length;
    if (n === 0) throw new UserError('score: the text has no tokens to score');
    const maxSeqLen = this.model.config.maxSeqLen;
    if (n > maxSeqLen) throw new UserError(`score: the text has ${n} tokens, more than the model's context of ${maxSeqLen}; score a shorter text`);
    const tokens = new Int32Array(n); // (1, n) inputs: <|bos|> then all but the last token
    tokens[0] = this.tokenizer.special.bos;
    tokens.set(ids.subarray(0, n - 1), 1);
    const { sumLoss } = this.model.evalLoss({ B: 1, T: n, tokens, targets: Int32Array.from(ids), mask: null });
    return { tokens: n, logprob: -sumLoss, perplexity: Math.exp(sumLoss / n) };
  }

  /** Drops the model's activation buffers; its weights stay usable. */
  dispose(): void {
    this.model.dispose();
  }
}

/**
 * Loads a model folder (`config.json`, `model.safetensors`, `tokenizer.json`: what `sbp train`
 * writes into runs/<name>/models/<model>/, or a compatible Hugging Face folder) for text in, text out.
 */
export async function loadModel(dir: string, opts: LoadModelOptions = {}): Promise<TextModel> {
  if (!existsSync(join(dir, 'config.json'))) throw new UserError(`${dir} is not a model folder (no config.json); give a folder that \`sbp train\` wrote, e.g. runs/<name>/models/baseline`);
  const tokenizerPath = opts.tokenizer ?? join(dir, 'tokenizer.json');
  if (!existsSync(tokenizerPath)) throw new UserError(`${tokenizerPath} not found: the model needs its tokenizer (pass { tokenizer: 'path/to/tokenizer.json' })`);
  const tokenizer = Tokenizer.load(tokenizerPath);
  const backend = await openBackend(opts.backend ?? 'auto', opts.threads);
  const model = loadModelFolder(dir, backend);
  if (tokenizer.vocabSize > model.config.vocabSize) {
    throw new UserError(`${tokenizerPath} has ${tokenizer.vocabSize} tokens but the model in ${dir} only ${model.config.vocabSize}; load the model with the tokenizer it was trained with`);
  }
  return new TextModel(dir, model, tokenizer);
}
