// sbp/common: the error a user's mistake raises, the canonical hashing of the stage contract, the seeded generator.
export * from './errors.js';
export { canonicalJson, fmix32, hashValue, sha256Hex } from './hash.js';
export { permutation } from './permutation.js';
export { Mulberry32 } from './mulberry32.js';
