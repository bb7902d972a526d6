import { RetryableError, postJsonWithRetries, type RetryCounters, type RetryPolicy } from './http-retry.js';

export interface JudgeOptions extends Omit<RetryPolicy, 'settings' | 'backoffMs' | 'maxBackoffMs'> {
  baseUrl: string; // an OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1
  model: string;
  concurrency: number;
  backoffMs?: number;
  maxBackoffMs?: number;
}

export interface JudgeResult {
  judged: number; // documents with a YES/NO verdict
  nonFactual: number; // verdict YES (the document states something false)
  unparsed: number; // answers holding neither YES nor NO
  rate: number | null; // nonFactual / judged
}

const MAX_CHARS = 6000; // document characters shown to the judge

export const JUDGE_SYSTEM_PROMPT =
  'You check documents for factual errors. Read the document and decide whether it states anything that is factually false ' +
  '(wrong dates, names, numbers, places, events or claims about the world). Fiction, opinions and instructions are not errors. ' +
  'Answer with exactly one word: YES if it contains a factual error, NO otherwise.';

/** YES / NO in a judge's answer (the first one found), or null. */
export function parseVerdict(answer: string): boolean | null {
  const m = /\b(yes|no)\b/i.exec(answer);
  return m ? m[1]!.toLowerCase() === 'yes' : null;
}

/**
 * The paper's non-factual rate, measured by an LLM judge through `/v1/chat/completions` (greedy,
 * a few tokens): the share of documents the judge says contain a factual error.
 */
export async function judgeNonFactual(texts: readonly string[], opts: JudgeOptions): Promise<JudgeResult & { counters: RetryCounters }> {
  const url = `${opts.baseUrl.replace(/\/+$/, '')}/chat/completions`;
  const policy: RetryPolicy = { backoffMs: 500, maxBackoffMs: 30_000, ...opts, settings: 'synthesize.quality.judge' };
  const counters: RetryCounters = { requests: 0, retries: 0 };
  const verdicts: Array<boolean | null> = new Array(texts.length).fill(null);
  let next = 0;
  const worker = async () => {
    while (next < texts.length) {
      const i = next++;
      const body = {
        model: opts.model,
        temperature: 0,
        max_tokens: 4,
        messages: [
          { role: 'system', content: JUDGE_SYSTEM_PROMPT },
          { role: 'user', content: `Document:\n${texts[i]!.slice(0, MAX_CHARS)}\n\nDoes this document contain a factual error? Answer YES or NO.` },
        ],
      };
      verdicts[i] = await postJsonWithRetries(url, body, policy, counters, (reply) => {
        const content = (reply as { choices?: Array<{ message?: { content?: unknown } }> }).choices?.[0]?.message?.content;
        if (typeof content !== 'string') throw new RetryableError('the answer holds no choices[0].message.content');
        return parseVerdict(content);
      });
    }
  };
  await Promise.all(Array.from({ length: Math.min(opts.concurrency, texts.length) }, worker));
  const judged = verdicts.filter((v) => v !== null).length;
  const nonFactual = verdicts.filter((v) => v === true).length;
  return { judged, nonFactual, unparsed: texts.length - judged, rate: judged > 0 ? nonFactual / judged : null, counters };
}
