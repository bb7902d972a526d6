import type { CompletionBackend, SamplingParams, SynthCompletion, SynthRequest } from './completion-backend.js';
import { RetryableError, postJsonWithRetries, type RetryCounters, type RetryPolicy } from './http-retry.js';

export interface HttpCompletionOptions extends SamplingParams, Omit<RetryPolicy, 'settings'> {
  baseUrl: string; // e.g. http://127.0.0.1:8000/v1
  model: string; // the served model id
  concurrency: number; // requests in flight
  /** Counts the tokens of a completion under the run's tokenizer. */
  countTokens: (text: string) => number;
}

/**
 * Synthesis through any OpenAI-compatible `/v1/completions` server. Prompts go as token ids (vLLM,
 * SGLang and `sbp serve` accept them), so the separator token reaches the model exactly; each request
 * carries its own `seed`. At most `concurrency` requests are in flight; failures are retried (see
 * `postJsonWithRetries`). Answers come back in request order whatever order they finish in.
 */
export class HttpCompletionBackend implements CompletionBackend {
  readonly name: string;
  readonly counters: RetryCounters = { requests: 0, retries: 0 };
  private readonly url: string;
  private readonly policy: RetryPolicy;

  constructor(private readonly opts: HttpCompletionOptions) {
    this.url = `${opts.baseUrl.replace(/\/+$/, '')}/completions`;
    this.name = `http ${opts.model} at ${opts.baseUrl}`;
    this.policy = { ...opts, settings: 'synthesize.http' };
  }

  async complete(requests: readonly SynthRequest[], _batchSeed: number, onDone?: (n: number) => void): Promise<SynthCompletion[]> {
    const out: SynthCompletion[] = new Array(requests.length);
    let next = 0;
    const worker = async () => {
      while (next < requests.length) {
        const i = next++;
        out[i] = await this.completeOne(requests[i]!);
        onDone?.(1);
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.opts.concurrency, requests.length) }, worker));
    return out;
  }

  private completeOne(req: SynthRequest): Promise<SynthCompletion> {
    const o = this.opts;
    const body: Record<string, unknown> = {
      model: o.model,
      prompt: Array.from(req.prompt),
      max_tokens: req.maxTokens,
      temperature: o.temperature,
      top_p: o.topP,
      seed: req.seed,
    };
    if (o.topK > 0) body.top_k = o.topK;
    return postJsonWithRetries(this.url, body, this.policy, this.counters, (reply) => {
      const choice = (reply as { choices?: Array<{ text?: unknown; finish_reason?: unknown }> }).choices?.[0];
      if (!choice || typeof choice.text !== 'string') throw new RetryableError('the answer holds no choices[0].text');
      // Counted with the run's tokenizer, not the server's usage: that is how the text is tokenized later.
      return { text: choice.text, tokens: o.countTokens(choice.text), finishReason: choice.finish_reason === 'length' ? 'length' : 'stop' };
    });
  }
}
