import { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';
import { PreTokenizer } from './pre-tokenizer.js';

export type CountMessage = { kind: 'texts'; texts: string[] } | { kind: 'finish' };
export type CountReply = { kind: 'ack' } | { kind: 'counts'; pieces: string[]; counts: Float64Array };

export interface PieceCounts {
  pieces: string[]; // unique pre-tokens
  counts: Float64Array; // (pieces) occurrences
  bytes: number; // UTF-8 bytes of text counted
  docs: number;
}

export interface CountOptions {
  maxBytes: number; // stop after this many UTF-8 bytes; the document that crosses it is cut
  threads?: number; // default: all cores
  minCharsForWorkers?: number; // inputs shorter than this are counted in this thread (default 2M chars)
  onProgress?: (info: { bytes: number; docs: number }) => void;
}

const BATCH_CHARS = 1 << 20; // text per message to a worker
const INLINE_LIMIT_CHARS = 2 << 20; // inputs smaller than this are counted without workers
const IN_FLIGHT = 2; // batches queued per worker

/** Adds the pre-tokens of `text` to `counts`. */
export function countInto(pre: PreTokenizer, text: string, counts: Map<string, number>): void {
  pre.forEachPiece(text, (piece) => {
    const c = counts.get(piece);
    if (c !== undefined) counts.set(piece, c + 1);
    // A new key is copied out of the document (concatenating, then slicing, makes a fresh
    // string) so the map does not keep whole documents alive through substrings.
    else counts.set((' ' + piece).slice(1), 1);
  });
}

/**
 * Counts the unique pre-tokens of a stream of documents with sbp's pre-tokenizer. Large inputs
 * are spread over worker threads; the counts are the same whatever the number of threads.
 */
export async function countPieces(texts: Iterable<string> | AsyncIterable<string>, opts: CountOptions): Promise<PieceCounts> {
  const threads = Math.max(1, opts.threads ?? availableParallelism());
  const inlineLimit = opts.minCharsForWorkers ?? INLINE_LIMIT_CHARS;
  const encoder = new TextEncoder();
  let bytes = 0;
  let docs = 0;
  let batch: string[] = [];
  let batchChars = 0;
  let pool: CountPool | undefined;
  const pre = PreTokenizer.sbp();
  const local = new Map<string, number>();

  try {
    for await (let text of texts as AsyncIterable<string>) {
      if (bytes >= opts.maxBytes) break;
      let b = Buffer.byteLength(text, 'utf8');
      if (bytes + b > opts.maxBytes) {
        // Cut at a character boundary so that exactly maxBytes (or a little less) are used.
        const room = new Uint8Array(opts.maxBytes - bytes);
        const { read, written } = encoder.encodeInto(text, room);
        text = text.slice(0, read);
        b = written;
      }
      bytes += b;
      docs++;
      batch.push(text);
      batchChars += text.length;
      if (threads > 1 && !pool && batchChars >= inlineLimit) pool = new CountPool(threads);
      if (pool && batchChars >= Math.min(BATCH_CHARS, inlineLimit)) {
        await pool.send(batch);
        batch = [];
        batchChars = 0;
      } else if (!pool && batchChars >= inlineLimit) {
        for (const t of batch) countInto(pre, t, local);
        batch = [];
        batchChars = 0;
      }
      opts.onProgress?.({ bytes, docs });
    }
  } catch (err) {
    await pool?.terminate();
    throw err;
  }
  if (pool) {
    if (batch.length > 0) await pool.send(batch);
    for (const part of await pool.finish()) {
      for (let i = 0; i < part.pieces.length; i++) local.set(part.pieces[i]!, (local.get(part.pieces[i]!) ?? 0) + part.counts[i]!);
    }
  } else {
    for (const t of batch) countInto(pre, t, local);
  }
  return { pieces: [...local.keys()], counts: Float64Array.from(local.values()), bytes, docs };
}

/**
 * Worker threads counting in parallel. When this module runs from TypeScript sources (tests and
 * benchmarks under tsx) the worker needs tsx's loader registered first; the compiled build loads
 * count-worker.js directly.
 */
class CountPool {
  private readonly workers: Worker[] = [];
  private readonly pending: number[] = [];
  private readonly waiters: Array<() => void> = [];
  private failure: Error | undefined;
  private next = 0;

  constructor(n: number) {
    const fromSource = import.meta.url.endsWith('.ts');
    const url = new URL(fromSource ? './count-worker.ts' : './count-worker.js', import.meta.url);
    for (let i = 0; i < n; i++) {
      const w = fromSource
        ? new Worker(`import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(url.href)}); })`, { eval: true })
        : new Worker(url);
      w.on('message', (m: CountReply) => {
        if (m.kind === 'ack') {
          this.pending[i]!--;
          this.wake();
        }
      });
      w.on('error', (err) => {
        this.failure = err;
        this.wake();
      });
      this.workers.push(w);
      this.pending.push(0);
    }
  }

  private wake(): void {
    for (const f of this.waiters.splice(0)) f();
  }

  private check(): void {
    if (this.failure) throw new Error(`a tokenizer counting worker failed: ${this.failure.message}`, { cause: this.failure });
  }

  /** Sends a batch to the least busy worker, waiting while all are full. */
  async send(texts: string[]): Promise<void> {
    for (;;) {
      this.check();
      let best = -1;
      for (let k = 0; k < this.workers.length; k++) {
        const i = (this.next + k) % this.workers.length;
        if (this.pending[i]! < IN_FLIGHT && (best < 0 || this.pending[i]! < this.pending[best]!)) best = i;
      }
      if (best >= 0) {
        this.next = best + 1;
        this.pending[best]!++;
        this.workers[best]!.postMessage({ kind: 'texts', texts } satisfies CountMessage);
        return;
      }
      await new Promise<void>((r) => this.waiters.push(r));
    }
  }

  async terminate(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }

  async finish(): Promise<Array<{ pieces: string[]; counts: Float64Array }>> {
    const results = await Promise.all(
      this.workers.map(
        (w) =>
          new Promise<{ pieces: string[]; counts: Float64Array }>((resolve, reject) => {
            w.on('message', (m: CountReply) => {
              if (m.kind === 'counts') resolve({ pieces: m.pieces, counts: m.counts });
            });
            w.on('error', reject);
            w.postMessage({ kind: 'finish' } satisfies CountMessage);
          }),
      ),
    );
    await Promise.all(this.workers.map((w) => w.terminate()));
    return results;
  }
}
