// GEMM throughput of the cpu backend vs PyTorch (Debian's python3-torch) in the same run.
// Usage: npx tsx bench/gemm.ts [--threads 2] [--seconds 0.4]   → one JSON object on stdout.
// Square sizes 256..2048 and the matmul shapes of one training step of the reference model
// (d_model 256, MLP 768, vocab 8192, N = batch 16 × context 256 = 4096 rows).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { CpuBackend } from '../src/engine/cpu-backend.js';

export interface GemmShape {
  name: string;
  M: number;
  N: number;
  K: number;
  transA: boolean;
  transB: boolean;
}

const SHAPES: GemmShape[] = [
  { name: 'square 256', M: 256, N: 256, K: 256, transA: false, transB: false },
  { name: 'square 512', M: 512, N: 512, K: 512, transA: false, transB: false },
  { name: 'square 1024', M: 1024, N: 1024, K: 1024, transA: false, transB: false },
  { name: 'square 2048', M: 2048, N: 2048, K: 2048, transA: false, transB: false },
  { name: 'linear fwd x·Wᵀ (N4096 C256 → 768)', M: 4096, N: 768, K: 256, transA: false, transB: true },
  { name: 'linear dx = dy·W (768 → 256)', M: 4096, N: 256, K: 768, transA: false, transB: false },
  { name: 'linear dW = dyᵀ·x', M: 768, N: 256, K: 4096, transA: true, transB: false },
  { name: 'lm head fwd (V 8192)', M: 4096, N: 8192, K: 256, transA: false, transB: true },
  { name: 'lm head dx', M: 4096, N: 256, K: 8192, transA: false, transB: false },
  { name: 'lm head dW', M: 8192, N: 256, K: 4096, transA: true, transB: false },
];

/**
 * Runs an inline PyTorch script with /usr/bin/python3 (JSON in on stdin, JSON out on the last stdout
 * line), or says why it could not; benchmarks print `"torch": null` with that reason.
 */
export function runTorchPeer(script: string, input: unknown, timeoutMs = 300_000): { ok: true; value: any } | { ok: false; reason: string } {
  const python = '/usr/bin/python3';
  if (!existsSync(python)) return { ok: false, reason: `${python} not found` };
  const r = spawnSync(python, ['-c', script], { input: JSON.stringify(input), encoding: 'utf8', timeout: timeoutMs, maxBuffer: 1 << 24 });
  if (r.error) return { ok: false, reason: `python3 failed to run: ${r.error.message}` };
  if (r.status !== 0) {
    const err = (r.stderr || '').trim().split('\n').slice(-1)[0] ?? '';
    return { ok: false, reason: err.includes('No module named') ? 'PyTorch is not installed for /usr/bin/python3' : `python3 exited with ${r.status}: ${err}` };
  }
  try {
    return { ok: true, value: JSON.parse(r.stdout.trim().split('\n').slice(-1)[0]!) };
  } catch {
    return { ok: false, reason: `unparseable PyTorch output: ${r.stdout.slice(0, 200)}` };
  }
}

export function cpuModelName(): string {
  try {
    const m = /model name\s*:\s*(.+)/.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    return m ? m[1]!.trim() : 'unknown';
  } catch {
    return 'unknown';
  }
}

