// Worker side of `tokenizeCorpus` (see tokenize-corpus.ts): loads the tokenizer once, then turns one
// corpus shard into one token shard per job message, reporting progress and the shard's stats.
import { parentPort, workerData } from 'node:worker_threads';
import { isUserError } from '../common/errors.js';
import { loadTokenEncoder } from './load-encoder.js';
import { tokenizeShard } from './tokenize-shard.js';
import type { WorkerJob, WorkerReply } from './tokenize-corpus.js';

const port = parentPort!;
const post = (reply: WorkerReply): void => port.postMessage(reply);

try {
  const encoder = await loadTokenEncoder((workerData as { tokenizerPath: string }).tokenizerPath);
  port.on('message', (job: WorkerJob) => {
    tokenizeShard(job.input, job.output, encoder, (bytes) => post({ kind: 'progress', bytes })).then(
      (stats) => post({ kind: 'done', name: job.name, stats }),
      (err: unknown) => post({ kind: 'failed', message: (err as Error).message, stack: (err as Error).stack, user: isUserError(err) }),
    );
  });
  post({ kind: 'ready' });
} catch (err) {
  post({ kind: 'failed', message: (err as Error).message, stack: (err as Error).stack, user: isUserError(err) });
}
