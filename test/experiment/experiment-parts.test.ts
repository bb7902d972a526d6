import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hashOrder, selectSubsets } from '../../src/experiment/token-subsets.js';
import { readDocList, writeDocList } from '../../src/experiment/doc-list-file.js';
import { MixtureBatchSource } from '../../src/experiment/mixture-batch-source.js';
import { DocumentSubset } from '../../src/experiment/document-subset.js';
import { dependentsOf, runStageGraph, topologicalOrder, type StageNode } from '../../src/stage/stage-graph.js';
import { MixtureSampler } from '../../src/tokens/mixture-sampler.js';
import type { TokenizedDocuments } from '../../src/tokens/token-dataset.js';
import { UserError } from '../../src/common/errors.js';
import { tempDir } from '../helpers.js';

test('hashOrder: a permutation sorted by SHA-256(salt, id), another salt gives another order', () => {
  const ids = Array.from({ length: 200 }, (_, i) => `doc-${i}`);
  const order = hashOrder(ids, 'salt-a');
  const full = (id: string, salt: string) => createHash('sha256').update(`${salt}\u0000${id}`).digest('hex');
  const expected = [...ids.keys()].sort((a, b) => (full(ids[a]!, 'salt-a') < full(ids[b]!, 'salt-a') ? -1 : 1));
  assert.deepEqual([...order], expected);
  assert.notDeepEqual([...hashOrder(ids, 'salt-b')], expected);
  assert.deepEqual([...hashOrder(ids, 'salt-a')], expected, 'deterministic');
});

// [name, doc tokens, U, factor, uniqueDocs, uniqueTokens, oracleDocs, oracleTokens]
const subsetTable: Array<[string, number[], number, number, number, number, number, number]> = [
  ['exact fit', [10, 10, 10, 10, 10, 10], 20, 2, 2, 20, 4, 40],
  ['U reached inside a document: that document is in', [7, 7, 7, 7, 7, 7], 10, 2, 2, 14, 4, 28],
  ['oracle capped by the split', [5, 5, 5, 5], 5, 20, 1, 5, 4, 20],
  ['U = the whole split', [3, 4, 5], 12, 20, 3, 12, 3, 12],
  ['factor 1: oracle = U', [9, 9, 9], 10, 1, 2, 18, 2, 18],
];
for (const [name, tokens, U, factor, ud, ut, od, ot] of subsetTable) {
  test(`selectSubsets: ${name}`, () => {
    const ids = tokens.map((_, i) => `d${i}`);
    const order = hashOrder(ids, 's');
    // The test's tokens are given in hash order: tokens[k] belongs to order[k].
    const byDoc = new Array<number>(tokens.length);
    order.forEach((doc, k) => (byDoc[doc] = tokens[k]!));
    const sel = selectSubsets(order, byDoc, U, factor);
    assert.deepEqual([sel.uniqueDocs, sel.uniqueTokens, sel.oracleDocs, sel.oracleTokens], [ud, ut, od, ot]);
    assert.equal(sel.availableTokens, tokens.reduce((a, b) => a + b, 0));
    // The U subset is the shortest prefix reaching U; the oracle prefix contains it.
    const prefix = (n: number) => [...order.subarray(0, n)].reduce((s, d) => s + byDoc[d]!, 0);
    assert.ok(prefix(sel.uniqueDocs) >= U && prefix(sel.uniqueDocs - 1) < U);
    assert.ok(sel.oracleDocs >= sel.uniqueDocs);
  });
}

test('selectSubsets: U above the split is a UserError naming the field', () => {
  assert.throws(() => selectSubsets(Uint32Array.from([0, 1]), [5, 5], 11, 20), (e: unknown) => e instanceof UserError && /experiment\.uniqueTokens is 11, but the train split holds only 10/.test((e as Error).message));
});

test('doc list file: round trip, bad magic, truncation', () => {
  const dir = tempDir();
  const path = join(dir, 'docs.bin');
  const docs = Uint32Array.from([5, 0, 4_000_000_000, 7]);
  writeDocList(path, docs);
  assert.deepEqual([...readDocList(path, 'fix it')], [...docs]);
  const bytes = readFileSync(path);
  writeFileSync(path, bytes.subarray(0, bytes.length - 2));
  assert.throws(() => readDocList(path, 'fix it'), /expected 32 for 4 documents \(truncated\?\); fix it/);
  const wrong = Buffer.from(bytes);
  wrong.write('NOTDOCS\0', 0, 'latin1');
  writeFileSync(path, wrong);
  assert.throws(() => readDocList(path, 'fix it'), /bad magic/);
});

