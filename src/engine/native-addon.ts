import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { UserError } from '../common/errors.js';
import { packageRoot } from '../common/package-root.js';

/**
 * The raw N-API addon built from `native/` by node-gyp (`build/Release/sbp_native.node`), typed.
 * Private to the engine: only `cpu-backend.ts` calls it, after validating shapes and view bounds.
 * Every tensor crosses as (typed array, element offset): zero copy. Integer inputs that index other
 * tensors (tokens, targets, positions, lengths) are checked on the C++ side (RangeError).
 */

/** An opaque handle owning a thread pool and the kernel table of one instruction set. */
export type NativeContext = { readonly __nativeContext: unique symbol };

export type Isa = 'avx512' | 'avx2' | 'portable';
type F32 = Float32Array;
type I32 = Int32Array;

export interface NativeAddon {
  createContext(threads: number, isa: Isa): NativeContext;
  /** Instruction sets this CPU and build support, best first. */
  availableIsas(): Isa[];
  matmul(ctx: NativeContext, c: F32, cOff: number, a: F32, aOff: number, b: F32, bOff: number,
    M: number, N: number, K: number, lda: number, ldb: number, ldc: number,
    transA: boolean, transB: boolean, alpha: number, beta: number): void;
  add(ctx: NativeContext, out: F32, oOff: number, a: F32, aOff: number, b: F32, bOff: number, n: number): void;
  scale(ctx: NativeContext, x: F32, xOff: number, s: number, n: number): void;
  sumSquares(ctx: NativeContext, x: F32, xOff: number, n: number): number;
  fill(ctx: NativeContext, x: F32 | I32, xOff: number, n: number, value: number): void;
  copy(ctx: NativeContext, dst: F32 | I32, dOff: number, src: F32 | I32, sOff: number, n: number): void;
  embeddingForward(ctx: NativeContext, out: F32, oOff: number, tokens: I32, tOff: number, wte: F32, wOff: number,
    N: number, C: number, V: number): void;
  embeddingBackward(ctx: NativeContext, dwte: F32, wOff: number, dout: F32, dOff: number, tokens: I32, tOff: number,
    N: number, C: number, V: number): void;
  rmsnormForward(ctx: NativeContext, out: F32, oOff: number, rstd: F32, rOff: number, x: F32, xOff: number,
    w: F32, wOff: number, N: number, C: number, eps: number): void;
  rmsnormBackward(ctx: NativeContext, dx: F32, dxOff: number, dw: F32, dwOff: number, dout: F32, dOff: number,
    x: F32, xOff: number, w: F32, wOff: number, rstd: F32, rOff: number, N: number, C: number): void;
  ropeForward(ctx: NativeContext, out: F32, oOff: number, x: F32, xOff: number, pos: I32, pOff: number,
    cos: F32, cOff: number, sin: F32, sOff: number, N: number, NH: number, D: number, maxPos: number): void;
  ropeBackward(ctx: NativeContext, dx: F32, dxOff: number, dout: F32, dOff: number, pos: I32, pOff: number,
    cos: F32, cOff: number, sin: F32, sOff: number, N: number, NH: number, D: number, maxPos: number): void;
  attentionForward(ctx: NativeContext, out: F32, oOff: number, lse: F32, lOff: number, q: F32, qOff: number,
    k: F32, kOff: number, v: F32, vOff: number, B: number, T: number, H: number, KVH: number, D: number): void;
  attentionBackward(ctx: NativeContext, dq: F32, dqOff: number, dk: F32, dkOff: number, dv: F32, dvOff: number,
    dout: F32, dOff: number, out: F32, oOff: number, lse: F32, lOff: number, q: F32, qOff: number,
    k: F32, kOff: number, v: F32, vOff: number, B: number, T: number, H: number, KVH: number, D: number): void;
  attentionDecode(ctx: NativeContext, out: F32, oOff: number, q: F32, qOff: number, kCache: F32, kOff: number,
    vCache: F32, vOff: number, lens: I32, lOff: number, B: number, H: number, KVH: number, D: number, Tcap: number): void;
  kvCacheWrite(ctx: NativeContext, cache: F32, cOff: number, x: F32, xOff: number, pos: I32, pOff: number,
    B: number, T: number, Tcap: number, KVH: number, D: number): void;
  swigluForward(ctx: NativeContext, out: F32, oOff: number, gate: F32, gOff: number, up: F32, uOff: number, n: number): void;
  swigluBackward(ctx: NativeContext, dgate: F32, dgOff: number, dup: F32, duOff: number, dout: F32, dOff: number,
    gate: F32, gOff: number, up: F32, uOff: number, n: number): void;
  crossEntropyForward(ctx: NativeContext, losses: F32, lOff: number, logits: F32, gOff: number, targets: I32, tOff: number,
    mask: F32 | null, mOff: number, N: number, V: number): void;
  crossEntropyBackward(ctx: NativeContext, dlogits: F32, dOff: number, logits: F32, gOff: number, targets: I32, tOff: number,
    mask: F32 | null, mOff: number, scale: number, N: number, V: number): void;
  adamw(ctx: NativeContext, param: F32, pOff: number, grad: F32, gOff: number, m: F32, mOff: number, v: F32, vOff: number,
    n: number, lr: number, beta1: number, beta2: number, eps: number, weightDecay: number, step: number): void;
  /** out[i] = token drawn from row rows[i] of logits (B, V) with uniforms[i] (null when greedy). */
  sampleLogits(ctx: NativeContext, logits: F32, lOff: number, B: number, V: number, rows: I32, rOff: number, n: number,
    uniforms: Float64Array | null, uOff: number, out: I32, oOff: number, temperature: number, topK: number, topP: number): void;
}


let cached: NativeAddon | null = null;

/** Loads the addon once per process; a missing build is the user's to fix (a UserError saying how). */
export function loadNativeAddon(): NativeAddon {
  if (cached) return cached;
  const root = packageRoot();
  const candidates = ['build/Release/sbp_native.node', 'build/Debug/sbp_native.node'].map((p) => join(root, p));
  const file = candidates.find((p) => existsSync(p));
  if (!file) {
    throw new UserError(
      `the cpu backend's native addon is not built (looked for ${candidates.join(', ')}): run \`npm run build\` ` +
        '(or `npx node-gyp rebuild`) in the sbp package; it needs a C++17 compiler, make and Python 3; ' +
        "or use the 'ref' backend",
    );
  }
  const require = createRequire(import.meta.url);
  try {
    cached = require(file) as NativeAddon;
  } catch (err) {
    throw new UserError(`the cpu backend's native addon ${file} failed to load (${(err as Error).message}); rebuild it with \`npm run build\``, { cause: err });
  }
  return cached;
}
