import { UserError } from '../common/errors.js';
import type { Embedder, EmbedInput } from './embedder.js';

/**
 * Client of any OpenAI-compatible `POST {baseUrl}/embeddings` server (vLLM, TEI, SGLang, `sbp serve`,
 * hosted APIs) — the way to use the paper's Qwen3-Embedding-0.6B. Inputs go out in batches of
 * `batchSize`, at most `concurrency` requests in flight. Network errors, timeouts, 408, 429, 5xx and
 * unparsable bodies are retried up to `maxRetries` times with exponential backoff and full jitter
 * (a `Retry-After` header wins when the server sends one); other statuses fail at once with a message
 * naming the URL, the status and what to do. Resuming after a kill is the stage's job (shard markers).
 */
export interface HttpEmbedderOptions {
  baseUrl: string; // e.g. http://127.0.0.1:8000/v1 (the path before /embeddings)
  model: string;
  apiKey?: string; // sent as "Authorization: Bearer <key>"
  apiKeyEnv?: string; // only to name the variable in error messages
  batchSize: number;
  concurrency: number;
  maxRetries: number;
  backoffMs: number; // first retry waits up to this long; doubles each attempt
  maxBackoffMs: number;
  timeoutMs: number; // per request
  dimensions?: number; // sent as `dimensions` (Matryoshka models such as Qwen3-Embedding)
  /** Random source for jitter (tests pass a fixed one). */
  random?: () => number;
  /** Waits (tests shorten it). */
  sleep?: (ms: number) => Promise<void>;
}

export const HTTP_DEFAULTS = {
  baseUrl: 'http://127.0.0.1:8000/v1',
  model: 'Qwen/Qwen3-Embedding-0.6B',
  batchSize: 32,
  concurrency: 4,
  maxRetries: 6,
  backoffMs: 500,
  maxBackoffMs: 30_000,
  timeoutMs: 120_000,
} as const;

