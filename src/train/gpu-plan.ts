import { UserError } from '../common/errors.js';
import { countParams, trainFlopsPerToken } from '../model/config.js';
import type { ModelConfig } from '../model/types.js';

/**
 * Dense bf16 tensor-core peaks (no 2:4 sparsity) and memory of the GPUs a plan can be made for.
 * Sources: NVIDIA datasheets — H100 Tensor Core GPU (SXM5 989 TFLOP/s, PCIe 756; the sheet's 1,979 /
 * 1,513 are "with sparsity"), H200 Tensor Core GPU (SXM 989, 141 GB), A100 Tensor Core GPU (312,
 * 80 GB), L4 Tensor Core GPU (121; 242 with sparsity; 24 GB).
 */
export const GPUS = {
  h100: { name: 'NVIDIA H100 SXM5', bf16Flops: 989e12, memoryBytes: 80e9 },
  'h100-pcie': { name: 'NVIDIA H100 PCIe', bf16Flops: 756e12, memoryBytes: 80e9 },
  h200: { name: 'NVIDIA H200 SXM', bf16Flops: 989e12, memoryBytes: 141e9 },
  a100: { name: 'NVIDIA A100 SXM 80GB', bf16Flops: 312e12, memoryBytes: 80e9 },
  l4: { name: 'NVIDIA L4', bf16Flops: 121e12, memoryBytes: 24e9 },
} as const;
export type GpuName = keyof typeof GPUS;

/**
 * The MFU a plan assumes unless told otherwise: an assumption, not a measurement. nanoGPT and llm.c
 * report about 40% for a 124M model at context 1024 on one A100/H100 with torch.compile and flash
 * attention; 35% leaves room for the eval passes, checkpoints and a less tuned setup.
 */
export const ASSUMED_MFU = 0.35;

export function gpuByName(name: string): (typeof GPUS)[GpuName] {
  const g = (GPUS as Record<string, (typeof GPUS)[GpuName]>)[name.toLowerCase()];
  if (!g) throw new UserError(`--gpu ${name}: unknown GPU; use one of ${Object.keys(GPUS).join(', ')}`);
  return g;
}

export interface TrainingRunSpec {
  name: string; // e.g. "baseline", "synthesizer tuning"
  count: number; // how many such runs the experiment trains
  tokens: number; // training tokens of one run
  seqLen: number;
  rowsPerForward: number; // micro-batch rows on one process
}

export interface TrainingRunPlan extends TrainingRunSpec {
  flops: number; // all `count` runs
  hours: number; // all `count` runs on the GPUs at the assumed MFU
  memoryBytes: number; // per process, estimated peak
}

export interface GpuPlan {
  gpu: string;
  gpus: number;
  peakFlops: number; // per GPU, bf16 dense
  mfu: number;
  params: number;
  flopsPerToken: number; // at train.seqLen
  runs: TrainingRunPlan[];
  totalFlops: number;
  totalHours: number;
  fits: boolean; // every run's estimated memory fits one GPU
}

/**
 * Estimated peak memory of one process training `c` with AdamW under bf16 autocast: fp32 weights,
 * gradients and two moments (16 bytes per parameter; FSDP divides them by the processes), activations
 * kept for the backward pass with fused (flash) attention — about 34·C bytes per token and layer
 * (Korthikanti et al. 2022, "Reducing Activation Recomputation in Large Transformer Models", without
 * the attention-score term that fused attention does not store) — and the logits (bf16 + their fp32
 * copy for the loss + its gradient: 10 bytes per vocabulary entry and token).
 */
export function trainingMemoryBytes(c: ModelConfig, rows: number, seqLen: number, shards = 1): number {
  const { total } = countParams(c);
  const tokens = rows * seqLen;
  const activations = tokens * c.numLayers * 34 * c.hiddenSize;
  const logits = tokens * c.vocabSize * 10;
  return (16 * total) / shards + activations + logits;
}

/** FLOPs, memory and time of an experiment's training runs on `gpus` GPUs of one kind. */
export function planOnGpu(c: ModelConfig, runs: TrainingRunSpec[], opts: { gpu: string; gpus?: number; mfu?: number; fsdp?: boolean; seqLen: number }): GpuPlan {
  const g = gpuByName(opts.gpu);
  const gpus = opts.gpus ?? 1;
  const mfu = opts.mfu ?? ASSUMED_MFU;
  if (!(mfu > 0 && mfu <= 1)) throw new UserError(`--mfu ${mfu}: a fraction in (0, 1]`);
  const planned = runs.map((r) => {
    const flops = r.count * r.tokens * trainFlopsPerToken(c, r.seqLen);
    return { ...r, flops, hours: flops / (g.bf16Flops * gpus * mfu) / 3600, memoryBytes: trainingMemoryBytes(c, r.rowsPerForward, r.seqLen, opts.fsdp ? gpus : 1) };
  });
  const totalFlops = planned.reduce((s, r) => s + r.flops, 0);
  return {
    gpu: g.name,
    gpus,
    peakFlops: g.bf16Flops,
    mfu,
    params: countParams(c).total,
    flopsPerToken: trainFlopsPerToken(c, opts.seqLen),
    runs: planned,
    totalFlops,
    totalHours: planned.reduce((s, r) => s + r.hours, 0),
    fits: planned.every((r) => r.memoryBytes <= g.memoryBytes),
  };
}

export function formatGpuPlan(p: GpuPlan): string {
  const gb = (b: number) => `${(b / 1e9).toFixed(1)} GB`;
  const lines = [
    `training on ${p.gpus}× ${p.gpu} (${(p.peakFlops / 1e12).toFixed(0)} TFLOP/s bf16 dense each), assumed MFU ${(p.mfu * 100).toFixed(0)}%: ` +
      `${(p.params / 1e6).toFixed(1)}M parameters, ${p.flopsPerToken.toExponential(2)} FLOPs per token`,
    `  ${'run'.padEnd(22)}${'runs'.padStart(5)}${'tokens each'.padStart(14)}${'FLOPs'.padStart(11)}${'memory/GPU'.padStart(12)}${'hours'.padStart(8)}`,
  ];
  for (const r of p.runs) {
    lines.push(`  ${r.name.padEnd(22)}${String(r.count).padStart(5)}${r.tokens.toExponential(2).padStart(14)}${r.flops.toExponential(2).padStart(11)}${gb(r.memoryBytes).padStart(12)}${r.hours.toFixed(2).padStart(8)}`);
  }
  lines.push(`  total ${p.totalFlops.toExponential(2)} FLOPs, ${p.totalHours.toFixed(1)} h of training${p.fits ? '' : ' — a run does not fit one GPU\'s memory: lower train.torch.microBatch or set train.torch.fsdp'}`);
  lines.push('  not counted: the corpus, embedding, pair and synthesis stages (synthesis runs on the inference server), evaluation');
  return lines.join('\n');
}
