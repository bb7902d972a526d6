import type { LanguageModel } from '../model/types.js';
import type { Tokenizer } from '../tokenizer/tokenizer.js';
import { generate } from './sampler.js';

export interface SampleTextOptions {
  n: number; // samples per prompt
  maxTokens: number;
  temperature: number;
  topP: number;
  topK: number;
  seed: number;
  batchSize: number;
  stopAtEos: boolean;
  onStep?: (info: { done: number; running: number }) => void;
}

export interface SampleRecord {
  prompt: string;
  sample: number; // 0..n-1 for this prompt
  text: string; // the generated continuation, without the prompt
  tokens: number; // generated tokens
  finishReason: 'stop' | 'length';
}

/**
 * Text in, text out: each prompt is encoded as `[bos] prompt`, sampled `n` times (sample j of prompt i
 * has its own random stream, seed (seed, i·n + j)), and the continuations are decoded. An empty prompt
 * samples a document from scratch.
 */
export function sampleTexts(model: LanguageModel, tokenizer: Tokenizer, prompts: readonly string[], opts: SampleTextOptions): SampleRecord[] {
  const encoded = prompts.map((p) => {
    const ids = tokenizer.encode(p);
    const out = new Int32Array(ids.length + 1);
    out[0] = tokenizer.special.bos;
    out.set(ids, 1);
    return out;
  });
  const inputs: Int32Array[] = [];
  for (const e of encoded) for (let j = 0; j < opts.n; j++) inputs.push(e);
  const gens = generate(model, inputs, {
    temperature: opts.temperature,
    topP: opts.topP,
    topK: opts.topK,
    maxTokens: opts.maxTokens,
    seed: opts.seed,
    batchSize: opts.batchSize,
    stopTokens: opts.stopAtEos ? [tokenizer.special.eos] : [],
    onStep: opts.onStep,
  });
  return gens.map((g) => ({
    prompt: prompts[Math.floor(g.index / opts.n)]!,
    sample: g.index % opts.n,
    text: tokenizer.decode(g.tokens),
    tokens: g.tokens.length,
    finishReason: g.finishReason,
  }));
}
