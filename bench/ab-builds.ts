// Two builds of the cpu backend side by side in one process: this checkout's and another checkout's
// (say, an older commit with its own `npm run build`), timed in alternating rounds so that a busy
// machine slows both alike. Shapes: the GEMMs of a training step and of decoding (16 rows against the
// weights, x·Wᵀ), and attentionDecode at the sampling bench's shape. Median of 7 rounds.
// Usage: npx tsx bench/ab-builds.ts --other <checkout> [--isa avx2] [--threads 2]   → one JSON object.
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Backend, Tensor } from '../src/engine/backend.js';
import { CpuBackend } from '../src/engine/cpu-backend.js';
import type { Isa } from '../src/engine/native-addon.js';
import { flag } from './train.js';

type Build = { name: string; be: Backend };
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

function rand(n: number): Float32Array {
  let s = 1;
  return Float32Array.from({ length: n }, () => ((s = (s * 16807) % 2147483647) / 2147483647) - 0.5);
}

/** ms per call of `run` on each build, alternating builds round by round. */
function alternate(builds: Build[], setup: (be: Backend) => () => void, reps: number): number[] {
  const runs = builds.map((b) => setup(b.be));
  runs.forEach((r) => r());
  const times = builds.map((): number[] => []);
  for (let round = 0; round < 7; round++) {
    runs.forEach((run, i) => {
      const t0 = performance.now();
      for (let k = 0; k < reps; k++) run();
      times[i]!.push((performance.now() - t0) / reps);
    });
  }
  return times.map(median);
}

async function main(): Promise<void> {
  const other = flag('other', '');
  if (!other) throw new Error('pass --other <path of another sbp checkout, built>');
  const isa = flag('isa', 'avx2') as Isa;
  const threads = Number(flag('threads', '2'));
  const mod = (await import(pathToFileURL(join(resolve(other), 'src/engine/cpu-backend.ts')).href)) as { CpuBackend: typeof CpuBackend };
  const builds: Build[] = [
    { name: 'other', be: new mod.CpuBackend({ isa, threads, profile: false }) },
    { name: 'this', be: new CpuBackend({ isa, threads, profile: false }) },
  ];
  const shapes: Array<[string, number, number, number, boolean, boolean]> = [
    ['square 1024', 1024, 1024, 1024, false, false],
    ['linear fwd x·Wᵀ (4096×768×256)', 4096, 768, 256, false, true],
    ['linear dx (4096×256×768)', 4096, 256, 768, false, false],
    ['linear dW (768×256×4096, Aᵀ)', 768, 256, 4096, true, false],
    ['lm head fwd (4096×8192×256, Bᵀ)', 4096, 8192, 256, false, true],
    ['decode qkv (16×768×256, Bᵀ)', 16, 768, 256, false, true],
    ['decode lm head (16×8192×256, Bᵀ)', 16, 8192, 256, false, true],
  ];
  const gemm: Record<string, Record<string, number>> = {};
  for (const [name, M, N, K, transA, transB] of shapes) {
    const flops = 2 * M * N * K;
    const ms = alternate(builds, (be) => {
      const t = (shape: number[], data: Float32Array): Tensor => {
        const x = be.alloc(shape);
        be.upload(x, data);
        return x;
      };
      const a = t(transA ? [K, M] : [M, K], rand(M * K));
      const b = t(transB ? [N, K] : [K, N], rand(N * K));
      const c = be.alloc([M, N]);
      return () => be.matmul(c, a, b, { transA, transB });
    }, Math.max(2, Math.round(2e8 / flops)));
    gemm[name] = Object.fromEntries(builds.map((b, i) => [`${b.name}Gflops`, +(flops / (ms[i]! * 1e6)).toFixed(1)]));
  }
  const [B, H, D, Tcap, len] = [16, 8, 32, 256, 128];
  const decodeMs = alternate(builds, (be) => {
    const q = be.alloc([B, H, D]);
    const kc = be.alloc([B, Tcap, H, D]);
    const vc = be.alloc([B, Tcap, H, D]);
    be.upload(q, rand(B * H * D));
    be.upload(kc, rand(B * Tcap * H * D));
    be.upload(vc, rand(B * Tcap * H * D));
    const out = be.alloc([B, H, D]);
    const lens = be.alloc([B], 'i32');
    be.upload(lens, new Int32Array(B).fill(len));
    return () => be.attentionDecode(out, q, kc, vc, lens);
  }, 100);
  console.log(JSON.stringify({
    bench: 'ab-builds', other: resolve(other), isa, threads, loadAverage: loadavg().map((x) => +x.toFixed(2)), gemm,
    attentionDecodeMs: { shape: { B, H, KVH: H, D, len }, ...Object.fromEntries(builds.map((b, i) => [b.name, +decodeMs[i]!.toFixed(4)])) },
  }, null, 2));
}

await main();
