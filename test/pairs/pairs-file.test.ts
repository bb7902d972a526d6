import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../../src/common/errors.js';
import { readPairsFile, writePairsFile, PAIRS_HEADER_BYTES } from '../../src/pairs/pairs-file.js';
import { tempDir } from '../helpers.js';

const file = {
  documents: 5,
  vectorsChecksum: '0123456789abcdef0123456789abcdef',
  pairs: { d1: Uint32Array.of(0, 0, 3), d2: Uint32Array.of(4, 1, 2), sims: Float32Array.of(0.9, 0.8, 0.77) },
};

test('pairs file: round trip, and the bytes of the layout', () => {
  const path = join(tempDir(), 'pairs.bin');
  writePairsFile(path, file);
  const bytes = readFileSync(path);
  assert.equal(bytes.length, PAIRS_HEADER_BYTES + 3 * 12);
  assert.equal(bytes.subarray(0, 8).toString('latin1'), 'SBPPAIRS');
  assert.equal(bytes.readUInt32LE(PAIRS_HEADER_BYTES + 12), 0); // second record: d1
  assert.equal(bytes.readUInt32LE(PAIRS_HEADER_BYTES + 16), 1); // d2
  assert.deepEqual(readPairsFile(path), file);
});

const damage: Array<[string, (b: Buffer) => Buffer, RegExp]> = [
  ['wrong magic', (b) => (b.write('NOTPAIRS', 0, 'latin1'), b), /not an sbp pairs file/],
  ['newer version', (b) => (b.writeUInt32LE(9, 8), b), /pairs format version 9; this sbp reads version 1/],
  ['truncated', (b) => b.subarray(0, b.length - 5), /the file is truncated/],
  ['trailing bytes', (b) => Buffer.concat([b, Buffer.alloc(3)]), /corrupt \(trailing bytes\)/],
  ['row out of range', (b) => (b.writeUInt32LE(7, PAIRS_HEADER_BYTES + 4), b), /pair 0 \(0 → 7\) points outside the 5 documents/],
  ['too short for a header', (b) => b.subarray(0, 10), /too small for a pairs file/],
];
for (const [name, change, re] of damage) {
  test(`pairs file: ${name} is refused with a message naming the file`, () => {
    const path = join(tempDir(), 'pairs.bin');
    writePairsFile(path, file);
    writeFileSync(path, change(Buffer.from(readFileSync(path))));
    assert.throws(() => readPairsFile(path), (e: unknown) => e instanceof UserError && e.message.startsWith(path) && re.test(e.message));
  });
}
