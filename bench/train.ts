// Training throughput of one step of the bench config (d_model 256, 6 layers, 8 heads, context 256,
// vocab 8192, batch 16, fp32, 2 threads) through the real training loop (`train`: forward, backward,
// clipping, AdamW), next to PyTorch (CPU, the same model in plain torch, torch.optim.AdamW) measured in
// the same run. Prints one JSON object: tokens/s for both, per-op time shares of our step (from
// CpuBackend.opStats(), which times each native call), peak RSS of both processes, the load average.
// Usage: npx tsx bench/train.ts [--backend auto|cpu|ref] [--steps 3] [--warmup 1] [--torch-steps 2]
//        [--torch-warmup 1] [--threads 2]
// With PyTorch on OpenBLAS a torch step of this config takes a few seconds; the whole run about a minute.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Backend } from '../src/engine/backend.js';
import { CpuBackend } from '../src/engine/cpu-backend.js';
import { LlamaModel } from '../src/model/llama.js';
import type { ModelConfig } from '../src/model/types.js';
import { Rng } from '../src/sample/rng.js';
import { openBackend, type BackendChoice } from '../src/engine/open-backend.js';
import { PackedBatchSource } from '../src/train/packed-batch-source.js';
import { train } from '../src/train/trainer.js';

export const BENCH_MODEL: ModelConfig = {
  vocabSize: 8192, hiddenSize: 256, numLayers: 6, numHeads: 8, numKVHeads: 8, headDim: 32, intermediateSize: 768, maxSeqLen: 256,
  ropeTheta: 10_000, rmsNormEps: 1e-5, qkNorm: true, tieEmbeddings: false, bosTokenId: 1, eosTokenId: 2, padTokenId: 0,
};

/** The bench model in plain PyTorch (Llama with QK-norm, RoPE rotate-half, SwiGLU), with its own KV cache. */
export const TORCH_MODEL_PY = String.raw`
import json, math, resource, sys, time
try:
    import torch
    import torch.nn.functional as F
except Exception as e:
    print(json.dumps({"error": "torch not importable: %s" % e})); sys.exit(0)

class RMSNorm(torch.nn.Module):
    def __init__(self, n, eps):
        super().__init__(); self.weight = torch.nn.Parameter(torch.ones(n)); self.eps = eps
    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight

def rope(x, cos, sin):  # x (B, H, T, D); cos, sin (T, D/2)
    h = x.shape[-1] // 2
    x1, x2 = x[..., :h], x[..., h:]
    return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], dim=-1)

class Block(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        C, H, KVH, D, Fh = c["hiddenSize"], c["numHeads"], c["numKVHeads"], c["headDim"], c["intermediateSize"]
        self.H, self.KVH, self.D = H, KVH, D
        self.ln1 = RMSNorm(C, c["rmsNormEps"]); self.ln2 = RMSNorm(C, c["rmsNormEps"])
        self.q = torch.nn.Linear(C, H * D, bias=False); self.k = torch.nn.Linear(C, KVH * D, bias=False)
        self.v = torch.nn.Linear(C, KVH * D, bias=False); self.o = torch.nn.Linear(H * D, C, bias=False)
        self.qn = RMSNorm(D, c["rmsNormEps"]) if c["qkNorm"] else None
        self.kn = RMSNorm(D, c["rmsNormEps"]) if c["qkNorm"] else None
        self.gate = torch.nn.Linear(C, Fh, bias=False); self.up = torch.nn.Linear(C, Fh, bias=False); self.down = torch.nn.Linear(Fh, C, bias=False)
    def forward(self, x, cos, sin, cache=None, pos=0):
        B, T, _ = x.shape
        h = self.ln1(x)
        q = self.q(h).view(B, T, self.H, self.D); k = self.k(h).view(B, T, self.KVH, self.D); v = self.v(h).view(B, T, self.KVH, self.D)
        if self.qn is not None: q = self.qn(q); k = self.kn(k)
        q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
        q = rope(q, cos[pos:pos + T], sin[pos:pos + T]); k = rope(k, cos[pos:pos + T], sin[pos:pos + T])
        if cache is not None:
            kc, vc = cache
            kc[:, :, pos:pos + T] = k; vc[:, :, pos:pos + T] = v
            k, v = kc[:, :, :pos + T], vc[:, :, :pos + T]
        if self.KVH != self.H:
            k = k.repeat_interleave(self.H // self.KVH, dim=1); v = v.repeat_interleave(self.H // self.KVH, dim=1)
        att = (q @ k.transpose(-1, -2)) / math.sqrt(self.D)
        S = k.shape[2]
        causal = torch.ones(T, S, dtype=torch.bool).tril(diagonal=S - T)
        att = att.masked_fill(~causal, float("-inf")).softmax(-1)
        y = (att @ v).transpose(1, 2).reshape(B, T, self.H * self.D)
        x = x + self.o(y)
        h = self.ln2(x)
        return x + self.down(F.silu(self.gate(h)) * self.up(h))

class Llama(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.embed = torch.nn.Embedding(c["vocabSize"], c["hiddenSize"])
        self.layers = torch.nn.ModuleList([Block(c) for _ in range(c["numLayers"])])
        self.norm = RMSNorm(c["hiddenSize"], c["rmsNormEps"])
        self.head = torch.nn.Linear(c["hiddenSize"], c["vocabSize"], bias=False)
        for p in self.parameters():
            if p.dim() > 1: torch.nn.init.normal_(p, std=0.02)
        D = c["headDim"]
        inv = 1.0 / (c["ropeTheta"] ** (torch.arange(0, D // 2, dtype=torch.float64) * 2 / D))
        ang = torch.arange(c["maxSeqLen"], dtype=torch.float64)[:, None] * inv[None, :]
        self.cos, self.sin = ang.cos().float(), ang.sin().float()
    def forward(self, tokens, caches=None, pos=0):
        x = self.embed(tokens)
        for i, l in enumerate(self.layers):
            x = l(x, self.cos, self.sin, None if caches is None else caches[i], pos)
        return self.head(self.norm(x))

def maxrss_kb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
`;

