import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RefBackend } from '../../src/engine/ref-backend.js';
import { LlamaModel } from '../../src/model/llama.js';
import type { Batch } from '../../src/model/types.js';
import { Rng } from '../../src/sample/rng.js';
import { documentLosses, documentWindows, summarizePerplexity, textDocuments, tokenDatasetDocuments } from '../../src/eval/perplexity.js';
import { tinyConfig } from './fixture.js';

test('windows score every token exactly once, within the window, with at least window − stride tokens of context', () => {
  for (const [n, W, S] of [[0, 8, 4], [1, 8, 4], [8, 8, 4], [9, 8, 4], [30, 8, 8], [30, 8, 1], [31, 8, 3], [100, 16, 5]] as const) {
    const tokens = Array.from({ length: n }, (_, i) => 10 + i); // token value = 9 + its index in s
    const windows = documentWindows(tokens, 1, { window: W, stride: S });
    const seen = new Array<number>(n + 1).fill(0);
    for (const w of windows) {
      assert.ok(w.tokens.length - 1 <= W, `n=${n} W=${W} S=${S}: ${w.tokens.length - 1} inputs`);
      const a = w.tokens[0] === 1 ? 0 : w.tokens[0]! - 9; // where the window starts in s = [bos, t1 … tn]
      for (let k = w.scoreStart; k < w.tokens.length; k++) {
        const g = a + k; // index in s of the scored token
        assert.equal(w.tokens[k], 9 + g);
        seen[g]!++;
        assert.ok(k >= Math.min(g, W - S + 1), `n=${n} W=${W} S=${S}: token ${g} has ${k} tokens of context`);
      }
    }
    assert.deepEqual(seen.slice(1), new Array(n).fill(1), `n=${n} W=${W} S=${S}: each token scored once`);
    assert.equal(seen[0], 0, 'bos is never a target');
  }
  assert.throws(() => documentWindows([1, 2], 0, { window: 4, stride: 5 }), /stride must be an integer in 1\.\.window/);
});

const cfg = tinyConfig(50, { maxSeqLen: 32 });
const model = new LlamaModel(cfg, new RefBackend(), { seed: 3 });
const rng = new Rng(5);
const docs = [0, 1, 6, 31, 32, 45, 77].map((n, i) => ({ id: `d${i}`, tokens: Int32Array.from({ length: n }, () => 3 + rng.int(47)), bytes: 2 * n + 1 }));

/** Σ loss of predicting s[from..to] from s[start..], by evalLoss on one masked row: the trainer's own loss. */
function evalLossSpan(s: Int32Array, start: number, from: number, to: number): { sumLoss: number; tokens: number } {
  const T = to - start; // inputs s[start..to-1]
  const batch: Batch = { B: 1, T, tokens: s.slice(start, to), targets: s.slice(start + 1, to + 1), mask: new Float32Array(T) };
  for (let g = from; g <= to; g++) batch.mask![g - 1 - start] = 1;
  return model.evalLoss(batch);
}

test('perplexity equals exp(mean loss) from evalLoss: disjoint windows (stride = window) and overlapping ones', async () => {
  for (const [W, S] of [[16, 16], [16, 5], [32, 32]] as const) {
    const got = await documentLosses(model, docs, { window: W, stride: S, batchTokens: 96 });
    let sumLoss = 0;
    let count = 0;
    docs.forEach((d, i) => {
      const s = Int32Array.from([cfg.bosTokenId, ...d.tokens]);
      let nats = 0;
      let tokens = 0;
      // Token g (1-based in s) is scored by the first window whose end k·S + W reaches it.
      for (let g = 1; g <= d.tokens.length; g++) {
        const start = Math.max(0, Math.ceil((g - W) / S)) * S;
        const r = evalLossSpan(s, start, g, g);
        nats += r.sumLoss;
        tokens += r.tokens;
      }
      assert.equal(got[i]!.tokens, tokens);
      assert.equal(got[i]!.bytes, d.bytes);
      assert.ok(Math.abs(got[i]!.nats - nats) <= 1e-4 * Math.max(1, nats), `W=${W} S=${S} doc ${i}: ${got[i]!.nats} vs evalLoss ${nats}`);
      sumLoss += nats;
      count += tokens;
    });
    const summary = summarizePerplexity(got);
    assert.equal(summary.tokens, count);
    assert.ok(Math.abs(summary.perplexity / Math.exp(sumLoss / count) - 1) < 1e-5, `W=${W} S=${S}: ppl ${summary.perplexity} vs ${Math.exp(sumLoss / count)}`);
    assert.ok(Math.abs(summary.bitsPerByte - sumLoss / (Math.LN2 * summary.bytes)) < 1e-5);
  }
});

test('per-document losses do not depend on how windows are batched, and maxDocs keeps the first documents', async () => {
  const a = await documentLosses(model, docs, { window: 16, stride: 8, batchTokens: 16 });
  const b = await documentLosses(model, docs, { window: 16, stride: 8, batchTokens: 4096 });
  a.forEach((x, i) => assert.ok(Math.abs(x.nats - b[i]!.nats) < 1e-4, `doc ${i}: ${x.nats} vs ${b[i]!.nats}`));
  const first = await documentLosses(model, docs, { window: 16, stride: 8, batchTokens: 4096, maxDocs: 3 });
  assert.deepEqual(first.map((d) => d.id), ['d0', 'd1', 'd2']);
  assert.equal(first[0]!.tokens, 0, 'an empty document scores nothing');
});

test('bits per byte count the UTF-8 bytes of the text; token datasets get bytes from their tokens', () => {
  const texts = [{ id: 'a', text: 'héllo wörld' }, { id: 'b', text: '日本' }];
  const d = textDocuments(texts, (t) => Int32Array.from(t, (_, i) => i));
  assert.deepEqual(d.map((x) => x.bytes), [13, 6]);
  const ds = { numDocs: 2, numTokens: 5, vocabSize: 10, docLength: (i: number) => [3, 2][i]!, doc: (i: number) => [Uint16Array.of(1, 2, 3), Uint16Array.of(4, 4)][i]!, docId: (i: number) => `t${i}` };
  const fromTokens = tokenDatasetDocuments(ds, (id) => new Uint8Array(id)); // token id k decodes to k bytes
  assert.deepEqual(fromTokens.map((x) => [x.id, x.bytes, Array.from(x.tokens)]), [['t0', 6, [1, 2, 3]], ['t1', 8, [4, 4]]]);
  const summary = summarizePerplexity([{ id: 'x', nats: 10, tokens: 5, bytes: 20 }, { id: 'y', nats: 2, tokens: 1, bytes: 4 }]);
  assert.ok(Math.abs(summary.perplexity - Math.exp(2)) < 1e-12);
  assert.ok(Math.abs(summary.bitsPerByte - 12 / (24 * Math.LN2)) < 1e-12);
});
