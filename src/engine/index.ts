import type { Backend } from './backend.js';
import { CpuBackend, type CpuBackendOptions } from './cpu-backend.js';
import { RefBackend } from './ref-backend.js';

export type BackendName = 'ref' | 'cpu';

/** Options of `createBackend`; `ref` takes none, `cpu` takes threads / isa / profile. */
export type BackendOptions = CpuBackendOptions;

/** The engine backend named `name`: `ref` (pure TypeScript oracle) or `cpu` (native addon). */
export function createBackend(name: BackendName, opts: BackendOptions = {}): Backend {
  switch (name) {
    case 'ref':
      return new RefBackend();
    case 'cpu':
      return new CpuBackend(opts);
    default:
      throw new RangeError(`unknown engine backend '${String(name)}' (expected 'ref' or 'cpu')`);
  }
}

export type { Backend, Tensor, DType, AdamWParams } from './backend.js';
export { CpuBackend, type CpuBackendOptions, type OpStat } from './cpu-backend.js';
export { RefBackend } from './ref-backend.js';
