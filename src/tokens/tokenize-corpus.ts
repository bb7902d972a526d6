import { existsSync, mkdirSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { basename, join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { UserError } from '../common/errors.js';
import { Progress } from '../common/progress.js';
import { listCorpusShards } from '../data/corpus-reader.js';
import type { CorpusSplit } from '../data/document.js';
import type { StageContext } from '../stage/stage.js';
import { SHARD_EXTENSION, dtypeForVocab, type TokenDType } from './shard-format.js';
import { loadTokenEncoder } from './load-encoder.js';
import { tokenizeShard, type ShardTokenStats } from './tokenize-shard.js';
import { shouldFailAfter, type StageTestHooks } from '../stage/test-hooks.js';

/** Input bytes per worker thread when the thread count is automatic (≈ 1 s of one thread's work). */
export const MIN_BYTES_PER_WORKER = 4 << 20;

/** Completion markers: a stage's context, or any store with the same three calls. */
export type ShardTracker = Pick<StageContext, 'isDone' | 'markDone' | 'doneInfo'>;

export interface TokenizeCorpusOptions {
  corpusDir: string; // holds {split}-NNNNN.jsonl
  tokenizerPath: string; // tokenizer.json
  outDir: string; // receives {split}-NNNNN.tok, one per corpus shard
  splits: readonly CorpusSplit[];
  threads?: number; // worker threads; 1 tokenizes in this thread (default: all cores, one per 4 MiB of input)
  tracker?: ShardTracker; // skip shards marked done, mark new ones (default: redo everything)
  quiet?: boolean; // no progress line
  /** Test hooks (failAfterUnits: shards finished in this call) to simulate a kill. */
  testHooks?: StageTestHooks;
}

export interface SplitTokenStats {
  shards: number;
  docs: number;
  tokens: number;
  bytes: number; // UTF-8 bytes of text tokenized
  tokensPerByte: number; // tokens / bytes: the tokenizer's compression on this split
  emptyDocs: number;
  maxDocTokens: number;
  fileBytes: number; // size of the .tok files
}

/** `tokens/stats.json` and the `stats` of the tokens stage manifest. */
export interface TokenizeStats {
  vocabSize: number;
  dtype: TokenDType;
  splits: Partial<Record<CorpusSplit, SplitTokenStats>>;
  shardsWritten: number; // by this call
  shardsReused: number; // finished by an earlier, interrupted call
  threads: number; // workers used by this call (1 = the calling thread)
}

/** One corpus shard to tokenize. */
export interface WorkerJob {
  name: string; // the marker name, = output file name
  input: string;
  output: string;
}

export type WorkerReply =
  | { kind: 'ready' }
  | { kind: 'progress'; bytes: number }
  | { kind: 'done'; name: string; stats: ShardTokenStats }
  | { kind: 'failed'; message: string; stack?: string; user: boolean };

/** The token shard written for a corpus shard: `train-00003.jsonl` → `train-00003.tok`. */
export function tokenShardName(corpusShard: string): string {
  return basename(corpusShard).replace(/\.jsonl$/, SHARD_EXTENSION);
}

/**
 * Tokenizes every shard of the given splits of a corpus folder into one token shard each, in
 * parallel on worker threads. One output per input keeps resume exact: a shard marked done is not
 * redone, and a shard cut off mid-way is redone from its start (its partial file never looks
 * complete). The output of a shard depends only on its input and the tokenizer, so any number of
 * threads gives byte-identical files. Reused by later stages that tokenize other corpora.
 */
export async function tokenizeCorpus(opts: TokenizeCorpusOptions): Promise<TokenizeStats> {
  if (!existsSync(opts.tokenizerPath)) throw new UserError(`${opts.tokenizerPath}: no tokenizer; run \`sbp tokenizer train\` first`);
  // Loaded here even when workers do the work: a broken tokenizer.json fails once, before any worker starts.
  const encoder = await loadTokenEncoder(opts.tokenizerPath);
  const vocabSize = encoder.vocabSize;
  mkdirSync(opts.outDir, { recursive: true });

  const tracker: ShardTracker = opts.tracker ?? { isDone: () => false, markDone: () => {}, doneInfo: () => undefined };
  const splitStats: Partial<Record<CorpusSplit, SplitTokenStats>> = {};
  const todo: Array<WorkerJob & { split: CorpusSplit; inputBytes: number }> = [];
  const shardSplit = new Map<string, CorpusSplit>();
  let reused = 0;
  for (const split of opts.splits) {
    splitStats[split] = { shards: 0, docs: 0, tokens: 0, bytes: 0, tokensPerByte: 0, emptyDocs: 0, maxDocTokens: 0, fileBytes: 0 };
    for (const input of listCorpusShards(opts.corpusDir, split)) {
      const name = tokenShardName(input);
      const output = join(opts.outDir, name);
      shardSplit.set(name, split);
      const before = tracker.isDone(name) && existsSync(output) ? tracker.doneInfo<ShardTokenStats>(name) : undefined;
      if (before) {
        addShard(splitStats[split]!, before);
        reused++;
      } else todo.push({ name, input, output, split, inputBytes: statSync(input).size });
    }
  }

  const progress = new Progress({ label: 'tokenize', total: todo.reduce((s, j) => s + j.inputBytes, 0), unit: 'B', quiet: opts.quiet });
  let finished = 0;
  const onShardDone = (name: string, stats: ShardTokenStats): void => {
    if (stats.dtype !== dtypeForVocab(vocabSize)) throw new Error(`${name}: written as ${stats.dtype} but the tokenizer has ${vocabSize} tokens`);
    tracker.markDone(name, stats);
    addShard(splitStats[shardSplit.get(name)!]!, stats);
    finished++;
    if (shouldFailAfter(opts.testHooks, finished)) {
      throw new Error(`fault injected after ${finished} token shard(s) (test hook)`);
    }
  };

  const todoBytes = todo.reduce((s, j) => s + j.inputBytes, 0);
  // Unless told, a worker is started only per MIN_BYTES_PER_WORKER of input: each costs ~0.1 s to start
  // (~1 s under tsx) and a small corpus is tokenized faster than that in this thread.
  const wanted = opts.threads ?? Math.min(availableParallelism(), Math.ceil(todoBytes / MIN_BYTES_PER_WORKER));
  const threads = Math.max(1, Math.min(wanted, todo.length));
  if (threads === 1) {
    for (const job of todo) onShardDone(job.name, await tokenizeShard(job.input, job.output, encoder, (b) => progress.add(b)));
  } else {
    await runOnWorkers(todo, threads, opts.tokenizerPath, onShardDone, (b) => progress.add(b));
  }
  progress.finish();

  for (const s of Object.values(splitStats)) s.tokensPerByte = s.bytes > 0 ? s.tokens / s.bytes : 0;
  return { vocabSize, dtype: dtypeForVocab(vocabSize), splits: splitStats, shardsWritten: todo.length, shardsReused: reused, threads: todo.length === 0 ? 0 : threads };
}

function addShard(into: SplitTokenStats, s: ShardTokenStats): void {
  into.shards++;
  into.docs += s.docs;
  into.tokens += s.tokens;
  into.bytes += s.bytes;
  into.emptyDocs += s.emptyDocs;
  into.maxDocTokens = Math.max(into.maxDocTokens, s.maxDocTokens);
  into.fileBytes += s.fileBytes;
}

/** Starts the worker module, under tsx's loader when running from the TypeScript sources. */
function startWorker(tokenizerPath: string): Worker {
  const fromSource = import.meta.url.endsWith('.ts');
  const url = new URL(fromSource ? './tokenize-worker.ts' : './tokenize-worker.js', import.meta.url);
  const workerData = { tokenizerPath };
  return fromSource
    ? new Worker(`import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(url.href)}); })`, { eval: true, workerData })
    : new Worker(url, { workerData });
}

/** Hands jobs to `threads` workers, one at a time each, until all are done or one fails. */
function runOnWorkers(jobs: WorkerJob[], threads: number, tokenizerPath: string, onShardDone: (name: string, stats: ShardTokenStats) => void, onProgress: (bytes: number) => void): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const workers: Worker[] = [];
    let next = 0;
    let remaining = jobs.length;
    let settled = false;
    const stopAll = (err?: unknown): void => {
      if (settled) return;
      settled = true;
      // Workers cut off mid-shard leave only `.tmp` files behind, which a rerun overwrites.
      void Promise.all(workers.map((w) => w.terminate())).then(() => (err === undefined ? resolve() : reject(err)));
    };
    const give = (w: Worker): void => {
      if (next < jobs.length) {
        const { name, input, output } = jobs[next++]!;
        w.postMessage({ name, input, output } satisfies WorkerJob);
      }
    };
    for (let t = 0; t < threads; t++) {
      const w = startWorker(tokenizerPath);
      workers.push(w);
      w.on('message', (reply: WorkerReply) => {
        if (settled) return;
        try {
          switch (reply.kind) {
            case 'ready':
              give(w);
              break;
            case 'progress':
              onProgress(reply.bytes);
              break;
            case 'done':
              onShardDone(reply.name, reply.stats);
              if (--remaining === 0) stopAll();
              else give(w);
              break;
            case 'failed': {
              const err = reply.user ? new UserError(reply.message) : new Error(reply.message);
              if (!reply.user && reply.stack) err.stack = `${reply.stack}\n    (in a tokenize worker)`;
              stopAll(err);
              break;
            }
          }
        } catch (err) {
          stopAll(err);
        }
      });
      w.on('error', (err) => stopAll(err));
      w.on('exit', (code) => {
        if (!settled) stopAll(new Error(`a tokenize worker exited with code ${code} before finishing its shard`));
      });
    }
  });
}

