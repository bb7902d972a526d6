// Sampling with a KV cache: 16 sequences × 256 new tokens (temperature 1, top-p 0.9, no early stop)
// from the bench model (d_model 256, 6 layers, 8 heads, context 256, vocab 8192, fp32, 2 threads),
// next to PyTorch (CPU, plain torch with its own preallocated KV cache, top-p by sort) in the same run.
// Per-op shares come from CpuBackend.opStats() (`sampleLogits` is the native host sampler; --host-sampler
// typescript times the TypeScript LogitsSampler instead, which then counts as host time). Prints one JSON object.
// Usage: npx tsx bench/sample.ts [--backend auto|cpu|ref] [--tokens 256] [--threads 2] [--host-sampler auto|typescript]
import { loadavg } from 'node:os';
import { pathToFileURL } from 'node:url';
import { CpuBackend } from '../src/engine/cpu-backend.js';
import { LlamaModel } from '../src/model/llama.js';
import type { HostSamplerChoice } from '../src/sample/batch-sampler.js';
import { generate } from '../src/sample/sampler.js';
import { openBackend, type BackendChoice } from '../src/engine/open-backend.js';
import { BENCH_MODEL, flag, runTorchPeer, timedBackend } from './train.js';

const TORCH_SAMPLE_PY = String.raw`
args = json.loads(sys.argv[1])
torch.set_num_threads(args["threads"]); torch.manual_seed(0)
c, B, N = args["model"], args["B"], args["tokens"]
model = Llama(c).eval()
g = torch.Generator().manual_seed(3)
def sample(logits, temperature, top_p):  # logits (B, V)
    probs = (logits / temperature).softmax(-1)
    sp, si = probs.sort(-1, descending=True)
    cum = sp.cumsum(-1)
    sp[(cum - sp) >= top_p] = 0  # keep the smallest prefix whose mass reaches top_p
    choice = torch.multinomial(sp, 1, generator=g)
    return si.gather(-1, choice)  # (B, 1)
with torch.no_grad():
    t0 = time.perf_counter()
    caches = [(torch.zeros(B, c["numKVHeads"], c["maxSeqLen"], c["headDim"]), torch.zeros(B, c["numKVHeads"], c["maxSeqLen"], c["headDim"])) for _ in range(c["numLayers"])]
    tok = torch.full((B, 1), c["bosTokenId"], dtype=torch.long)
    logits = model(tok, caches, 0)[:, -1]
    out = []
    for i in range(N):
        tok = sample(logits, 1.0, 0.9)
        out.append(tok)
        if i + 1 < N:
            logits = model(tok, caches, i + 1)[:, -1]
    dt = time.perf_counter() - t0
print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(), "seconds": dt, "tokensPerSec": B * N / dt, "peakRssMiB": maxrss_kb() / 1024}))
`;

async function main(): Promise<void> {
  const B = 16;
  const tokens = Number(flag('tokens', '256'));
  const threads = Number(flag('threads', '2'));
  const choice = flag('backend', 'auto') as BackendChoice;
  const hostSampler = flag('host-sampler', 'auto') as HostSamplerChoice;
  const notes: string[] = [];
  const raw = await openBackend(choice, threads, (l) => notes.push(l));
  const out: Record<string, unknown> = { bench: 'sample', config: { ...BENCH_MODEL, sequences: B, newTokens: tokens, temperature: 1, topP: 0.9, dtype: 'f32', threads, hostSampler }, backend: raw.name, loadAverageBefore: loadavg().map((x) => +x.toFixed(2)), notes };
  if (raw.name === 'ref' && choice !== 'ref') {
    out.ours = null;
    out.oursReason = 'only the ref backend is available; pass --backend ref to time it anyway';
  } else {
    const profiled = raw instanceof CpuBackend ? null : timedBackend(raw);
    const backend = profiled ? profiled.backend : raw;
    if (!profiled) (raw as CpuBackend).resetOpStats();
    const model = new LlamaModel(BENCH_MODEL, backend, { seed: 1 });
    const prompts = Array.from({ length: B }, () => Int32Array.from([BENCH_MODEL.bosTokenId]));
    const t0 = performance.now();
    const gens = generate(model, prompts, { temperature: 1, topP: 0.9, topK: 0, maxTokens: tokens, seed: 5, stopTokens: [], batchSize: B, hostSampler });
    const ms = performance.now() - t0;
    const produced = gens.reduce((a, g) => a + g.tokens.length, 0);
    const times = profiled ? profiled.times : new Map(Object.entries((raw as CpuBackend).opStats()).map(([k, v]) => [k, v.ms]));
    const opMs = [...times.values()].reduce((a, b) => a + b, 0);
    out.ours = {
      seconds: +(ms / 1000).toFixed(2),
      tokensPerSec: +(produced / (ms / 1000)).toFixed(1),
      newTokens: produced,
      // time outside backend ops: bookkeeping, and the sampling itself with --host-sampler typescript
      hostShare: +((ms - opMs) / ms).toFixed(4),
      opShares: Object.fromEntries([...times.entries()].sort((a, b) => b[1] - a[1]).slice(0, 8).map(([k, v]) => [k, +(v / ms).toFixed(4)])),
      peakRssMiB: +(process.resourceUsage().maxRSS / 1024).toFixed(1),
    };
  }
  const peer = runTorchPeer(TORCH_SAMPLE_PY, { model: BENCH_MODEL, B, tokens, threads }, 900_000);
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