const TORCH_TRAIN_PY = String.raw`
args = json.loads(sys.argv[1])
torch.set_num_threads(args["threads"]); torch.manual_seed(0)
c, B, T = args["model"], args["B"], args["T"]
model = Llama(c)
decay = [p for n, p in model.named_parameters() if p.dim() > 1]
no_decay = [p for n, p in model.named_parameters() if p.dim() <= 1]
opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}], lr=1e-3, betas=(0.9, 0.95), eps=1e-8)
g = torch.Generator().manual_seed(1)
def step():
    x = torch.randint(0, c["vocabSize"], (B, T + 1), generator=g)
    opt.zero_grad(set_to_none=True)
    loss = F.cross_entropy(model(x[:, :-1]).reshape(B * T, -1), x[:, 1:].reshape(-1))
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    return loss.item()
for _ in range(args["warmup"]): step()
t0 = time.perf_counter()
for _ in range(args["steps"]): step()
dt = time.perf_counter() - t0
print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(), "steps": args["steps"], "warmup": args["warmup"], "stepMs": dt / args["steps"] * 1000, "tokensPerSec": B * T * args["steps"] / dt, "peakRssMiB": maxrss_kb() / 1024}))
`;

/** Runs a Python peer script (the model source + `body`) and returns its JSON line, or the reason it could not run. */
export function runTorchPeer(body: string, args: unknown, timeoutMs: number): Record<string, unknown> | { error: string } {
  const r = spawnSync('/usr/bin/python3', ['-c', TORCH_MODEL_PY + body, JSON.stringify(args)], { encoding: 'utf8', timeout: timeoutMs });
  if (r.error) return { error: `python3 not runnable: ${r.error.message}` };
  const line = r.stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line) as Record<string, unknown>;
  } catch {
    return { error: `peer failed (exit ${r.status}): ${r.stderr.trim().split('\n').slice(-3).join(' | ')}` };
  }
}

/** Wraps a backend so that every op call is timed (ms per op name); sync() after each so queued work is counted. */
export function timedBackend(inner: Backend): { backend: Backend; times: Map<string, number>; calls: Map<string, number> } {
  const times = new Map<string, number>();
  const calls = new Map<string, number>();
  const backend = new Proxy(inner, {
    get(target, prop) {
      const v = Reflect.get(target, prop, target) as unknown;
      if (typeof v !== 'function' || prop === 'sync' || typeof prop !== 'string') return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      return (...args: unknown[]) => {
        const t0 = performance.now();
        const r = (v as (...a: unknown[]) => unknown).apply(target, args);
        target.sync();
        times.set(prop, (times.get(prop) ?? 0) + performance.now() - t0);
        calls.set(prop, (calls.get(prop) ?? 0) + 1);
        return r;
      };
    },
  });
  return { backend, times, calls };
}

export function flag(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}