export function argValue(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

/**
 * Median wall seconds per call of fn, and the process CPU seconds per call (all threads): warm-up,
 * then repeats until `seconds` have passed (at least 3). On a shared machine the wall time includes
 * time the threads sat descheduled; flops / CPU seconds shows what the kernels do while they run.
 */
export function timeIt(fn: () => void, seconds: number): { wall: number; cpu: number } {
  fn();
  const times: number[] = [];
  const u0 = process.cpuUsage();
  const start = performance.now();
  while (times.length < 3 || (performance.now() - start) / 1000 < seconds) {
    const t0 = performance.now();
    fn();
    times.push((performance.now() - t0) / 1000);
  }
  const u = process.cpuUsage(u0);
  times.sort((a, b) => a - b);
  return { wall: times[Math.floor(times.length / 2)]!, cpu: (u.user + u.system) / 1e6 / times.length };
}

const TORCH_GEMM = `
import json, sys, time, torch
cfg = json.load(sys.stdin)
torch.set_num_threads(cfg["threads"])
out = []
for s in cfg["shapes"]:
    M, N, K = s["M"], s["N"], s["K"]
    a = torch.randn(K, M) if s["transA"] else torch.randn(M, K)
    b = torch.randn(N, K) if s["transB"] else torch.randn(K, N)
    A = a.t() if s["transA"] else a
    B = b.t() if s["transB"] else b
    c = torch.empty(M, N)
    torch.mm(A, B, out=c)
    times = []
    c0 = time.process_time()
    t_start = time.perf_counter()
    while len(times) < 3 or time.perf_counter() - t_start < cfg["seconds"]:
        t0 = time.perf_counter()
        torch.mm(A, B, out=c)
        times.append(time.perf_counter() - t0)
    cpu = (time.process_time() - c0) / len(times)
    times.sort()
    out.append([times[len(times) // 2], cpu])
print(json.dumps({"version": torch.__version__, "threads": torch.get_num_threads(), "seconds": out}))
`;

function main(): void {
  const threads = argValue('--threads', 2);
  const seconds = argValue('--seconds', 0.4);
  const cpu = new CpuBackend({ threads, profile: false });
  const sbp = SHAPES.map((s) => {
    const a = cpu.alloc(s.transA ? [s.K, s.M] : [s.M, s.K]);
    const b = cpu.alloc(s.transB ? [s.N, s.K] : [s.K, s.N]);
    const c = cpu.alloc([s.M, s.N]);
    const fill = (t: ReturnType<typeof cpu.alloc>) => {
      const h = new Float32Array(t.size);
      for (let i = 0; i < h.length; i++) h[i] = Math.sin(i * 0.37) * 0.5;
      cpu.upload(t, h);
    };
    fill(a);
    fill(b);
    return timeIt(() => cpu.matmul(c, a, b, { transA: s.transA, transB: s.transB }), seconds);
  });
  const torch = runTorchPeer(TORCH_GEMM, { threads, seconds, shapes: SHAPES });
  const gflops = (s: GemmShape, sec: number) => (2 * s.M * s.N * s.K) / sec / 1e9;
  const results = SHAPES.map((s, i) => {
    const mine = gflops(s, sbp[i]!.wall);
    const peer = torch.ok ? gflops(s, torch.value.seconds[i][0]) : null;
    const peerCpu = torch.ok ? gflops(s, torch.value.seconds[i][1]) : null;
    return {
      name: s.name, M: s.M, N: s.N, K: s.K, transA: s.transA, transB: s.transB,
      sbp_gflops: +mine.toFixed(1),
      torch_gflops: peer === null ? null : +peer.toFixed(1),
      ratio: peer === null ? null : +(mine / peer).toFixed(2),
      // flops per CPU-second of the process (all threads): robust to a loaded machine
      sbp_gflops_per_cpu_s: +gflops(s, sbp[i]!.cpu).toFixed(1),
      torch_gflops_per_cpu_s: peerCpu === null ? null : +peerCpu.toFixed(1),
    };
  });
  const at1024 = results.find((r) => r.name === 'square 1024')!;
  console.log(JSON.stringify({
    bench: 'gemm',
    cpu: cpuModelName(),
    threads,
    isa: cpu.isa,
    load_average: loadavg().map((x) => +x.toFixed(2)),
    target: 'sbp >= 150 GFLOP/s at 1024^3 on 2 threads',
    gflops_1024: at1024.sbp_gflops,
    torch_gflops_1024: at1024.torch_gflops,
    torch: torch.ok ? { version: torch.value.version, threads: torch.value.threads } : null,
    ...(torch.ok ? {} : { torch_reason: torch.reason }),
    results,
  }, null, 1));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) main();