/** Documents whose tokens say where they come from: 1000·(source+1) + 10·doc + position. */
function docs(source: number, lengths: number[]): TokenizedDocuments {
  const arr = lengths.map((n, d) => Int32Array.from({ length: n }, (_, i) => 1000 * (source + 1) + 10 * d + i));
  return { numDocs: arr.length, numTokens: lengths.reduce((a, b) => a + b, 0), vocabSize: 5000, doc: (i) => arr[i]! as unknown as Uint16Array, docLength: (i) => arr[i]!.length, docId: (i) => `s${source}-${i}` };
}
const framing = { bos: 1, eos: 2 };
const mixture = () =>
  new MixtureSampler(
    [
      { name: 'real', source: docs(0, [3, 5, 4]), weight: 3 },
      { name: 'synthetic', source: docs(1, [6, 2, 4, 3]), weight: 1, epochs: 1 },
    ],
    { seed: 9 },
  );

test('MixtureBatchSource: rows are the framed draw stream cut into T+1 windows overlapping by one', () => {
  const B = 3;
  const T = 5;
  const src = new MixtureBatchSource(mixture(), B, T, framing);
  const batches = Array.from({ length: 4 }, () => {
    const b = src.next();
    return { tokens: [...b.tokens], targets: [...b.targets] };
  });
  // Independent stream: the same sampler's draws, framed.
  const oracle = mixture();
  const stream: number[] = [];
  while (stream.length < 4 * B * T + 1) {
    const d = oracle.next()!;
    stream.push(1, ...oracle.components[d.component]!.source.doc(d.doc), 2);
  }
  batches.forEach((b, k) => {
    for (let r = 0; r < B; r++) {
      const start = (k * B + r) * T;
      assert.deepEqual(b.tokens.slice(r * T, r * T + T), stream.slice(start, start + T));
      assert.deepEqual(b.targets.slice(r * T, r * T + T), stream.slice(start + 1, start + T + 1));
    }
  });
  // Synthetic documents are used once: none of the 4 appears twice.
  const synthStarts = stream.filter((t) => t >= 2000 && t % 10 === 0);
  assert.equal(new Set(synthStarts).size, synthStarts.length);
});

test('MixtureBatchSource: a saved state (through JSON) resumes on exactly the next batch', () => {
  const a = new MixtureBatchSource(mixture(), 2, 7, framing);
  for (let i = 0; i < 3; i++) a.next();
  const saved = JSON.parse(JSON.stringify(a.state()));
  const expected = Array.from({ length: 5 }, () => [...a.next().tokens]);
  const b = new MixtureBatchSource(mixture(), 2, 7, framing);
  b.restore(saved);
  assert.deepEqual(Array.from({ length: 5 }, () => [...b.next().tokens]), expected);
  assert.throws(() => b.restore({ kind: 'packed' }), /not a mixture/);
});

test('DocumentSubset: renumbers documents without copying', () => {
  const base = docs(0, [3, 5, 4, 2]);
  const sub = new DocumentSubset(base, Uint32Array.from([3, 1]));
  assert.equal(sub.numDocs, 2);
  assert.equal(sub.numTokens, 7);
  assert.deepEqual([...sub.doc(0)], [...base.doc(3)]);
  assert.equal(sub.docId(1), 's0-1');
  assert.throws(() => new DocumentSubset(base, Uint32Array.from([4])), RangeError);
});

const node = (name: string, deps: string[], log: string[] = []): StageNode => ({ name, deps, slice: { name }, run: async () => (log.push(name), { skipped: false }) });

test('stage graph: dependency order, dependents, cycles and unknown names', async () => {
  const nodes = [node('eval', ['sbp', 'base']), node('base', ['data']), node('data', []), node('synth', ['base']), node('sbp', ['synth', 'data'])];
  assert.deepEqual(topologicalOrder(nodes).map((n) => n.name), ['data', 'base', 'synth', 'sbp', 'eval']);
  assert.deepEqual([...dependentsOf(nodes, 'synth')].sort(), ['eval', 'sbp', 'synth']);
  const log: string[] = [];
  const outcomes = await runStageGraph([node('b', ['a'], log), node('a', [], log)]);
  assert.deepEqual(log, ['a', 'b']);
  assert.deepEqual(outcomes.map((o) => o.name), ['a', 'b']);
  assert.throws(() => topologicalOrder([node('a', ['b']), node('b', ['a'])]), /cycle among a, b/);
  assert.throws(() => topologicalOrder([node('a', ['zz'])]), /unknown node "zz"/);
  assert.throws(() => topologicalOrder([node('a', []), node('a', [])]), /declared twice/);
});
