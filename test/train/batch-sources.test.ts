import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PackedBatchSource } from '../../src/train/packed-batch-source.js';
import { heldoutBatches } from '../../src/train/heldout-batches.js';
import { UserError } from '../../src/common/errors.js';

const framing = { bos: 1, eos: 2, sep: 3, pad: 0 };
const docs = [[10, 11, 12], [20], [30, 31, 32, 33, 34], [40, 41]];
const corpus = { numDocs: docs.length, doc: (i: number) => docs[i]! };

test('packed rows: targets are inputs shifted by one and every stream token is a target once per epoch', () => {
  const T = 3;
  const src = new PackedBatchSource(corpus, 2, T, framing, 7);
  const streamLen = docs.reduce((a, d) => a + d.length + 2, 0); // 18 framed tokens per epoch
  const targets: number[] = [];
  let prevLastTarget: number | undefined;
  for (let k = 0; k < streamLen / T; k++) {
    const b = src.next();
    assert.equal(b.mask, null);
    for (let r = 0; r < b.B; r++) {
      const x = [...b.tokens.subarray(r * T, r * T + T)];
      const y = [...b.targets.subarray(r * T, r * T + T)];
      assert.deepEqual(x.slice(1), y.slice(0, -1), 'targets are the inputs shifted by one');
      if (prevLastTarget !== undefined) assert.equal(x[0], prevLastTarget, 'rows overlap by one token');
      prevLastTarget = y[T - 1];
      targets.push(...y);
    }
    if (targets.length >= streamLen) break;
  }
  // The first epoch's 18 stream tokens minus its first bos are targets; the rest start epoch 2 with a bos.
  const firstEpoch = targets.slice(0, streamLen - 1);
  const count = (xs: number[], v: number) => xs.filter((x) => x === v).length;
  for (const d of docs) for (const t of d) assert.equal(count(firstEpoch, t), 1, `token ${t} is a target exactly once`);
  assert.equal(count(firstEpoch, framing.eos), docs.length);
  assert.equal(count(firstEpoch, framing.bos), docs.length - 1);
});

test('packed: same seed same order, other seed other order; restore continues exactly', () => {
  const a = new PackedBatchSource(corpus, 2, 5, framing, 1);
  const b = new PackedBatchSource(corpus, 2, 5, framing, 1);
  const c = new PackedBatchSource(corpus, 2, 5, framing, 2);
  const seqA: number[][] = [];
  const seqC: number[][] = [];
  for (let i = 0; i < 6; i++) {
    seqA.push([...a.next().tokens]);
    assert.deepEqual([...b.next().tokens], seqA[i]);
    seqC.push([...c.next().tokens]);
  }
  assert.notDeepEqual(seqC, seqA);

  const ref = new PackedBatchSource(corpus, 2, 5, framing, 3);
  for (let i = 0; i < 3; i++) ref.next();
  const saved = JSON.parse(JSON.stringify(ref.state()));
  const expected = [0, 1, 2, 3, 4].map(() => [...ref.next().targets]);
  const resumed = new PackedBatchSource(corpus, 2, 5, framing, 3);
  resumed.restore(saved);
  assert.deepEqual([0, 1, 2, 3, 4].map(() => [...resumed.next().targets]), expected);

  const other = new PackedBatchSource({ numDocs: 3, doc: (i) => docs[i]! }, 2, 5, framing, 3);
  assert.throws(() => other.restore(saved), (e: unknown) => e instanceof UserError && /data changed/.test((e as Error).message));
});

test('packed: an empty corpus is a user error', () => {
  assert.throws(() => new PackedBatchSource({ numDocs: 0, doc: () => [] }, 1, 4, framing, 0), UserError);
});

test('held-out batches: one pass in stored order, padded with mask 0, fixed shape', () => {
  const batches = heldoutBatches(corpus, 2, 4, framing, 1000);
  // stream: 1 10 11 12 2 1 20 2 1 30 31 32 33 34 2 1 40 41 2 → 18 targets → 5 rows of 4 → 3 batches
  assert.equal(batches.length, 3);
  const counted = batches.reduce((a, b) => a + b.mask!.reduce((x, y) => x + y, 0), 0);
  assert.equal(counted, 18);
  assert.deepEqual([...batches[0]!.tokens.subarray(0, 4)], [1, 10, 11, 12]);
  assert.deepEqual([...batches[0]!.targets.subarray(0, 4)], [10, 11, 12, 2]);
  assert.deepEqual([...batches[2]!.mask!], [1, 1, 0, 0, 0, 0, 0, 0]);
  const capped = heldoutBatches(corpus, 2, 4, framing, 6);
  assert.equal(capped.reduce((a, b) => a + b.mask!.reduce((x, y) => x + y, 0), 0), 6);
});
