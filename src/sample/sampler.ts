import { UserError } from '../common/errors.js';
import type { LanguageModel } from '../model/types.js';
import { createBatchSampler, type HostSamplerChoice } from './batch-sampler.js';
import type { SamplingOptions } from './logits-sampler.js';
import { Rng } from './rng.js';

export interface GenerateOptions extends SamplingOptions {
  maxTokens: number; // new tokens per sequence, at most
  seed: number;
  stopTokens: readonly number[]; // a sequence ends when it draws one of these (usually [eos]); not included in the output
  batchSize?: number; // sequences decoded together (default: all prompts at once, up to 64)
  /** 'auto' (default): the backend's native sampler when it has one (cpu), else TypeScript; both pick the same tokens. */
  hostSampler?: HostSamplerChoice;
  /** Called after every decode step of a batch with the number of sequences still running. */
  onStep?: (info: { done: number; running: number }) => void;
}

export interface Generation {
  index: number; // position of the prompt in the input list
  prompt: Int32Array;
  tokens: Int32Array; // generated tokens, without the stop token
  finishReason: 'stop' | 'length';
}

/**
 * Batched generation with a KV cache. Every sequence has its own random stream seeded by
 * (seed, prompt index), so its output does not depend on which other prompts share its batch.
 * Prompts of different lengths are prefilled in groups of equal length (the others masked inactive),
 * then all sequences decode one token per step until each draws a stop token or reaches maxTokens.
 */
export function generate(model: LanguageModel, prompts: readonly Int32Array[], opts: GenerateOptions): Generation[] {
  const cfg = model.config;
  if (!Number.isInteger(opts.maxTokens) || opts.maxTokens < 1) throw new UserError(`maxTokens must be a whole number >= 1, got ${opts.maxTokens}`);
  for (const [i, p] of prompts.entries()) {
    if (p.length === 0) throw new UserError(`prompt ${i} is empty: a prompt needs at least one token (e.g. the bos token)`);
    // The last drawn token is never fed back, so the cache holds prompt + maxTokens - 1 positions.
    if (p.length + opts.maxTokens - 1 > cfg.maxSeqLen) {
      throw new UserError(`prompt ${i} has ${p.length} tokens; with maxTokens ${opts.maxTokens} that exceeds the model's context of ${cfg.maxSeqLen} tokens — shorten the prompt or lower maxTokens`);
    }
    for (const t of p) if (!(t >= 0 && t < cfg.vocabSize)) throw new UserError(`prompt ${i} holds token id ${t}, outside the vocabulary [0, ${cfg.vocabSize})`);
  }
  const batchSize = opts.batchSize ?? Math.min(64, Math.max(1, prompts.length));
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new UserError(`batchSize must be a whole number >= 1, got ${batchSize}`);
  const out: Generation[] = [];
  for (let start = 0; start < prompts.length; start += batchSize) {
    const chunk = prompts.slice(start, start + batchSize);
    out.push(...generateBatch(model, chunk, start, opts));
  }
  return out;
}

function generateBatch(model: LanguageModel, prompts: readonly Int32Array[], firstIndex: number, opts: GenerateOptions): Generation[] {
  const B = prompts.length;
  const V = model.config.vocabSize;
  const sampler = createBatchSampler(model.backend, V, opts, opts.hostSampler);
  const stop = new Set(opts.stopTokens);
  const rngs = prompts.map((_, b) => new Rng([opts.seed, firstIndex + b]));
  const maxPrompt = Math.max(...prompts.map((p) => p.length));
  const cache = model.createKVCache(B, maxPrompt + opts.maxTokens - 1);
  const last = new Float32Array(B * V); // (B, V) logits of each sequence's last fed token
  try {
    // Prefill: one call per distinct prompt length, only that group active.
    const lengths = [...new Set(prompts.map((p) => p.length))].sort((a, b) => a - b);
    for (const L of lengths) {
      const tokens = new Int32Array(B * L); // (B, L); rows of other groups stay 0 and are inactive
      const active = new Uint8Array(B);
      for (let b = 0; b < B; b++) {
        if (prompts[b]!.length !== L) continue;
        tokens.set(prompts[b]!, b * L);
        active[b] = 1;
      }
      const logits = model.step(cache, tokens, L, active); // (B, V)
      for (let b = 0; b < B; b++) if (active[b]) last.set(logits.subarray(b * V, (b + 1) * V), b * V);
    }

    const generated: number[][] = prompts.map(() => []);
    const reason: Array<'stop' | 'length' | undefined> = prompts.map(() => undefined);
    const running = new Uint8Array(B).fill(1);
    let nRunning = B;
    const next = new Int32Array(B); // (B, 1)
    const rows = new Int32Array(B); // the running sequences of this step
    const drawn = new Int32Array(B); // drawn[i]: token of sequence rows[i]
    while (nRunning > 0) {
      let n = 0;
      for (let b = 0; b < B; b++) if (running[b]) rows[n++] = b;
      sampler.sample(last, rows, n, rngs, drawn);
      for (let i = 0; i < n; i++) {
        const b = rows[i]!;
        const tok = drawn[i]!;
        next[b] = tok;
        if (stop.has(tok)) {
          reason[b] = 'stop';
        } else {
          generated[b]!.push(tok);
          if (generated[b]!.length >= opts.maxTokens) reason[b] = 'length';
        }
        if (reason[b] !== undefined) {
          running[b] = 0;
          nRunning--;
        }
      }
      opts.onStep?.({ done: B - nRunning, running: nRunning });
      if (nRunning === 0) break;
      const logits = model.step(cache, next, 1, running);
      for (let b = 0; b < B; b++) if (running[b]) last.set(logits.subarray(b * V, (b + 1) * V), b * V);
    }
    return prompts.map((prompt, b) => ({
      index: firstIndex + b,
      prompt,
      tokens: Int32Array.from(generated[b]!),
      finishReason: reason[b]!,
    }));
  } finally {
    (cache as { dispose?: () => void }).dispose?.();
  }
}
