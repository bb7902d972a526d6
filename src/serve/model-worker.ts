import { Worker } from 'node:worker_threads';
import { UserError } from '../common/errors.js';
import type { SequenceEvent, SequenceSpec } from './continuous-batcher.js';
import type { EmbedItem, FromWorker, ModelInfo, ModelWorkerData, ToWorker } from './worker-protocol.js';

/** Counters of the generation loop, for `/metrics` (and tests that check batching). */
export interface GenerationMetrics {
  steps: number; // decode steps run
  generatedTokens: number; // tokens drawn (Σ batch sizes)
  maxBatchSize: number; // most sequences that drew a token in one step
  batchSizes: Record<string, number>; // batch size → steps with that size
  running: number; // sequences in the batch after the last step
  queued: number; // sequences waiting for a slot after the last step
  stepMsTotal: number; // time spent in steps, ms
  embedRequests: number;
  embeddedInputs: number;
}

/** Receives one request's sequence events; `onError` once per sequence if the worker dies first. */
export interface GenerationListener {
  onEvent(e: SequenceEvent): void;
  onError(err: Error): void;
}

type Waiter = { resolve: (r: { vectors: Float32Array; tokens: number }) => void; reject: (e: Error) => void };

/**
 * The main thread's handle on the model worker. Generation never runs on the main thread: requests
 * are posted to the worker, which answers with one message per decode step carrying every
 * sequence's new text, so the event loop only routes text to sockets.
 */
export class ModelWorker {
  readonly metrics: GenerationMetrics = { steps: 0, generatedTokens: 0, maxBatchSize: 0, batchSizes: {}, running: 0, queued: 0, stepMsTotal: 0, embedRequests: 0, embeddedInputs: 0 };
  private readonly listeners = new Map<number, GenerationListener>();
  private readonly embedWaiters = new Map<number, Waiter>();
  private nextEmbedId = 1;
  private dead: Error | null = null;

  private constructor(
    private readonly worker: Worker,
    readonly info: ModelInfo,
  ) {
    worker.on('message', (m: FromWorker) => this.onMessage(m));
    worker.on('error', (err) => this.die(err));
    worker.on('exit', (code) => this.die(new Error(`the model worker exited (code ${code})`)));
  }

  /** Starts the worker and waits until the model is loaded; a bad model folder is a UserError. */
  static start(data: ModelWorkerData): Promise<ModelWorker> {
    const fromSource = import.meta.url.endsWith('.ts');
    const url = new URL(fromSource ? './model-worker-main.ts' : './model-worker-main.js', import.meta.url);
    const worker = fromSource
      ? new Worker(`import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(url.href)}); })`, { eval: true, workerData: data })
      : new Worker(url, { workerData: data });
    return new Promise((resolve, reject) => {
      const onMessage = (m: FromWorker): void => {
        cleanup();
        if (m.kind === 'ready') resolve(new ModelWorker(worker, m.info));
        else {
          void worker.terminate();
          reject(m.kind === 'failed' && m.user ? new UserError(m.message) : Object.assign(new Error(m.kind === 'failed' ? m.message : `unexpected ${m.kind} message`), { stack: m.kind === 'failed' ? m.stack : undefined }));
        }
      };
      const onError = (err: Error): void => {
        cleanup();
        reject(err);
      };
      const onExit = (code: number): void => {
        cleanup();
        reject(new Error(`the model worker exited while loading (code ${code})`));
      };
      const cleanup = (): void => {
        worker.off('message', onMessage);
        worker.off('error', onError);
        worker.off('exit', onExit);
      };
      worker.on('message', onMessage);
      worker.on('error', onError);
      worker.on('exit', onExit);
    });
  }

  /** Why the worker stopped, or null while it runs. */
  get failure(): Error | null {
    return this.dead;
  }

  /** Queues sequences; the listener gets each one's text as it is generated, the last event with its finish reason. */
  generate(seqs: SequenceSpec[], listener: GenerationListener): void {
    if (this.dead) throw this.dead;
    for (const s of seqs) this.listeners.set(s.id, listener);
    this.post({ kind: 'generate', seqs });
  }

  /** Drops sequences whose client went away. */
  cancel(ids: number[]): void {
    const live = ids.filter((id) => this.listeners.delete(id));
    if (live.length > 0 && !this.dead) this.post({ kind: 'cancel', ids: live });
  }

  /** Normalised mean-pooled vectors (n, hiddenSize) and the tokens they were computed from. */
  embed(inputs: EmbedItem[]): Promise<{ vectors: Float32Array; tokens: number }> {
    if (this.dead) return Promise.reject(this.dead);
    const id = this.nextEmbedId++;
    this.metrics.embedRequests++;
    this.metrics.embeddedInputs += inputs.length;
    return new Promise((resolve, reject) => {
      this.embedWaiters.set(id, { resolve, reject });
      this.post({ kind: 'embed', id, inputs });
    });
  }

  async close(): Promise<void> {
    this.dead ??= new Error('the model worker was shut down');
    await this.worker.terminate();
  }

  private post(m: ToWorker): void {
    this.worker.postMessage(m);
  }

  private onMessage(m: FromWorker): void {
    switch (m.kind) {
      case 'step': {
        const g = this.metrics;
        g.steps++;
        g.generatedTokens += m.batchSize;
        g.maxBatchSize = Math.max(g.maxBatchSize, m.batchSize);
        g.batchSizes[m.batchSize] = (g.batchSizes[m.batchSize] ?? 0) + 1;
        g.running = m.running;
        g.queued = m.queued;
        g.stepMsTotal += m.stepMs;
        for (const e of m.events) {
          const listener = this.listeners.get(e.id);
          if (!listener) continue; // cancelled meanwhile
          if (e.finishReason) this.listeners.delete(e.id);
          listener.onEvent(e);
        }
        break;
      }
      case 'status':
        this.metrics.running = m.running;
        this.metrics.queued = m.queued;
        break;
      case 'embedded': {
        const w = this.embedWaiters.get(m.id);
        this.embedWaiters.delete(m.id);
        w?.resolve({ vectors: m.vectors, tokens: m.tokens });
        break;
      }
      case 'failed': {
        const err = m.user ? new UserError(m.message) : Object.assign(new Error(m.message), { stack: m.stack });
        if (m.id !== undefined) {
          const w = this.embedWaiters.get(m.id);
          this.embedWaiters.delete(m.id);
          w?.reject(err);
        } else {
          this.die(err);
          void this.worker.terminate();
        }
        break;
      }
      case 'ready':
        break;
    }
  }

  /** The worker is gone: every waiting request fails. */
  private die(err: Error): void {
    if (this.dead) return;
    this.dead = err;
    for (const w of this.embedWaiters.values()) w.reject(err);
    this.embedWaiters.clear();
    const listeners = [...this.listeners.entries()];
    this.listeners.clear();
    for (const [, l] of listeners) l.onError(err);
  }
}
