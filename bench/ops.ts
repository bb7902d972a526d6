// Per-op microbenchmarks of the cpu backend vs PyTorch (Debian's python3-torch, same thread count)
// at the reference training shapes: B 16, T 256, H 8, D 32 (C 256), MLP 768, vocab 8192.
// PyTorch 1.13 has no fused causal attention on CPU, so its attention is the usual
// softmax(mask(q·kᵀ/√D))·v with autograd — what a PyTorch model of this size runs.
// Usage: npx tsx bench/ops.ts [--threads 2] [--seconds 0.3]   → one JSON object on stdout.
import { loadavg } from 'node:os';
import type { Tensor } from '../src/engine/backend.js';
import { CpuBackend } from '../src/engine/cpu-backend.js';
import { argValue, cpuModelName, runTorchPeer, timeIt } from './gemm.js';

const [B, T, H, KVH, D, C, F, V] = [16, 256, 8, 8, 32, 256, 768, 8192];
const N = B * T;

const TORCH_OPS = `
import json, sys, time, math, torch
cfg = json.load(sys.stdin)
torch.set_num_threads(cfg["threads"])
B, T, H, D, C, F, V = cfg["B"], cfg["T"], cfg["H"], cfg["D"], cfg["C"], cfg["F"], cfg["V"]
N = B * T
def bench(fn):
    fn()
    times = []
    t_start = time.perf_counter()
    while len(times) < 3 or time.perf_counter() - t_start < cfg["seconds"]:
        t0 = time.perf_counter(); fn(); times.append(time.perf_counter() - t0)
    times.sort()
    return times[len(times) // 2] * 1000
q = torch.randn(B, H, T, D, requires_grad=True); k = torch.randn(B, H, T, D, requires_grad=True); v = torch.randn(B, H, T, D, requires_grad=True)
mask = torch.ones(T, T, dtype=torch.bool).triu(1)
def attn():
    s = (q @ k.transpose(-1, -2)) / math.sqrt(D)
    return torch.softmax(s.masked_fill(mask, float("-inf")), -1) @ v
dout = torch.randn(B, H, T, D)
def attn_fwd():
    with torch.no_grad(): attn()
def attn_bwd():  # forward with graph + backward, minus the forward alone below
    q.grad = k.grad = v.grad = None
    attn().backward(dout)
x = torch.randn(N, C); w = torch.ones(C)
def rms(): return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5) * w
g = torch.randn(N, F); u = torch.randn(N, F)
logits = torch.randn(N, V); targets = torch.randint(0, V, (N,))
def ce(): return torch.nn.functional.cross_entropy(logits, targets)
lg = logits.clone().requires_grad_(True)
def ce_fb():
    lg.grad = None
    torch.nn.functional.cross_entropy(lg, targets).backward()
p = torch.zeros(7_000_000, requires_grad=True); p.grad = torch.randn(7_000_000)
opt = torch.optim.AdamW([p], lr=1e-3)
res = {
  "attentionForward": bench(attn_fwd),
  "attentionForward+Backward": bench(attn_bwd),
  "rmsnormForward": bench(lambda: rms()),
  "swigluForward": bench(lambda: torch.nn.functional.silu(g) * u),
  "crossEntropyForward": bench(lambda: ce()),
  "crossEntropyForward+Backward": bench(ce_fb),
  "adamw (7M)": bench(lambda: opt.step()),
}
print(json.dumps({"version": torch.__version__, "ms": res}))
`;