/** A failure worth retrying (network, timeout, 408/429/5xx, a body that is not the expected JSON). */
class RetryableError extends Error {
  constructor(
    message: string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

function sleepMs(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function excerpt(text: string): string {
  const t = text.replace(/\s+/g, ' ').trim();
  return t.length > 200 ? `${t.slice(0, 197)}...` : t;
}

/** Seconds or an HTTP date, per RFC 9110; undefined when absent or unreadable. */
function parseRetryAfter(value: string | null): number | undefined {
  if (!value) return undefined;
  const sec = Number(value);
  if (Number.isFinite(sec) && sec >= 0) return sec * 1000;
  const at = Date.parse(value);
  return Number.isFinite(at) ? Math.max(0, at - Date.now()) : undefined;
}

export class HttpEmbedder implements Embedder {
  readonly kind = 'http' as const;
  private _dim: number | undefined;
  private readonly url: string;
  private readonly random: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  /** Requests sent, retries made (for stats). */
  readonly counters = { requests: 0, retries: 0 };

  private constructor(readonly options: HttpEmbedderOptions) {
    this.url = `${options.baseUrl.replace(/\/+$/, '')}/embeddings`;
    this.random = options.random ?? Math.random;
    this.sleep = options.sleep ?? sleepMs;
    for (const k of ['batchSize', 'concurrency'] as const) {
      if (!Number.isInteger(options[k]) || options[k] < 1) throw new RangeError(`http embedder: ${k} must be a positive integer, got ${options[k]}`);
    }
  }

  /** Creates the client and learns the output width from one short request. */
  static async connect(options: HttpEmbedderOptions): Promise<HttpEmbedder> {
    const e = new HttpEmbedder(options);
    const probe = await e.request(['dimension probe']);
    e._dim = probe[0]!.length;
    if (options.dimensions !== undefined && e._dim !== options.dimensions) {
      throw new UserError(`${e.url}: asked for dimensions=${options.dimensions} but the server returned ${e._dim}-dimensional vectors; fix embed.http.dimensions or the server's model`);
    }
    return e;
  }

  get dim(): number {
    if (this._dim === undefined) throw new Error('HttpEmbedder: dim is unknown before connect()');
    return this._dim;
  }

  async embed(inputs: readonly EmbedInput[], onProgress?: (done: number) => void): Promise<Float32Array> {
    const dim = this.dim;
    const out = new Float32Array(inputs.length * dim);
    const { batchSize, concurrency } = this.options;
    const batches = Math.ceil(inputs.length / batchSize);
    let next = 0;
    let failed: unknown;
    const worker = async (): Promise<void> => {
      while (failed === undefined && next < batches) {
        const b = next++;
        const start = b * batchSize;
        const texts = inputs.slice(start, start + batchSize).map((x) => x.text);
        try {
          const vectors = await this.request(texts);
          for (let i = 0; i < vectors.length; i++) {
            const v = vectors[i]!;
            if (v.length !== dim) throw new UserError(`${this.url}: returned a ${v.length}-dimensional vector, earlier ones had ${dim}; the server changed model mid-run`);
            out.set(v, (start + i) * dim);
          }
          onProgress?.(texts.length);
        } catch (err) {
          failed ??= err; // stop the other workers after their current request
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, batches) }, worker));
    if (failed !== undefined) throw failed;
    return out;
  }

  /** One batch, with retries; returns one vector per text, in order. */
  async request(texts: string[]): Promise<number[][]> {
    const { maxRetries, backoffMs, maxBackoffMs } = this.options;
    let lastError: RetryableError | undefined;
    for (let attempt = 0; attempt <= maxRetries; attempt++) {
      if (attempt > 0) {
        // Full jitter: uniform in [0, min(cap, base·2^(attempt-1))], unless the server said when.
        const ceiling = Math.min(maxBackoffMs, backoffMs * 2 ** (attempt - 1));
        const wait = lastError?.retryAfterMs !== undefined ? Math.min(lastError.retryAfterMs, maxBackoffMs) : this.random() * ceiling;
        this.counters.retries++;
        await this.sleep(wait);
      }
      try {
        return await this.requestOnce(texts);
      } catch (err) {
        if (!(err instanceof RetryableError)) throw err;
        lastError = err;
      }
    }
    throw new UserError(
      `${this.url}: ${lastError?.message ?? 'failed'} — gave up after ${maxRetries + 1} attempts. ` +
        'Check that the embedding server is running and reachable (e.g. `vllm serve Qwen/Qwen3-Embedding-0.6B --task embed`), ' +
        'or set embed.http.baseUrl; rerun `sbp embed` to resume from the last finished shard.',
    );
  }

  private async requestOnce(texts: string[]): Promise<number[][]> {
    const { model, apiKey, apiKeyEnv, timeoutMs, dimensions } = this.options;
    const body: Record<string, unknown> = { model, input: texts, encoding_format: 'float' };
    if (dimensions !== undefined) body.dimensions = dimensions;
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (apiKey) headers.authorization = `Bearer ${apiKey}`;
    this.counters.requests++;
    let res: Response;
    let text: string;
    try {
      res = await fetch(this.url, { method: 'POST', headers, body: JSON.stringify(body), signal: AbortSignal.timeout(timeoutMs) });
      text = await res.text();
    } catch (err) {
      const e = err as Error & { cause?: { code?: string; message?: string } };
      if (e.name === 'TimeoutError' || e.name === 'AbortError') throw new RetryableError(`no answer within ${timeoutMs} ms (embed.http.timeoutMs)`);
      const code = e.cause?.code ?? e.cause?.message ?? e.message;
      const refused = code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EHOSTUNREACH';
      throw new RetryableError(refused ? `cannot connect (${code})` : `network error (${code})`);
    }
    if (res.status === 408 || res.status === 429 || res.status >= 500) {
      throw new RetryableError(`HTTP ${res.status} ${excerpt(text)}`, parseRetryAfter(res.headers.get('retry-after')));
    }
    if (!res.ok) {
      let hint = 'check embed.http.baseUrl and embed.http.model';
      if (res.status === 401 || res.status === 403) hint = apiKeyEnv ? `set the API key in $${apiKeyEnv} (embed.http.apiKeyEnv)` : 'the server wants an API key: set embed.http.apiKeyEnv';
      else if (res.status === 404) hint = `check that embed.http.baseUrl ends where /embeddings is served (often …/v1) and that model "${model}" is served there`;
      else if (res.status === 400 || res.status === 413 || res.status === 422) hint = 'the server rejected the request; lower embed.http.batchSize or embed.maxTokens, and check embed.http.model';
      throw new UserError(`${this.url}: HTTP ${res.status} ${excerpt(text)} — ${hint}`);
    }
    return this.parse(text, texts.length);
  }

  private parse(text: string, n: number): number[][] {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new RetryableError(`answered with a body that is not JSON: ${excerpt(text)}`);
    }
    const data = (json as { data?: unknown })?.data;
    if (!Array.isArray(data)) throw new RetryableError(`answered JSON without a "data" array: ${excerpt(text)}`);
    if (data.length !== n) throw new RetryableError(`answered ${data.length} embeddings for ${n} inputs`);
    const out: number[][] = new Array(n);
    for (let i = 0; i < data.length; i++) {
      const item = data[i] as { embedding?: unknown; index?: unknown };
      const index = typeof item?.index === 'number' ? item.index : i;
      const emb = item?.embedding;
      if (!Number.isInteger(index) || index < 0 || index >= n || out[index] !== undefined) throw new RetryableError(`answered a bad or repeated index ${String(item?.index)}`);
      if (!Array.isArray(emb) || emb.length === 0 || !emb.every((v) => typeof v === 'number' && Number.isFinite(v))) {
        throw new RetryableError(`answered an embedding that is not a non-empty array of finite numbers (item ${i}); if it is base64, the server ignored encoding_format`);
      }
      out[index] = emb as number[];
    }
    const dim = out[0]!.length;
    for (const v of out) if (v.length !== dim) throw new RetryableError(`answered vectors of different widths (${dim} and ${v.length})`);
    return out;
  }
}
