/** One synthesis request: a prompt `[bos] d1 [sep]` as token ids and how many d2 tokens may follow. */
export interface SynthRequest {
  prompt: Int32Array;
  maxTokens: number;
  seed: number; // per-request sampling seed (servers that take one)
}

export interface SynthCompletion {
  text: string; // the generated d2, without the end-of-document token
  tokens: number; // tokens of `text` under the run's tokenizer (how the synthetic corpus is tokenized later)
  finishReason: 'stop' | 'length';
}

export interface SamplingParams {
  temperature: number;
  topP: number;
  topK: number; // 0 = off
}

/**
 * Where synthetic documents come from: the local engine (`LocalCompletionBackend`) or an
 * OpenAI-compatible `/v1/completions` server (`HttpCompletionBackend`: vLLM, SGLang, `sbp serve`).
 * `complete` answers every request, in request order; `batchSeed` makes a batch reproducible on
 * backends that sample many requests from one random stream.
 */
export interface CompletionBackend {
  readonly name: string;
  complete(requests: readonly SynthRequest[], batchSeed: number, onDone?: (n: number) => void): Promise<SynthCompletion[]>;
  close?(): Promise<void>;
}
