export { createBackend, openBackend, type BackendChoice, type BackendFactory, type BackendName, type BackendOptions } from './open-backend.js';
export type { Backend, Tensor, DType, AdamWParams } from './backend.js';
export { CpuBackend, type CpuBackendOptions, type OpStat } from './cpu-backend.js';
export { RefBackend } from './ref-backend.js';
