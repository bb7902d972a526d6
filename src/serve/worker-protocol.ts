import type { BackendChoice } from '../engine/open-backend.js';
import type { SequenceEvent, SequenceSpec } from './continuous-batcher.js';

/** Messages between the server's main thread and its model worker (see model-worker.ts). */

export interface ModelWorkerData {
  modelDir: string;
  tokenizerPath: string;
  backend: BackendChoice;
  threads?: number;
  maxBatch: number;
  prefillTokens: number; // prompt tokens prefilled per step, at most (one sequence always joins)
  embedBatchTokens: number; // B × T bound of one embedding forward pass
}

export interface ModelInfo {
  backend: string; // the backend actually used
  vocabSize: number;
  hiddenSize: number;
  maxSeqLen: number;
  maxEmbedTokens: number; // longest input an embedding uses; longer ones are cut
  notes: string[]; // e.g. "cpu backend not available; using ref"
}

/** An embedding input: text (tokenized on the worker) or token ids (without bos). */
export type EmbedItem = string | Int32Array;

export type ToWorker =
  | { kind: 'generate'; seqs: SequenceSpec[] }
  | { kind: 'cancel'; ids: number[] }
  | { kind: 'embed'; id: number; inputs: EmbedItem[] };

export type FromWorker =
  | { kind: 'ready'; info: ModelInfo }
  | { kind: 'step'; batchSize: number; admitted: number; running: number; queued: number; stepMs: number; events: SequenceEvent[] }
  | { kind: 'status'; running: number; queued: number } // after sequences were added or cancelled
  | { kind: 'embedded'; id: number; vectors: Float32Array; tokens: number }
  | { kind: 'failed'; id?: number; message: string; stack?: string; user: boolean };
