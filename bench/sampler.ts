// The host sampler alone: one decode step's draws for 16 rows of vocabulary 8192 (logits uniform in
// [−3, 3), so top-p 0.9 keeps most of the vocabulary, as with the random-init bench model), native
// (CpuBackend.sampleLogits, each instruction set, 1 and 2 threads) next to its reference peer, the
// TypeScript LogitsSampler, in the same run; both pick the same tokens (checked here too).
// Usage: npx tsx bench/sampler.ts [--rounds 200]   → one JSON object on stdout (ms per step, median).
import { loadavg } from 'node:os';
import { CpuBackend } from '../src/engine/cpu-backend.js';
import { loadNativeAddon } from '../src/engine/native-addon.js';
import { LogitsSampler, type SamplingOptions } from '../src/sample/logits-sampler.js';
import { Rng } from '../src/sample/rng.js';
import { flag } from './train.js';

const B = 16;
const V = 8192;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1]!;
}

function main(): void {
  const rounds = Number(flag('rounds', '200'));
  const r = new Rng(1);
  const logits = Float32Array.from({ length: B * V }, () => (r.float() - 0.5) * 6); // (B, V)
  const rows = Int32Array.from({ length: B }, (_, i) => i);
  const uniforms = Float64Array.from({ length: B }, () => r.float());
  const out = new Int32Array(B);
  const cases: Array<[string, SamplingOptions]> = [
    ['top-p 0.9', { temperature: 1, topK: 0, topP: 0.9 }],
    ['full softmax', { temperature: 1, topK: 0, topP: 1 }],
    ['top-k 50', { temperature: 1, topK: 50, topP: 1 }],
    ['greedy', { temperature: 0, topK: 0, topP: 1 }],
  ];
  const results: Record<string, Record<string, number>> = {};
  for (const [name, opts] of cases) {
    const ts = new LogitsSampler(V, opts);
    const want = Int32Array.from(rows, (row, i) => ts.sample(logits, row * V, { float: () => uniforms[i]! } as unknown as Rng));
    const times: number[] = [];
    for (let k = 0; k < Math.max(5, rounds / 10); k++) {
      const t0 = performance.now();
      for (let b = 0; b < B; b++) ts.sample(logits, b * V, { float: () => uniforms[b]! } as unknown as Rng);
      times.push(performance.now() - t0);
    }
    const row: Record<string, number> = { typescriptMs: +median(times).toFixed(3) };
    for (const isa of loadNativeAddon().availableIsas()) {
      for (const threads of [1, 2]) {
        const be = new CpuBackend({ isa, threads, profile: false });
        be.sampleLogits(logits, V, rows, B, uniforms, out, opts);
        if (out.some((t, i) => t !== want[i])) throw new Error(`${name}: native ${isa} picked other tokens than LogitsSampler`);
        const nt: number[] = [];
        for (let k = 0; k < rounds; k++) {
          const t0 = performance.now();
          be.sampleLogits(logits, V, rows, B, uniforms, out, opts);
          nt.push(performance.now() - t0);
        }
        row[`${isa}${threads}tMs`] = +median(nt).toFixed(3);
      }
    }
    results[name] = row;
  }
  console.log(JSON.stringify({ bench: 'sampler', rows: B, vocabSize: V, loadAverage: loadavg().map((x) => +x.toFixed(2)), msPerStep: results }, null, 2));
}

main();
