// The model worker: owns the backend, the model and the tokenizer, runs continuous batching for
// completions and forward passes for embeddings, and streams results to the server's main thread.
import { parentPort, workerData } from 'node:worker_threads';
import { isUserError } from '../common/errors.js';
import { normalizeRows } from '../embed/embedder.js';
import { documentPrefix } from '../embed/document-prefix.js';
import { LmEmbedder } from '../embed/lm-embedder.js';
import { loadModelFolder } from '../model/hf-folder.js';
import { Tokenizer } from '../tokenizer/tokenizer.js';
import { serverBytesOf } from './token-bytes.js';
import { openBackend } from '../engine/open-backend.js';
import { ContinuousBatcher } from './continuous-batcher.js';
import type { EmbedItem, FromWorker, ModelWorkerData, ToWorker } from './worker-protocol.js';

const port = parentPort!;
const post = (m: FromWorker, transfer: ArrayBuffer[] = []): void => port.postMessage(m, transfer);
const data = workerData as ModelWorkerData;

function failure(err: unknown, id?: number): FromWorker {
  const e = err as Error;
  return { kind: 'failed', id, message: e.message, stack: e.stack, user: isUserError(err) };
}

try {
  const notes: string[] = [];
  const tokenizer = Tokenizer.load(data.tokenizerPath);
  const backend = await openBackend(data.backend, data.threads, (line) => notes.push(line));
  const model = loadModelFolder(data.modelDir, backend);
  const batcher = new ContinuousBatcher(model, serverBytesOf(tokenizer), data.maxBatch, data.prefillTokens);
  const embedder = new LmEmbedder(model, { batchTokens: data.embedBatchTokens, lengthQuantum: 32 });
  const embedJobs: Array<{ id: number; inputs: EmbedItem[] }> = [];
  let wake: (() => void) | null = null;

  port.on('message', (m: ToWorker) => {
    try {
      if (m.kind === 'generate') for (const s of m.seqs) batcher.submit(s);
      else if (m.kind === 'cancel') for (const id of m.ids) batcher.cancel(id);
      else if (m.kind === 'embed') embedJobs.push({ id: m.id, inputs: m.inputs });
      if (m.kind !== 'embed') post({ kind: 'status', running: batcher.runningCount, queued: batcher.queuedCount });
    } catch (err) {
      post(failure(err)); // a malformed message is a bug of the main thread
    }
    wake?.();
  });

  const embed = async (inputs: EmbedItem[]): Promise<{ vectors: Float32Array; tokens: number }> => {
    // Text is cut the way the embed stage cuts documents, so `http` against this server equals `lm`.
    const docs = inputs.map((x) => (typeof x === 'string' ? documentPrefix(tokenizer, x, embedder.maxDocTokens).tokens : x.subarray(0, embedder.maxDocTokens)));
    const vectors = await embedder.embedTokens(docs);
    normalizeRows(vectors, embedder.dim);
    return { vectors, tokens: docs.reduce((a, d) => a + d.length, 0) };
  };

  post({
    kind: 'ready',
    info: { backend: backend.name, vocabSize: model.config.vocabSize, hiddenSize: model.config.hiddenSize, maxSeqLen: model.config.maxSeqLen, maxEmbedTokens: embedder.maxDocTokens, notes },
  });

  // Embedding jobs and generation steps alternate, so neither starves the other.
  for (;;) {
    const job = embedJobs.shift();
    if (job) {
      try {
        const r = await embed(job.inputs);
        post({ kind: 'embedded', id: job.id, vectors: r.vectors, tokens: r.tokens }, [r.vectors.buffer as ArrayBuffer]);
      } catch (err) {
        post(failure(err, job.id));
      }
    }
    if (!batcher.idle) {
      const t0 = performance.now();
      const r = batcher.step();
      post({ kind: 'step', batchSize: r.batchSize, admitted: r.admitted, running: batcher.runningCount, queued: batcher.queuedCount, stepMs: performance.now() - t0, events: r.events });
    }
    if (batcher.idle && embedJobs.length === 0) await new Promise<void>((resolve) => (wake = resolve));
    else await new Promise<void>((resolve) => setImmediate(resolve)); // let cancels and new work in
    wake = null;
  }
} catch (err) {
  post(failure(err));
}
