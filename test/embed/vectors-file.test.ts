import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../../src/common/errors.js';
import { readVectorsFile, VectorsReader, VectorsWriter, writeVectorsFile, VECTORS_HEADER_BYTES, type VectorDType } from '../../src/embed/vectors-file.js';
import { normalizeRows } from '../../src/embed/embedder.js';
import { tempDir } from '../helpers.js';

const dir = tempDir();

function unitRows(n: number, dim: number, seed: number): Float32Array {
  const rows = new Float32Array(n * dim);
  let s = seed >>> 0;
  for (let i = 0; i < rows.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    rows[i] = s / 2 ** 32 - 0.5;
  }
  normalizeRows(rows, dim);
  return rows;
}

const ids = ['brown:ca01', 'notes.jsonl:17', '東京:3', '', 'x'.repeat(300)];

for (const dtype of ['f32', 'f16'] as VectorDType[]) {
  test(`vectors file round-trips ${dtype}: ids, header, rows (f16 within half an ulp)`, () => {
    const path = join(dir, `rt-${dtype}.bin`);
    const rows = unitRows(ids.length, 24, 3);
    writeVectorsFile(path, { dtype, dim: 24, ids, rows });
    const r = readVectorsFile(path);
    assert.equal(r.dtype, dtype);
    assert.equal(r.dim, 24);
    assert.deepEqual(r.ids, ids);
    const tol = dtype === 'f32' ? 0 : 2 ** -12; // |x| < 1: f16 spacing ≤ 2^-11, rounding error ≤ half of it
    let maxErr = 0;
    for (let i = 0; i < rows.length; i++) maxErr = Math.max(maxErr, Math.abs(r.rows[i]! - rows[i]!));
    assert.ok(maxErr <= tol, `max error ${maxErr} > ${tol}`);
    const reader = VectorsReader.open(path);
    assert.deepEqual([...reader.readRows(2, 2)], [...r.rows.subarray(2 * 24, 4 * 24)]);
    assert.throws(() => reader.readRows(4, 2), RangeError);
    reader.close();
    const expectBytes = VECTORS_HEADER_BYTES + ids.length * 24 * (dtype === 'f32' ? 4 : 2) + ids.reduce((s, id) => s + 4 + Buffer.byteLength(id), 0);
    assert.equal(readFileSync(path).length, expectBytes);
  });
}

test('an empty vectors file (no documents) round-trips', () => {
  const path = join(dir, 'empty.bin');
  writeVectorsFile(path, { dtype: 'f16', dim: 8, ids: [], rows: new Float32Array(0) });
  const r = readVectorsFile(path);
  assert.equal(r.ids.length, 0);
  assert.equal(r.rows.length, 0);
});

test('rows written out of order by shard, then resumed by a new writer, read back in row order', () => {
  const path = join(dir, 'shards.bin');
  const rows = unitRows(ids.length, 6, 9);
  const w = VectorsWriter.create(path, { dtype: 'f32', dim: 6, ids });
  w.writeRows(3, rows.subarray(18));
  w.sync();
  w.close(); // killed here
  assert.throws(() => VectorsReader.open(path), (e: unknown) => e instanceof UserError && /did not finish; run `sbp embed` again/.test((e as Error).message));
  const again = VectorsWriter.resume(path, { dtype: 'f32', dim: 6, ids });
  again.writeRows(0, rows.subarray(0, 18));
  again.finish();
  assert.deepEqual([...readVectorsFile(path).rows], [...rows]);
  assert.throws(() => VectorsWriter.resume(path, { dtype: 'f32', dim: 6, ids: [...ids.slice(0, 4), 'other'] }), (e: unknown) => e instanceof UserError && /id 4 .* the corpus now has "other"/.test((e as Error).message));
  assert.throws(() => VectorsWriter.resume(path, { dtype: 'f16', dim: 6, ids }), /this run makes 5 × 6 f16; did the embedding model change/);
});

/** A good file, damaged one way; each damage must be named in the error. */
const damages: Array<[string, (b: Buffer) => Buffer, RegExp]> = [
  ['truncated to a few bytes', (b) => b.subarray(0, 10), /too small for a vectors file/],
  ['wrong magic', (b) => (b.write('NOTVECS!', 0, 'latin1'), b), /not an sbp vectors file \(magic "NOTVECS!"/],
  ['future version', (b) => (b.writeUInt32LE(9, 8), b), /format version 9; this sbp reads version 1/],
  ['unknown dtype', (b) => (b.writeUInt32LE(7, 12), b), /unknown dtype code 7/],
  ['zero dim', (b) => (b.writeUInt32LE(0, 16), b), /dim is 0/],
  ['last row cut off', (b) => b.subarray(0, b.length - 5), /bytes, but the header .* needs \d+; the file is truncated/],
  ['trailing garbage', (b) => Buffer.concat([b, Buffer.from('xx')]), /corrupt \(trailing bytes\)/],
  ['count larger than the data', (b) => (b.writeBigUInt64LE(6n, 24), b), /the file is truncated/],
  ['id length past the table', (b) => (b.writeUInt32LE(9999, VECTORS_HEADER_BYTES + 5 * 4 * 4), b), /id 0 \(9999 bytes\) runs past the end of the id table/],
  ['flipped bit in a row', (b) => ((b[VECTORS_HEADER_BYTES + 7] ^= 0x10), b), /checksum mismatch/],
  ['changed id', (b) => ((b[b.length - 1] ^= 0x01), b), /checksum mismatch/],
  ['unfinished (complete flag clear)', (b) => (b.writeUInt32LE(0, 20), b), /did not finish/],
];

for (const [name, damage, re] of damages) {
  test(`vectors file rejects corruption: ${name}`, () => {
    const good = join(dir, 'good.bin');
    writeVectorsFile(good, { dtype: 'f32', dim: 4, ids: ['a', 'b', 'c', 'd', 'e'], rows: unitRows(5, 4, 1) });
    const bad = join(dir, `bad-${name.replace(/\W+/g, '-')}.bin`);
    copyFileSync(good, bad);
    writeFileSync(bad, damage(readFileSync(bad)));
    assert.throws(
      () => readVectorsFile(bad),
      (e: unknown) => e instanceof UserError && re.test(e.message) && e.message.includes(bad),
    );
  });
}

test('verify: false skips the checksum but still checks structure', () => {
  const path = join(dir, 'noverify.bin');
  writeVectorsFile(path, { dtype: 'f16', dim: 4, ids: ['a', 'b'], rows: unitRows(2, 4, 5) });
  const b = readFileSync(path);
  b[VECTORS_HEADER_BYTES] ^= 0x01;
  writeFileSync(path, b);
  assert.throws(() => readVectorsFile(path), /checksum mismatch/);
  assert.equal(readVectorsFile(path, { verify: false }).ids.length, 2);
  assert.throws(() => readVectorsFile(join(dir, 'none.bin')), /no such vectors file; run `sbp embed` first/);
});
