import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../helpers.js';
import { loadModelFolder } from '../../src/model/hf-folder.js';
import { SafetensorsFile } from '../../src/model/safetensors.js';
import type { Batch } from '../../src/model/types.js';
import { modelTestBackends } from './backends.js';

// Parity with the PyTorch reference (scripts/reference/llama_reference.py, float64): each golden case
// is a Hugging Face folder made by that script, so loading it also proves that folders made
// elsewhere load. Tolerances are for float32 arithmetic against a float64 oracle on a 2-layer model:
//   logits  |Δ| ≤ 2e-5 ; loss |Δ| ≤ 1e-5 ; gradients |Δ| ≤ 1e-5 + 1e-3·max|g| of the tensor ;
//   AdamW losses |Δ| ≤ 1e-4 each step ; final weights |Δ| ≤ 3e-4 (Adam normalises tiny gradients,
//   so float32 noise in a near-zero gradient moves a weight by up to lr per step).

const CASES = ['qknorm-tied', 'plain-untied'];
const TOL = { logits: 2e-5, loss: 1e-5, gradAbs: 1e-5, gradRel: 1e-3, adamLoss: 1e-4, adamWeight: 3e-4 };

interface Meta {
  B: number;
  T: number;
  tokens: number[];
  targets: number[];
  mask: number[];
  loss: number;
  adamw: { lr: number; beta1: number; beta2: number; eps: number; weight_decay: number; steps: number; losses: number[]; loss_after: number };
}

function readAll(path: string): Map<string, Float32Array> {
  const f = SafetensorsFile.open(path);
  try {
    return new Map([...f.tensors.keys()].map((n) => [n, f.read(n)]));
  } finally {
    f.close();
  }
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

function maxAbs(a: Float32Array): number {
  let m = 0;
  for (const x of a) m = Math.max(m, Math.abs(x));
  return m;
}

const backends = await modelTestBackends();

for (const backend of backends) {
  for (const name of CASES) {
    const dir = join(repoRoot, 'test/golden', name);
    const meta = JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8')) as Meta;
    const batch: Batch = {
      B: meta.B,
      T: meta.T,
      tokens: Int32Array.from(meta.tokens),
      targets: Int32Array.from(meta.targets),
      mask: Float32Array.from(meta.mask),
    };

    test(`[${backend.name}] ${name}: logits, masked loss and every gradient match PyTorch`, () => {
      const model = loadModelFolder(join(dir, 'model'), backend);
      const logits = model.logits(batch.tokens, batch.B, batch.T);
      const dLogits = maxAbsDiff(logits, readAll(join(dir, 'logits.safetensors')).get('logits')!);
      model.zeroGrads();
      const { loss, tokens } = model.forwardBackward(batch);
      const dLoss = Math.abs(loss - meta.loss);
      const golden = readAll(join(dir, 'grads.safetensors'));
      let worst = { name: '', diff: 0, scale: 0 };
      for (const e of model.paramTable) {
        const want = golden.get(e.name);
        assert.ok(want, `golden gradient of ${e.name} missing`);
        const got = backend.download(model.gradView(e.name)) as Float32Array;
        const diff = maxAbsDiff(got, want);
        const scale = maxAbs(want);
        assert.ok(scale > 0, `${e.name}: golden gradient is all zero, the check would be empty`);
        if (diff / (TOL.gradAbs + TOL.gradRel * scale) > worst.diff / (TOL.gradAbs + TOL.gradRel * (worst.scale || 1))) worst = { name: e.name, diff, scale };
        assert.ok(diff <= TOL.gradAbs + TOL.gradRel * scale, `${e.name}: max |Δgrad| ${diff} (max |g| ${scale})`);
      }
      console.log(`# [${backend.name}] ${name}: max |Δlogits| ${dLogits.toExponential(2)}, |Δloss| ${dLoss.toExponential(2)}, worst gradient ${worst.name} |Δ| ${worst.diff.toExponential(2)} of max |g| ${worst.scale.toExponential(2)}`);
      assert.ok(dLogits <= TOL.logits, `max |Δlogits| ${dLogits}`);
      assert.ok(dLoss <= TOL.loss, `loss ${loss} vs ${meta.loss}`);
      assert.equal(tokens, meta.mask.reduce((a, b) => a + b, 0));
    });

    test(`[${backend.name}] ${name}: 10 AdamW steps with the backend's adamw op match torch.optim.AdamW`, () => {
      const model = loadModelFolder(join(dir, 'model'), backend);
      const hp = meta.adamw;
      const m = backend.alloc([model.numParams]); // (P) first moments, mirror params
      const v = backend.alloc([model.numParams]); // (P) second moments
      const losses: number[] = [];
      for (let step = 1; step <= hp.steps; step++) {
        model.zeroGrads();
        losses.push(model.forwardBackward(batch).loss);
        for (const e of model.paramTable) {
          const at = (t: typeof m) => backend.view(t, e.offset, e.shape);
          backend.adamw(at(model.params), at(model.grads), at(m), at(v), {
            lr: hp.lr, beta1: hp.beta1, beta2: hp.beta2, eps: hp.eps, weightDecay: e.decay ? hp.weight_decay : 0, step,
          });
        }
      }
      const lossAfter = model.evalLoss(batch);
      losses.push(lossAfter.sumLoss / lossAfter.tokens);
      const want = [...hp.losses, hp.loss_after];
      const dLoss = Math.max(...losses.map((l, i) => Math.abs(l - want[i]!)));
      const finals = readAll(join(dir, 'adamw-final.safetensors'));
      // Adam divides by sqrt(v): an element whose gradient is ~0 moves by ±lr per step on the sign of
      // float32 rounding noise, so a backend with float32 reductions (cpu) may differ by ~lr there even
      // when every gradient matches. Hence: nearly all elements within adamWeight, and none off by more
      // than half the largest possible total movement (lr · steps).
      let dWeight = 0;
      let outliers = 0;
      let elements = 0;
      for (const e of model.paramTable) {
        const got = model.readParam(e.name);
        const want = finals.get(e.name)!;
        dWeight = Math.max(dWeight, maxAbsDiff(got, want));
        for (let i = 0; i < got.length; i++) if (Math.abs(got[i]! - want[i]!) > TOL.adamWeight) outliers++;
        elements += got.length;
      }
      console.log(`# [${backend.name}] ${name}: AdamW losses ${losses[0]!.toFixed(4)} → ${losses[losses.length - 1]!.toFixed(4)}, max |Δloss| ${dLoss.toExponential(2)}, max |Δweight| ${dWeight.toExponential(2)}`);
      assert.ok(dLoss <= TOL.adamLoss, `AdamW losses ${losses} vs ${want}`);
      console.log(`# [${backend.name}] ${name}: ${outliers} of ${elements} weights differ by more than ${TOL.adamWeight}`);
      if (backend.name === 'ref') assert.ok(dWeight <= TOL.adamWeight, `final weights max |Δ| ${dWeight}`);
      else {
        assert.ok(outliers <= Math.ceil(elements * 1e-3), `${outliers} of ${elements} final weights differ by more than ${TOL.adamWeight}`);
        assert.ok(dWeight <= 0.5 * hp.lr * hp.steps, `final weights max |Δ| ${dWeight}`);
      }
      assert.ok(losses[losses.length - 1]! < losses[0]! * 0.5, 'the optimiser should have lowered the loss');
    });
  }
}
