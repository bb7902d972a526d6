// Training throughput of the two engines of the trainer contract on the same model, in the same run:
// `sbp` (the native trainer) and `torch` (python/sbp_trainer: transformers + torch.optim.AdamW), both
// through trainIntoStage with the same initial weights and batches. CPU: the bench model of
// bench/train.ts (d256, 6 layers, context 256, vocab 8192, batch 16, fp32). When torch sees a GPU, the
// torch engine also trains a GPT-2-small-sized model (d768, 12 layers, context 1024, vocab 32768, bf16
// autocast) and reports tokens/s and MFU against the GPU's bf16 dense peak (src/train/gpu-plan.ts).
// tokens/s count step time only (the trainers' own clocks), not Python start-up or the batch file.
// Prints one JSON object.
// Usage: npx tsx bench/torch-engine.ts [--steps 4] [--threads 2] [--cuda-steps 30] [--cuda-micro 16] [--compile]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { openBackend } from '../src/engine/open-backend.js';
import { countParams, resolveModelConfig, trainFlopsPerToken } from '../src/model/config.js';
import { LlamaModel } from '../src/model/llama.js';
import type { ModelConfig } from '../src/model/types.js';
import { Rng } from '../src/sample/rng.js';
import { checkTorchPython, resolvePython } from '../src/train/external-trainer.js';
import { GPUS } from '../src/train/gpu-plan.js';
import { PackedBatchSource } from '../src/train/packed-batch-source.js';
import { trainIntoStage } from '../src/train/train-stage.js';
import type { TrainerConfig } from '../src/train/trainer.js';
import type { TorchEngineConfig } from '../src/config/schema.js';
import { BENCH_MODEL } from './train.js';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

const steps = arg('steps', 4);
const threads = arg('threads', 2);
const cudaSteps = arg('cuda-steps', 30);
const cudaMicro = arg('cuda-micro', 16);
const compile = process.argv.includes('--compile');

function corpus(vocab: number, docs: number) {
  const rng = new Rng([7]);
  const list = Array.from({ length: docs }, () => Array.from({ length: 200 + rng.int(600) }, () => 3 + rng.int(vocab - 3)));
  return { numDocs: list.length, doc: (i: number) => list[i]! };
}

const trainerCfg = (n: number, over: Partial<TrainerConfig> = {}): TrainerConfig => ({
  steps: n, gradAccumSteps: 1, lr: 1e-3, lrFloor: 1e-4, warmupFraction: 0, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1,
  decayEmbeddings: true, noDecay: [], clip: 1, evalEvery: 0, checkpointEvery: 0, logEvery: 1, maxBadSteps: 3, ...over,
});

async function measure(c: ModelConfig, B: number, T: number, cfg: TrainerConfig): Promise<{ tokensPerSec: number; wallSeconds: number; lastLoss: number | null }> {
  const dir = mkdtempSync(join(tmpdir(), 'sbp-bench-torch-'));
  // The model folder's tokenizer files are written from a real tokenizer.json (700 tokens, within any bench vocabulary).
  const tok = join(import.meta.dirname, '..', 'test', 'tokenizer', 'fixtures', 'brown-700.tokenizer.json');
  try {
    const backend = await openBackend('auto', threads);
    const model = new LlamaModel(c, backend, { seed: 1 });
    const t0 = performance.now();
    const r = await trainIntoStage({ model, data: new PackedBatchSource(corpus(c.vocabSize, 400), B, T, { bos: 1, eos: 2 }, 3), cfg, dir: join(dir, 'run'), tokenizerPath: tok, quiet: true, log: () => {} });
    return { tokensPerSec: r.tokensPerSec, wallSeconds: (performance.now() - t0) / 1000, lastLoss: r.lastLoss };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const python = resolvePython(undefined);
const versions = checkTorchPython(python);
const B = 16;
const T = BENCH_MODEL.maxSeqLen;
const cpuTorch: TorchEngineConfig = { nprocPerNode: 1, torchrunArgs: [], fsdp: false, device: 'cpu', dtype: 'fp32', compile: false };
const sbp = await measure(BENCH_MODEL, B, T, trainerCfg(steps, { engine: 'sbp' }));
const torch = await measure(BENCH_MODEL, B, T, trainerCfg(steps, { engine: 'torch', torch: cpuTorch }));
const out: Record<string, unknown> = {
  bench: 'torch-engine',
  machine: { loadavg: loadavg(), threads, note: 'tokens/s from each trainer\'s step clock; wallSeconds include start-up and the batch file' },
  versions,
  cpu: {
    model: { ...BENCH_MODEL, params: countParams(BENCH_MODEL).total },
    batch: { B, T, steps },
    sbp,
    torch,
    sbpOverTorch: sbp.tokensPerSec / torch.tokensPerSec,
  },
  cuda: null as unknown,
};

const name = spawnSync(python, ['-c', 'import torch; print(torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")'], { encoding: 'utf8' }).stdout.trim();
if (name !== '') {
  const key = /H200/i.test(name) ? 'h200' : /H100.*PCIe/i.test(name) ? 'h100-pcie' : /H100/i.test(name) ? 'h100' : /A100/i.test(name) ? 'a100' : /L4/.test(name) ? 'l4' : null;
  const c = resolveModelConfig({ preset: 'base', vocabSize: 32768, maxSeqLen: 1024, tieEmbeddings: true });
  const Tc = 1024;
  const cudaTorch: TorchEngineConfig = { nprocPerNode: 1, torchrunArgs: [], fsdp: false, device: 'cuda', dtype: 'bf16', compile, microBatch: cudaMicro };
  const r = await measure(c, cudaMicro, Tc, trainerCfg(cudaSteps, { engine: 'torch', torch: cudaTorch, gradAccumSteps: 2 }));
  const flops = trainFlopsPerToken(c, Tc);
  const peak = key ? GPUS[key as keyof typeof GPUS].bf16Flops : null;
  out.cuda = {
    device: name,
    model: { hiddenSize: c.hiddenSize, numLayers: c.numLayers, vocabSize: c.vocabSize, seqLen: Tc, params: countParams(c).total, flopsPerToken: flops },
    batch: { microBatch: cudaMicro, gradAccumSteps: 2, steps: cudaSteps, compile },
    torch: r,
    peakBf16Flops: peak,
    mfu: peak ? (r.tokensPerSec * flops) / peak : null,
    note: 'tokens/s average every step, the first (compilation, allocator warm-up) included',
  };
}
process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
