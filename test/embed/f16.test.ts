import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeFloat16, encodeFloat16, float16BitsToFloat32, float32ToFloat16Bits } from '../../src/embed/f16.js';

/** Independent decoder: the binary16 definition written with Math.pow, no bit tricks shared with f16.ts. */
function oracleValue(h: number): number {
  const s = h >> 15 ? -1 : 1;
  const e = (h >> 10) & 31;
  const m = h & 1023;
  if (e === 31) return m ? NaN : s * Infinity;
  return e === 0 ? s * Math.pow(2, -14) * (m / 1024) : s * Math.pow(2, e - 15) * (1 + m / 1024);
}

test('f16: every one of the 65536 bit patterns decodes per the definition and re-encodes to itself', () => {
  const all = new Uint16Array(65536).map((_, i) => i);
  const decoded = decodeFloat16(all);
  for (let h = 0; h < 65536; h++) {
    const want = oracleValue(h);
    if (Number.isNaN(want)) {
      assert.ok(Number.isNaN(decoded[h]!), `0x${h.toString(16)} should be NaN`);
      assert.ok(Number.isNaN(float16BitsToFloat32(float32ToFloat16Bits(decoded[h]!))));
      continue;
    }
    assert.ok(Object.is(decoded[h], want), `0x${h.toString(16)}: ${decoded[h]} ≠ ${want}`);
    assert.equal(float32ToFloat16Bits(want), h, `0x${h.toString(16)} does not round-trip`);
  }
});

/** The f16 neighbours of x, sorted: the nearest must be chosen, ties to the even pattern. */
function nearestByOracle(x: number): number {
  let best = -1;
  let bestErr = Infinity;
  for (let h = 0; h < 65536; h++) {
    const v = oracleValue(h);
    if (!Number.isFinite(v)) continue;
    const err = Math.abs(v - x);
    if (err < bestErr || (err === bestErr && (h & 1) === 0 && Math.sign(v) === Math.sign(x || 1))) {
      best = h;
      bestErr = err;
    }
  }
  return best;
}

test('f16: encoding picks the nearest value, ties to even (brute force over all patterns)', () => {
  const xs = [0.1, -0.1, 1 / 3, 0.7071067811865476, 1e-5, -6.1e-5, 6.2e-8, 3e-8, 2.9802322387695312e-8, 65504, 1.0009765625 + 2 ** -11, 1 + 3 * 2 ** -11, 0.5];
  let seed = 7;
  for (let i = 0; i < 40; i++) {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    xs.push(((seed / 2 ** 32) * 2 - 1) * Math.pow(10, (i % 9) - 6));
  }
  for (const x of xs) {
    const f = Math.fround(x); // the encoder sees f32 values
    assert.equal(float32ToFloat16Bits(f), nearestByOracle(f), `x = ${f}`);
  }
});

test('f16: special values and overflow', () => {
  const table: Array<[number, number]> = [
    [0, 0x0000],
    [-0, 0x8000],
    [Infinity, 0x7c00],
    [-Infinity, 0xfc00],
    [65504, 0x7bff], // largest finite
    [65520, 0x7c00], // halfway to the next binade rounds up to Inf
    [1e6, 0x7c00],
    [2 ** -24, 0x0001], // smallest subnormal
    [2 ** -25, 0x0000], // exactly half of it: ties to even → 0
    [1, 0x3c00],
    [-2, 0xc000],
  ];
  for (const [x, h] of table) assert.equal(float32ToFloat16Bits(x), h, `encode ${x}`);
  assert.ok(Number.isNaN(float16BitsToFloat32(float32ToFloat16Bits(NaN))));
});

test('f16: array helpers check their output size', () => {
  const src = new Float32Array([0.25, -1.5, 3]);
  assert.deepEqual([...decodeFloat16(encodeFloat16(src))], [0.25, -1.5, 3]);
  assert.throws(() => encodeFloat16(src, new Uint16Array(2)), RangeError);
});
