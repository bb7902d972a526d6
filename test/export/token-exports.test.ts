// Token exports read back to the stored documents, framed [bos] doc [eos]; readers refuse files that
// do not match their headers with errors naming the file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { armBlends } from '../../src/export/arm-blends.js';
import { join } from 'node:path';
import { tempDir } from '../helpers.js';
import { UserError } from '../../src/common/errors.js';
import { MegatronIndexedWriter, readMegatronIndex } from '../../src/export/megatron-indexed.js';
import { readLlmcHeader, TokenFileWriter } from '../../src/export/llmc-tokens.js';
import { exportDType, framedDocuments } from '../../src/export/token-stream.js';
import { TokenShardWriter } from '../../src/tokens/shard-writer.js';
import { TokenDataset } from '../../src/tokens/token-dataset.js';

function dataset(dir: string, vocab: number, docs: number[][]): TokenDataset {
  const w = new TokenShardWriter(join(dir, 'train-00000.tok'), { vocabSize: vocab });
  docs.forEach((d, i) => w.addDocument(`d${i}`, d));
  w.close();
  return TokenDataset.open(dir, 'train');
}

const DOCS = [[5, 6, 7], [], [9], Array.from({ length: 3000 }, (_, i) => (i * 7919) % 250)];
const FRAMED = DOCS.flatMap((d) => [300, ...d, 301]);

for (const [vocab, dtype] of [[302, 'u16'], [70_000, 'u32']] as const) {
  test(`Megatron .bin/.idx and llm.c files hold the framed stream (${dtype})`, () => {
    assert.equal(exportDType(vocab), dtype);
    const dir = tempDir();
    const data = dataset(dir, vocab, DOCS);
    const meg = new MegatronIndexedWriter(join(dir, 'm'), dtype);
    const llmc = new TokenFileWriter(join(dir, 'l.bin'), 'llmc', dtype);
    for (const d of framedDocuments(data, { bos: 300, eos: 301 })) (meg.add(d.tokens), llmc.add(d.tokens));
    meg.close();
    llmc.close();
    data.close();
    const Arr = dtype === 'u16' ? Uint16Array : Uint32Array;
    const idx = readMegatronIndex(join(dir, 'm'));
    assert.equal(idx.dtype, dtype);
    assert.deepEqual(Array.from(idx.lengths), DOCS.map((d) => d.length + 2));
    assert.deepEqual(Array.from(idx.documentIndex, Number), [0, 1, 2, 3, 4]);
    const bin = readFileSync(join(dir, 'm.bin'));
    assert.deepEqual(Array.from(new Arr(bin.buffer, bin.byteOffset, bin.length / Arr.BYTES_PER_ELEMENT)), FRAMED);
    const item = Arr.BYTES_PER_ELEMENT;
    assert.deepEqual(Array.from(idx.offsets, Number), DOCS.map((_, i) => DOCS.slice(0, i).reduce((a, d) => a + (d.length + 2) * item, 0)));
    const head = readLlmcHeader(join(dir, 'l.bin'));
    assert.deepEqual(head, { dtype, tokens: FRAMED.length });
    const l = readFileSync(join(dir, 'l.bin'));
    assert.equal(l.readInt32LE(0), 20240520);
    assert.equal(l.readInt32LE(4), dtype === 'u16' ? 1 : 2);
    assert.deepEqual(Array.from(new Arr(l.buffer.slice(l.byteOffset + 1024, l.byteOffset + l.length))), FRAMED);
  });
}

test('nanoGPT files are the bare uint16 stream and refuse vocabularies that need uint32', () => {
  const dir = tempDir();
  const data = dataset(dir, 302, DOCS);
  const w = new TokenFileWriter(join(dir, 'train.bin'), 'nanogpt', 'u16');
  for (const d of framedDocuments(data, { bos: 300, eos: 301 })) w.add(d.tokens);
  w.close();
  data.close();
  const b = readFileSync(join(dir, 'train.bin'));
  assert.deepEqual(Array.from(new Uint16Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length))), FRAMED);
  assert.throws(() => new TokenFileWriter(join(dir, 'x.bin'), 'nanogpt', 'u32'), (e: unknown) => e instanceof UserError && /x\.bin: nanoGPT token files are uint16/.test(e.message));
});

test('readers name the file when it is truncated, foreign or mismatched', () => {
  const dir = tempDir();
  const data = dataset(dir, 302, DOCS);
  const meg = new MegatronIndexedWriter(join(dir, 'm'), 'u16');
  const llmc = new TokenFileWriter(join(dir, 'l.bin'), 'llmc', 'u16');
  for (const d of framedDocuments(data, { bos: 300, eos: 301 })) (meg.add(d.tokens), llmc.add(d.tokens));
  meg.close();
  llmc.close();
  data.close();
  truncateSync(join(dir, 'm.bin'), 10);
  assert.throws(() => readMegatronIndex(join(dir, 'm')), (e: unknown) => e instanceof UserError && /m\.bin: 10 bytes, its index describes/.test(e.message));
  truncateSync(join(dir, 'm.idx'), 40);
  assert.throws(() => readMegatronIndex(join(dir, 'm')), (e: unknown) => e instanceof UserError && /m\.idx: 40 bytes, the header implies/.test(e.message));
  writeFileSync(join(dir, 'n.idx'), Buffer.alloc(64));
  assert.throws(() => readMegatronIndex(join(dir, 'n')), (e: unknown) => e instanceof UserError && /n\.idx: not a Megatron indexed dataset/.test(e.message));
  truncateSync(join(dir, 'l.bin'), 2000);
  assert.throws(() => readLlmcHeader(join(dir, 'l.bin')), (e: unknown) => e instanceof UserError && /l\.bin: 2000 bytes, the header's/.test(e.message));
});

test('each trained model becomes a --data-path blend from its manifest; components without an exported dataset are listed, not guessed', () => {
  const run = tempDir();
  const manifest = (name: string, data: unknown) => {
    mkdirSync(join(run, 'models', name), { recursive: true });
    writeFileSync(join(run, 'models', name, 'manifest.json'), JSON.stringify({ stage: `models/${name}`, stats: { data } }));
  };
  manifest('baseline', { real: { docs: 3, tokens: 100 } });
  manifest('sbp', { real: { docs: 3, tokens: 100, drawnTokens: 600 }, synthetic: { docs: 9, tokens: 500, drawnTokens: 400 } });
  manifest('selfdistill', { real: { tokens: 100, drawnTokens: 750 }, samples: { tokens: 300, drawnTokens: 250, folder: 'selfdistill-tokens', split: 'train' } });
  manifest('oracle', { oracle: { docs: 50, tokens: 5000 } });
  const blends = armBlends(run, new Set(['tokens-train', 'synth-tokens-train', 'selfdistill-tokens-train']));
  assert.deepEqual(blends.map((b) => [b.model, b.dataPath]), [
    ['baseline', '1.000000 tokens-train'],
    ['oracle', ''],
    ['sbp', '0.600000 tokens-train 0.400000 synth-tokens-train'],
    ['selfdistill', '0.750000 tokens-train 0.250000 selfdistill-tokens-train'],
  ]);
  assert.deepEqual(blends[1]!.missing, [{ component: 'oracle', reason: 'no token folder recorded for this component' }]);
  assert.deepEqual(armBlends(run, new Set(['tokens-train']))[2]!.missing, [{ component: 'synthetic', reason: 'synth-tokens-train was not exported' }]);
});
