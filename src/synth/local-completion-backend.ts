import type { LanguageModel } from '../model/types.js';
import { generate } from '../sample/sampler.js';
import type { CompletionBackend, SamplingParams, SynthCompletion, SynthRequest } from './completion-backend.js';

export interface LocalBackendTokenizer {
  readonly special: { eos: number };
  decode(ids: ArrayLike<number>): string;
  encode(text: string): ArrayLike<number>;
}

/**
 * Synthesis on this machine with the batched KV-cache sampler. Requests sharing a length limit are
 * decoded together (most prompts hit the d1 budget and so share one); each such group samples with
 * the seed (batchSeed, maxTokens), sequence j of the group with its own stream (see `generate`).
 */
export class LocalCompletionBackend implements CompletionBackend {
  readonly name: string;

  constructor(
    private readonly model: LanguageModel,
    private readonly tokenizer: LocalBackendTokenizer,
    private readonly sampling: SamplingParams,
    private readonly batchSize: number,
  ) {
    this.name = `local (${model.backend.name})`;
  }

  async complete(requests: readonly SynthRequest[], batchSeed: number, onDone?: (n: number) => void): Promise<SynthCompletion[]> {
    const out: SynthCompletion[] = new Array(requests.length);
    const groups = new Map<number, number[]>();
    requests.forEach((r, i) => {
      const g = groups.get(r.maxTokens);
      if (g) g.push(i);
      else groups.set(r.maxTokens, [i]);
    });
    for (const maxTokens of [...groups.keys()].sort((a, b) => b - a)) {
      const idx = groups.get(maxTokens)!;
      const gens = generate(
        this.model,
        idx.map((i) => requests[i]!.prompt),
        {
          ...this.sampling,
          maxTokens,
          seed: mixSeed(batchSeed, maxTokens),
          stopTokens: [this.tokenizer.special.eos],
          batchSize: this.batchSize,
        },
      );
      for (const g of gens) {
        const text = this.tokenizer.decode(g.tokens);
        // Counted as the text will be tokenized later (a sampled id sequence need not be the canonical encoding).
        out[idx[g.index]!] = { text, tokens: this.tokenizer.encode(text).length, finishReason: g.finishReason };
      }
      onDone?.(idx.length);
      // Let timers and signal handlers run between groups.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    return out;
  }
}

/** A 32-bit seed from two integers (for sub-streams that must not collide with each other). */
export function mixSeed(a: number, b: number): number {
  let h = Math.imul((a >>> 0) ^ 0x9e3779b9, 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (b >>> 0) ^ (h >>> 15), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}