function main(): void {
  const threads = argValue('--threads', 2);
  const seconds = argValue('--seconds', 0.3);
  const be = new CpuBackend({ threads, profile: false });
  const rand = (shape: number[]): Tensor => {
    const t = be.alloc(shape);
    const h = new Float32Array(t.size);
    for (let i = 0; i < h.length; i++) h[i] = Math.sin(i * 12.9898) * 1.5;
    be.upload(t, h);
    return t;
  };
  const q = rand([B, T, H, D]), k = rand([B, T, KVH, D]), v = rand([B, T, KVH, D]);
  const out = be.alloc([B, T, H, D]), lse = be.alloc([B, H, T]), dout = rand([B, T, H, D]);
  const dq = be.alloc([B, T, H, D]), dk = be.alloc([B, T, KVH, D]), dv = be.alloc([B, T, KVH, D]);
  const x = rand([N, C]), w = rand([C]), xn = be.alloc([N, C]), rstd = be.alloc([N]);
  const g = rand([N, F]), u = rand([N, F]), hid = be.alloc([N, F]);
  const logits = rand([N, V]), dlogits = be.alloc([N, V]), losses = be.alloc([N]);
  const targets = be.alloc([N], 'i32');
  be.upload(targets, Int32Array.from({ length: N }, (_, i) => (i * 7919) % V));
  const P = 7_000_000;
  const p = rand([P]), grad = rand([P]), m = be.alloc([P]), vv = be.alloc([P]);

  const ms = (fn: () => void) => timeIt(fn, seconds);
  const attnFwd = ms(() => be.attentionForward(out, lse, q, k, v));
  const attnBwd = ms(() => be.attentionBackward(dq, dk, dv, dout, out, lse, q, k, v));
  const ceFwd = ms(() => be.crossEntropyForward(losses, logits, targets, null));
  const ceBwd = ms(() => be.crossEntropyBackward(dlogits, logits, targets, null, 1 / N));
  const mine: Record<string, { wall: number; cpu: number }> = {
    attentionForward: attnFwd,
    attentionBackward: attnBwd,
    'attentionForward+Backward': { wall: attnFwd.wall + attnBwd.wall, cpu: attnFwd.cpu + attnBwd.cpu },
    rmsnormForward: ms(() => be.rmsnormForward(xn, rstd, x, w, 1e-5)),
    rmsnormBackward: ms(() => be.rmsnormBackward(xn, w, x, x, w, rstd)),
    swigluForward: ms(() => be.swigluForward(hid, g, u)),
    swigluBackward: ms(() => be.swigluBackward(hid, g, u, g, u)),
    crossEntropyForward: ceFwd,
    crossEntropyBackward: ceBwd,
    'crossEntropyForward+Backward': { wall: ceFwd.wall + ceBwd.wall, cpu: ceFwd.cpu + ceBwd.cpu },
    'adamw (7M)': ms(() => be.adamw(p, grad, m, vv, { lr: 1e-3, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, step: 1 })),
  };
  // causal attention flops: QKᵀ and PV over the lower triangle, 2 flops per multiply-add
  const attnFlops = 2 * 2 * B * H * D * ((T * (T + 1)) / 2);
  const torch = runTorchPeer(TORCH_OPS, { threads, seconds, B, T, H, D, C, F, V });
  const ops = Object.entries(mine).map(([name, t]) => {
    const peer: number | undefined = torch.ok ? torch.value.ms[name] : undefined;
    return {
      op: name,
      sbp_ms: +(t.wall * 1000).toFixed(3),
      sbp_cpu_ms: +(t.cpu * 1000).toFixed(3),
      torch_ms: peer === undefined ? null : +peer.toFixed(3),
      speedup: peer === undefined ? null : +(peer / (t.wall * 1000)).toFixed(2),
    };
  });
  console.log(JSON.stringify({
    bench: 'ops',
    cpu: cpuModelName(),
    threads,
    isa: be.isa,
    load_average: loadavg().map((x) => +x.toFixed(2)),
    shapes: { B, T, H, KVH, D, C, F, V, N },
    attention_forward_gflops: +(attnFlops / attnFwd.wall / 1e9).toFixed(1),
    attention_backward_gflops: +((2.5 * attnFlops) / attnBwd.wall / 1e9).toFixed(1),
    torch: torch.ok ? { version: torch.value.version } : null,
    ...(torch.ok ? {} : { torch_reason: torch.reason }),
    ops,
  }, null, 1));
}

main();
