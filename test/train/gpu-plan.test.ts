import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UserError } from '../../src/common/errors.js';
import { countParams, resolveModelConfig, trainFlopsPerToken } from '../../src/model/config.js';
import { GPUS, planOnGpu, trainingMemoryBytes } from '../../src/train/gpu-plan.js';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { runCli, tempDir } from '../helpers.js';

const model = resolveModelConfig({ preset: 'base', vocabSize: 32768 });

test('GPU plan: FLOPs = runs × tokens × FLOPs per token; hours at the peak and MFU; GPUs divide the time', () => {
  const runs = [{ name: 'lm', count: 3, tokens: 1e9, seqLen: 1024, rowsPerForward: 16 }];
  const p = planOnGpu(model, runs, { gpu: 'a100', mfu: 0.5, seqLen: 1024 });
  const flops = 3 * 1e9 * trainFlopsPerToken(model, 1024);
  assert.equal(p.totalFlops, flops);
  assert.ok(Math.abs(p.totalHours - flops / (312e12 * 0.5) / 3600) < 1e-9);
  assert.ok(Math.abs(planOnGpu(model, runs, { gpu: 'a100', gpus: 4, mfu: 0.5, seqLen: 1024 }).totalHours * 4 - p.totalHours) < 1e-9);
  assert.equal(p.params, countParams(model).total);
  assert.throws(() => planOnGpu(model, runs, { gpu: 'tpu', seqLen: 1024 }), (e) => e instanceof UserError && /unknown GPU; use one of h100/.test(e.message));
});

test('GPU plan memory: 16 bytes per parameter, FSDP shards it; a too large micro-batch does not fit an L4', () => {
  const { total } = countParams(model);
  assert.equal(trainingMemoryBytes(model, 0, 1024) , 16 * total);
  assert.equal(trainingMemoryBytes(model, 0, 1024, 4), 4 * total);
  assert.ok(trainingMemoryBytes(model, 16, 1024) > trainingMemoryBytes(model, 8, 1024));
  const big = [{ name: 'lm', count: 1, tokens: 1e9, seqLen: 1024, rowsPerForward: 64 }];
  assert.equal(planOnGpu(model, big, { gpu: 'l4', seqLen: 1024 }).fits, false);
  assert.equal(planOnGpu(model, big, { gpu: 'h200', seqLen: 1024 }).fits, trainingMemoryBytes(model, 64, 1024) <= GPUS.h200.memoryBytes);
});

test('sbp experiment --preset gpu --dry-run: a table of the training runs on the named GPU, from the config alone', () => {
  const runsDir = join(tempDir(), 'runs');
  const r = runCli(['experiment', '--preset', 'gpu', '--dry-run', '--gpu', 'h100', '--runs-dir', runsDir]);
  assert.equal(r.status, 0, r.stderr);
  assert.ok(!existsSync(runsDir), 'a dry run writes nothing');
  assert.match(r.stdout, /training on 1× NVIDIA H100 SXM5 \(989 TFLOP\/s bf16 dense each\), assumed MFU 35%: 125\.8M parameters/);
  assert.match(r.stdout, /baseline \+ oracle +2 +1\.50e\+9/);
  // The preset runs both controls and a three-value weight-decay search: 2 more baselines, 2 control runs, and a second synthesizer (random pairs).
  assert.match(r.stdout, /baseline search +2 +1\.50e\+9/);
  assert.match(r.stdout, /controls +2 +1\.50e\+9/);
  assert.match(r.stdout, /synthesizer tuning +2 +6\.55e\+7/);
  assert.match(r.stdout, /total \S+ FLOPs, \d+\.\d h of training\n/);
  const bad = runCli(['experiment', '--preset', 'gpu', '--dry-run', '--gpu', 'v100', '--runs-dir', runsDir]);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--gpu v100: unknown GPU/);
});
