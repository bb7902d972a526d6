import type { Backend } from '../engine/backend.js';
import { LlamaModel } from '../model/llama.js';
import type { ModelConfig } from '../model/types.js';
import type { Throughput } from './compute-matched-plan.js';

/** Wall time the timed part of a probe aims at, in seconds: the probe must not cost more than it tells. */
const PROBE_SECONDS = 2;

/**
 * Training tokens/s of this model on this backend, measured on random tokens: an untimed warm-up
 * step of one row (allocations, thread start, and a first timing), then up to `steps` timed forward +
 * backward passes of (rows, T) batches, with rows ≤ B chosen so that the timed part takes about
 * PROBE_SECONDS (a slow backend is probed with fewer rows rather than for minutes). The optimizer
 * update is a small share of a step and is left out.
 */
export function probeTrainThroughput(backend: Backend, model: ModelConfig, B: number, T: number, steps: number, seed: number): Throughput {
  const lm = new LlamaModel(model, backend, { seed });
  try {
    const rowsBatch = (rows: number) => {
      const tokens = new Int32Array(rows * T); // (rows, T)
      const targets = new Int32Array(rows * T); // (rows, T)
      let x = seed >>> 0 || 1;
      for (let i = 0; i < rows * T; i++) {
        x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
        tokens[i] = x % model.vocabSize;
        targets[i] = (x >>> 8) % model.vocabSize;
      }
      return { B: rows, T, tokens, targets, mask: null };
    };
    const pass = (batch: ReturnType<typeof rowsBatch>) => {
      lm.zeroGrads();
      lm.forwardBackward(batch);
    };
    let t0 = performance.now();
    pass(rowsBatch(1));
    const secPerRow = Math.max((performance.now() - t0) / 1000, 1e-6);
    const rows = Math.max(1, Math.min(B, Math.floor(PROBE_SECONDS / Math.max(1, steps) / secPerRow)));
    const batch = rowsBatch(rows);
    if (rows > 1) pass(batch); // warm-up at the probed shape
    t0 = performance.now();
    let done = 0;
    while (done < Math.max(1, steps)) {
      pass(batch);
      done++;
      if ((performance.now() - t0) / 1000 > PROBE_SECONDS) break;
    }
    const sec = Math.max((performance.now() - t0) / 1000, 1e-6);
    return { trainTokensPerSec: (done * rows * T) / sec, source: 'probe', backend: backend.name };
  } finally {
    lm.dispose?.();
  }
}
