import type { Backend } from '../engine/backend.js';
import { CpuBackend } from '../engine/cpu-backend.js';
import { LogitsSampler, type SamplingOptions } from './logits-sampler.js';
import type { Rng } from './rng.js';

/** Which host sampler draws the tokens: the backend's native one when it has it, or TypeScript. */
export type HostSamplerChoice = 'auto' | 'typescript';

/**
 * Draws one token for each listed row of a decode step's logits (B, V): out[i] from row rows[i]
 * with the random stream rngs[rows[i]]. The native version (cpu backend) samples every row in one
 * call on the thread pool; it takes one uniform draw per row from the same streams, at the same
 * points, as `LogitsSampler`, and picks the same tokens.
 */
export interface BatchSampler {
  readonly kind: 'native' | 'typescript';
  sample(logits: Float32Array, rows: Int32Array, n: number, rngs: readonly Rng[], out: Int32Array): void;
}

export function createBatchSampler(backend: Backend, vocabSize: number, opts: SamplingOptions, choice: HostSamplerChoice = 'auto'): BatchSampler {
  const ts = new LogitsSampler(vocabSize, opts); // validates the options for both
  if (choice === 'auto' && backend instanceof CpuBackend) return new NativeBatchSampler(backend, ts);
  if (choice !== 'auto' && choice !== 'typescript') throw new RangeError(`hostSampler must be 'auto' or 'typescript', got '${String(choice)}'`);
  return {
    kind: 'typescript',
    sample(logits, rows, n, rngs, out) {
      const V = ts.vocabSize;
      for (let i = 0; i < n; i++) out[i] = ts.sample(logits, rows[i]! * V, rngs[rows[i]!]!);
    },
  };
}

class NativeBatchSampler implements BatchSampler {
  readonly kind = 'native';
  private uniforms = new Float64Array(0); // (rows) one draw per row, reused across steps

  constructor(
    private readonly backend: CpuBackend,
    private readonly ts: LogitsSampler,
  ) {}

  sample(logits: Float32Array, rows: Int32Array, n: number, rngs: readonly Rng[], out: Int32Array): void {
    if (this.ts.greedy) {
      this.backend.sampleLogits(logits, this.ts.vocabSize, rows, n, null, out, this.ts.opts);
      return;
    }
    if (this.uniforms.length < n) this.uniforms = new Float64Array(n);
    for (let i = 0; i < n; i++) this.uniforms[i] = rngs[rows[i]!]!.float();
    this.backend.sampleLogits(logits, this.ts.vocabSize, rows, n, this.uniforms, out, this.ts.opts);
  }
}
