import { UserError } from '../common/errors.js';

/** A failure worth retrying: network, timeout, 408/409/429/5xx, or a reply of the wrong shape. */
export class RetryableError extends Error {
  constructor(
    message: string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'RetryableError';
  }
}

export interface RetryPolicy {
  apiKey?: string;
  maxRetries: number; // after the first attempt
  backoffMs: number; // first retry waits up to this; doubles
  maxBackoffMs: number;
  timeoutMs: number; // per attempt
  onRetry?: (info: { attempt: number; delayMs: number; why: string }) => void;
  /** Where the failure advice points (a config section), e.g. "synthesize.http". */
  settings: string;
}

export interface RetryCounters {
  requests: number;
  retries: number;
}

/**
 * POSTs JSON and returns `read(parsed reply)`, retrying transient failures with exponential backoff
 * and full jitter (a `Retry-After` header wins). `read` throws RetryableError for a reply of the
 * wrong shape. A 4xx other than 408/409/429 fails at once with the server's message.
 */
export async function postJsonWithRetries<T>(url: string, body: unknown, policy: RetryPolicy, counters: RetryCounters, read: (reply: unknown) => T): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      counters.requests++;
      return read(await postOnce(url, body, policy));
    } catch (err) {
      if (!(err instanceof RetryableError)) throw err;
      if (attempt >= policy.maxRetries) {
        throw new UserError(`${url}: ${err.message}; gave up after ${attempt + 1} attempts (${policy.settings}.maxRetries ${policy.maxRetries}). Check the server, then rerun: finished shards are kept`);
      }
      const cap = Math.min(policy.maxBackoffMs, policy.backoffMs * 2 ** attempt);
      const delayMs = err.retryAfterMs ?? Math.floor(Math.random() * cap);
      counters.retries++;
      policy.onRetry?.({ attempt: attempt + 1, delayMs, why: err.message });
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
  }
}

async function postOnce(url: string, body: unknown, policy: RetryPolicy): Promise<unknown> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (policy.apiKey) headers.authorization = `Bearer ${policy.apiKey}`;
  let res: Response;
  try {
    res = await fetch(url, { method: 'POST', headers, body: JSON.stringify(body), signal: AbortSignal.timeout(policy.timeoutMs) });
  } catch (err) {
    const e = err as Error & { cause?: { code?: string } };
    throw new RetryableError(e.name === 'TimeoutError' ? `no answer within ${policy.timeoutMs} ms` : `${e.message}${e.cause?.code ? ` (${e.cause.code})` : ''}`);
  }
  let text: string;
  try {
    text = await res.text();
  } catch (err) {
    throw new RetryableError(`the connection dropped while reading the answer (${(err as Error).message})`);
  }
  if (!res.ok) {
    const why = `HTTP ${res.status}: ${serverMessage(text)}`;
    if (res.status === 408 || res.status === 409 || res.status === 429 || res.status >= 500) throw new RetryableError(why, retryAfterMs(res.headers.get('retry-after')));
    throw new UserError(`${url} refused a request: ${why}. Check the model name and the ${policy.settings} settings`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new RetryableError(`the answer is not JSON: ${JSON.stringify(text.slice(0, 80))}`);
  }
}

function serverMessage(body: string): string {
  try {
    const v = JSON.parse(body) as { error?: { message?: unknown } | string; message?: unknown };
    if (typeof v.error === 'string') return v.error;
    if (v.error && typeof v.error.message === 'string') return v.error.message;
    if (typeof v.message === 'string') return v.message;
  } catch {
    // not JSON: show the start of the body
  }
  return body.slice(0, 200) || '(empty body)';
}

function retryAfterMs(value: string | null): number | undefined {
  if (value === null) return undefined;
  const s = Number(value);
  if (Number.isFinite(s) && s >= 0) return Math.min(s * 1000, 60_000);
  const t = Date.parse(value);
  return Number.isFinite(t) ? Math.max(0, Math.min(t - Date.now(), 60_000)) : undefined;
}
