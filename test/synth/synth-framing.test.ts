import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Batch } from '../../src/model/types.js';
import { pairBatches, writePairRow } from '../../src/synth/pair-rows.js';
import { framePair, synthFraming, synthPrompt } from '../../src/synth/synth-framing.js';
import { SynthesizerBatchSource } from '../../src/synth/synthesizer-batch-source.js';

const tok = { bos: 1, eos: 2, sep: 3, pad: 0 };

test('framing: d1 keeps at most its budget, d2 the rest, eos only when d2 fit whole', () => {
  // T, d1Fraction, |d1|, |d2| → d1Len, d2Len, complete        (room = T - 2)
  const table: Array<[number, number, number, number, number, number, boolean]> = [
    [16, 0.5, 3, 4, 3, 4, true], // both fit
    [16, 0.5, 20, 4, 7, 4, true], // d1 cut to its budget floor(14 · 0.5) even though d2 leaves room
    [16, 0.5, 3, 20, 3, 11, false], // a short d1 leaves d2 the rest
    [16, 0.5, 20, 20, 7, 7, false],
    [16, 0.25, 20, 20, 3, 11, false], // floor(14 · 0.25) = 3
    [16, 0.9, 20, 20, 12, 2, false],
    [16, 0.5, 0, 20, 0, 14, false], // an empty d1
    [16, 0.5, 5, 9, 5, 9, true], // exactly fills the room: 5 + 9 = 14
    [4, 0.5, 5, 5, 1, 1, false], // the smallest context
  ];
  for (const [T, frac, l1, l2, d1Len, d2Len, complete] of table) {
    const f = synthFraming(T, frac);
    assert.deepEqual(framePair(f, l1, l2), { d1Len, d2Len, d2Complete: complete }, `T=${T} frac=${frac} |d1|=${l1} |d2|=${l2}`);
    // Synthesis prompts use the same cut: [bos] d1[:budget] [sep], then d2 up to the same room.
    const d1 = Int32Array.from({ length: l1 }, (_, i) => 100 + i);
    const { prompt, maxD2Tokens } = synthPrompt(f, d1, tok.bos, tok.sep);
    assert.deepEqual(Array.from(prompt), [tok.bos, ...Array.from(d1.subarray(0, d1Len)), tok.sep]);
    assert.equal(maxD2Tokens, f.room - d1Len);
    assert.ok(prompt.length + maxD2Tokens + 1 <= T + 1, 'prompt + d2 + eos fit one row');
  }
  assert.throws(() => synthFraming(3, 0.5), /at least 4 tokens/);
  assert.throws(() => synthFraming(16, 1), /d1Fraction must be in \(0, 1\)/);
});

const corpus = {
  docs: [
    Int32Array.from([10, 11, 12]),
    Int32Array.from([20, 21]),
    Int32Array.from({ length: 30 }, (_, i) => 40 + i),
    Int32Array.from([30, 31, 32, 33]),
  ],
  get numDocs() {
    return this.docs.length;
  },
  doc(i: number) {
    return this.docs[i]!;
  },
};

function rowOf(batch: Batch, b: number) {
  const T = batch.T;
  return {
    tokens: Array.from(batch.tokens.subarray(b * T, (b + 1) * T)),
    targets: Array.from(batch.targets.subarray(b * T, (b + 1) * T)),
    counted: Array.from(batch.targets.subarray(b * T, (b + 1) * T)).filter((_, t) => batch.mask![b * T + t] === 1),
  };
}

test('pair rows: conditional and unconditional rows count the loss on the same d2 targets', () => {
  const f = synthFraming(10, 0.5); // room 8, d1 budget 4
  const batch: Batch = { B: 2, T: 10, tokens: new Int32Array(20), targets: new Int32Array(20), mask: new Float32Array(20) };
  const scratch = new Int32Array(11);
  assert.equal(writePairRow(batch, 0, scratch, corpus, 0, 1, f, tok, 'conditional'), 3);
  assert.deepEqual(rowOf(batch, 0).tokens, [1, 10, 11, 12, 3, 20, 21, 2, 0, 0]);
  assert.deepEqual(rowOf(batch, 0).counted, [20, 21, 2]);
  assert.equal(writePairRow(batch, 1, scratch, corpus, 0, 1, f, tok, 'unconditional'), 3);
  assert.deepEqual(rowOf(batch, 1).tokens, [1, 20, 21, 2, 0, 0, 0, 0, 0, 0]);
  assert.deepEqual(rowOf(batch, 1).counted, [20, 21, 2]);
  // A long d2 is cut and gets no eos target.
  writePairRow(batch, 0, scratch, corpus, 3, 2, f, tok, 'conditional');
  assert.deepEqual(rowOf(batch, 0).tokens, [1, 30, 31, 32, 33, 3, 40, 41, 42, 43]);
  assert.deepEqual(rowOf(batch, 0).counted, [40, 41, 42, 43]);
  writePairRow(batch, 1, scratch, corpus, 3, 2, f, tok, 'unconditional');
  assert.deepEqual(rowOf(batch, 1).counted, [40, 41, 42, 43]);

  const pairs = { d1: Uint32Array.from([0, 3, 1]), d2: Uint32Array.from([1, 2, 0]) };
  const cond = pairBatches(corpus, pairs, 2, f, tok, 'conditional');
  const unc = pairBatches(corpus, pairs, 2, f, tok, 'unconditional');
  assert.equal(cond.length, 2);
  const counted = (bs: Batch[]) => bs.flatMap((b) => [0, 1].map((r) => rowOf(b, r).counted));
  assert.deepEqual(counted(cond), counted(unc));
  assert.deepEqual(rowOf(cond[1]!, 1).counted, [], 'the filler row counts nothing');
});

test('synthesizer batch source: every pair once per epoch; a restored state continues with the same batches', () => {
  const f = synthFraming(12, 0.5);
  const pairs = { d1: Uint32Array.from([0, 1, 2, 3, 0]), d2: Uint32Array.from([1, 0, 3, 2, 3]) };
  const src = new SynthesizerBatchSource(corpus, pairs, 1, f, tok, 42);
  const firstTokens = (b: Batch) => Array.from(b.tokens.subarray(0, 12)).join(',');
  const rowFor = (p: number) => {
    const one = new SynthesizerBatchSource(corpus, { d1: pairs.d1.subarray(p, p + 1), d2: pairs.d2.subarray(p, p + 1) }, 1, f, tok, 1);
    return firstTokens(one.next());
  };
  const expected = new Set([0, 1, 2, 3, 4].map(rowFor));
  const epoch = new Set(Array.from({ length: 5 }, () => firstTokens(src.next())));
  assert.deepEqual(epoch, expected, 'one epoch = each pair once');
  src.next();
  src.next();
  const saved = JSON.parse(JSON.stringify(src.state()));
  const after = Array.from({ length: 7 }, () => firstTokens(src.next()));
  const resumed = new SynthesizerBatchSource(corpus, pairs, 1, f, tok, 42);
  resumed.restore(saved);
  assert.deepEqual(Array.from({ length: 7 }, () => firstTokens(resumed.next())), after);
  const other = new SynthesizerBatchSource(corpus, { d1: pairs.d1.subarray(1), d2: pairs.d2.subarray(1) }, 1, f, tok, 42);
  assert.throws(() => other.restore(saved), /made on 5 pairs .* has 4 pairs/);
  assert.throws(() => new SynthesizerBatchSource(corpus, { d1: new Uint32Array(0), d2: new Uint32Array(0) }, 1, f, tok, 1), /no training pairs/);
});
