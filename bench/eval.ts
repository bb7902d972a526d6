// Evaluation throughput, printed as one JSON object. A randomly initialised model of the "tiny" preset
// shape (V = 16384) scores random documents as perplexity windows; three ways side by side, same rows:
// - scorer:  scoreSequences, length-sorted rows packed into B × T ≤ batchTokens, cross-entropy of the
//            scored positions on the backend
//            (what sbp eval runs; gives per-document losses and greedy flags);
// - one-row: the same scorer with batchTokens = 2, i.e. one row per forward pass (the batching's peer);
// - evalLoss: the trainer's held-out loss path on the same rows with masks (loss on the backend, only
//            the batch sum comes back: no per-document numbers) — the cost floor of the forward pass.
// Per-document losses of the scorer are compared with one-row, and the total with evalLoss.
// Usage: npx tsx bench/eval.ts [docs=48] [docTokens=200] [window=256] [backend=auto] [batchTokens=1024]
import { cpus, loadavg } from 'node:os';
import { MODEL_PRESETS } from '../src/model/config.js';
import { LlamaModel } from '../src/model/llama.js';
import type { Batch } from '../src/model/types.js';
import { Rng } from '../src/sample/rng.js';
import { documentLosses, documentWindows } from '../src/eval/perplexity.js';
import { openBackend, type BackendChoice } from '../src/engine/open-backend.js';

const numDocs = Number(process.argv[2] ?? 48);
const docTokens = Number(process.argv[3] ?? 200);
const window = Number(process.argv[4] ?? 256);
const backendChoice = (process.argv[5] ?? 'auto') as BackendChoice;
const batchTokens = Number(process.argv[6] ?? 1024);

const cfg = { ...MODEL_PRESETS.tiny, bosTokenId: 0, eosTokenId: 1, padTokenId: 3 };
const backend = await openBackend(backendChoice, undefined, (l) => process.stderr.write(`${l}\n`));
const model = new LlamaModel(cfg, backend, { seed: 1 });
const rng = new Rng(2);
// Lengths vary ±50% so padding and sorting matter, as with real documents.
const docs = Array.from({ length: numDocs }, (_, i) => {
  const n = Math.max(1, Math.round(docTokens * (0.5 + rng.float())));
  return { id: `d${i}`, tokens: Int32Array.from({ length: n }, () => 4 + rng.int(cfg.vocabSize - 4)), bytes: 4 * n };
});
const tokens = docs.reduce((a, d) => a + d.tokens.length, 0);
const opts = { window, stride: window / 2, batchTokens };

function seconds(t0: bigint): number {
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

// Warm-up of both ways over every shape they will meet (activation buffers, thread pool), so neither
// pays first-use allocations inside its timing.
await documentLosses(model, docs, opts);
await documentLosses(model, docs, { ...opts, batchTokens: 2 });
let t0 = process.hrtime.bigint();
const batched = await documentLosses(model, docs, opts);
const scorerSec = seconds(t0);

t0 = process.hrtime.bigint();
const oneRow = await documentLosses(model, docs, { ...opts, batchTokens: 2 });
const oneRowSec = seconds(t0);

// evalLoss peer: the same windows as masked rows, B rows of T = window per batch.
const rows = docs.flatMap((d) => documentWindows(d.tokens, cfg.bosTokenId, opts));
const B = Math.max(1, Math.floor(batchTokens / window));
const batches: Batch[] = [];
for (let r0 = 0; r0 < rows.length; r0 += B) {
  const b: Batch = { B, T: window, tokens: new Int32Array(B * window).fill(cfg.padTokenId), targets: new Int32Array(B * window), mask: new Float32Array(B * window) };
  rows.slice(r0, r0 + B).forEach((row, k) => {
    const n = row.tokens.length - 1;
    b.tokens.set(row.tokens.subarray(0, n), k * window);
    b.targets.set(row.tokens.subarray(1), k * window);
    for (let p = row.scoreStart - 1; p < n; p++) b.mask![k * window + p] = 1;
  });
  batches.push(b);
}
t0 = process.hrtime.bigint();
let evalNats = 0;
for (const b of batches) evalNats += model.evalLoss(b).sumLoss;
const evalLossSec = seconds(t0);

const natsOf = (ls: typeof batched) => ls.reduce((a, l) => a + l.nats, 0);
let maxDocDiff = 0;
batched.forEach((l, i) => (maxDocDiff = Math.max(maxDocDiff, Math.abs(l.nats - oneRow[i]!.nats) / Math.max(1, oneRow[i]!.nats))));

console.log(
  JSON.stringify(
    {
      bench: 'eval',
      backend: backend.name,
      cores: cpus().length,
      loadavg1: Number(loadavg()[0]!.toFixed(2)),
      model: { preset: 'tiny', params: model.numParams, vocab: cfg.vocabSize },
      docs: numDocs,
      tokens,
      windowRows: rows.length,
      window,
      stride: window / 2,
      batchTokens,
      scorer: { seconds: +scorerSec.toFixed(3), tokensPerSec: Math.round(tokens / scorerSec) },
      oneRowPerPass: { seconds: +oneRowSec.toFixed(3), tokensPerSec: Math.round(tokens / oneRowSec) },
      evalLoss: { seconds: +evalLossSec.toFixed(3), tokensPerSec: Math.round(tokens / evalLossSec) },
      speedupOverOneRow: +(oneRowSec / scorerSec).toFixed(2),
      scorerCostOverEvalLoss: +(scorerSec / evalLossSec).toFixed(2),
      maxRelDocDiffVsOneRow: maxDocDiff,
      relTotalDiffVsEvalLoss: Math.abs(natsOf(batched) - evalNats) / evalNats,
    },
    null,
    2,
  ),
);