async function main(): Promise<void> {
  const B = 16;
  const T = 256;
  const steps = Number(flag('steps', '3'));
  const torchSteps = Number(flag('torch-steps', '2'));
  const torchWarmup = Number(flag('torch-warmup', '1'));
  const warmup = Number(flag('warmup', '1'));
  const threads = Number(flag('threads', '2'));
  const choice = flag('backend', 'auto') as BackendChoice;
  const notes: string[] = [];
  const raw = await openBackend(choice, threads, (l) => notes.push(l));
  const out: Record<string, unknown> = { bench: 'train', config: { ...BENCH_MODEL, B, T, dtype: 'f32', threads }, steps, warmup, backend: raw.name, loadAverageBefore: loadavg().map((x) => +x.toFixed(2)), notes };

  if (raw.name === 'ref' && choice !== 'ref') {
    out.ours = null;
    out.oursReason = 'only the ref backend is available (a step of this config takes minutes there); pass --backend ref to time it anyway';
  } else {
    // The cpu backend times every native call itself (no sync needed: its ops run synchronously);
    // other backends are wrapped in a proxy that syncs after each op.
    const profiled = raw instanceof CpuBackend ? null : timedBackend(raw);
    const backend = profiled ? profiled.backend : raw;
    const resetTimes = (): void => {
      if (profiled) {
        profiled.times.clear();
        profiled.calls.clear();
      } else (raw as CpuBackend).resetOpStats();
    };
    const readTimes = (): { times: Map<string, number>; calls: Map<string, number> } => {
      if (profiled) return profiled;
      const st = Object.entries((raw as CpuBackend).opStats());
      return { times: new Map(st.map(([k, v]) => [k, v.ms])), calls: new Map(st.map(([k, v]) => [k, v.calls])) };
    };
    const model = new LlamaModel(BENCH_MODEL, backend, { seed: 1 });
    const rng = new Rng(7);
    const docs = Array.from({ length: 64 }, () => Int32Array.from({ length: 200 + rng.int(400) }, () => 3 + rng.int(BENCH_MODEL.vocabSize - 3)));
    const data = new PackedBatchSource({ numDocs: docs.length, doc: (i) => docs[i]! }, B, T, { bos: 1, eos: 2 }, 1);
    let tStart = 0;
    const dir = mkdtempSync(join(tmpdir(), 'sbp-bench-train-'));
    try {
      await train({
        model, data, dir, quiet: true, log: () => {},
        models: { save: () => {}, loadInto: () => {} },
        cfg: { steps: warmup + steps, gradAccumSteps: 1, lr: 1e-3, lrFloor: 1e-4, warmupFraction: 0, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, decayEmbeddings: true, noDecay: [], clip: 1, evalEvery: 0, checkpointEvery: 0, logEvery: 1, maxBadSteps: 3 },
        onStep: (m) => {
          if (m.step === warmup) {
            resetTimes();
            tStart = performance.now();
          }
        },
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const ms = performance.now() - tStart; // includes the final checkpoint-less bookkeeping of train()
    const { times, calls } = readTimes();
    const opMs = [...times.values()].reduce((a, b) => a + b, 0);
    const shares = Object.fromEntries(
      [...times.entries()].sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, { share: +(v / ms).toFixed(4), msPerStep: +(v / steps).toFixed(2), callsPerStep: (calls.get(k) ?? 0) / steps }]),
    );
    out.ours = {
      stepMs: +(ms / steps).toFixed(1),
      tokensPerSec: +((B * T * steps) / (ms / 1000)).toFixed(1),
      opShares: { ...shares, host: { share: +((ms - opMs) / ms).toFixed(4), msPerStep: +((ms - opMs) / steps).toFixed(2) } },
      peakRssMiB: +(process.resourceUsage().maxRSS / 1024).toFixed(1),
      numParams: model.numParams,
    };
  }
  const peer = runTorchPeer(TORCH_TRAIN_PY, { model: BENCH_MODEL, B, T, steps: torchSteps, warmup: torchWarmup, threads }, 900_000);
  if ('error' in peer) {
    out.torch = null;
    out.torchReason = peer.error;
  } else out.torch = peer;
  const ours = out.ours as { tokensPerSec: number } | null;
  const torch = out.torch as { tokensPerSec: number } | null;
  out.speedupVsTorch = ours && torch ? +(ours.tokensPerSec / torch.tokensPerSec).toFixed(3) : null;
  out.loadAverageAfter = loadavg().map((x) => +x.toFixed(2));
  console.log(JSON.stringify(out, null, 2));
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
