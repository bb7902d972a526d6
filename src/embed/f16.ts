/**
 * IEEE 754 half precision (binary16) conversion, used by the vectors file when `dtype` is f16.
 * Encoding rounds to nearest, ties to even, like a hardware conversion; values beyond the f16 range
 * become ±Infinity and NaN stays NaN. Node 20 has no Float16Array, hence this.
 */

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/** The f16 bit pattern nearest to `value` (round half to even). */
export function float32ToFloat16Bits(value: number): number {
  f32Scratch[0] = value;
  const x = u32Scratch[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;

  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 | (mant >>> 13) : 0); // Inf / NaN (quiet)
  const e = exp - 127 + 15; // re-biased exponent
  if (e >= 0x1f) return sign | 0x7c00; // overflow → Inf
  if (e <= 0) {
    // Subnormal f16 (or zero): the value is mantissa · 2^-24 with the implicit bit made explicit.
    if (e < -10) return sign; // below half of the smallest subnormal → ±0
    const full = mant | 0x800000; // 24 significant bits
    const shift = 14 - e; // 14..24
    let half = full >>> shift;
    const rest = full & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rest > halfway || (rest === halfway && (half & 1) === 1)) half++;
    return sign | half; // a carry into the exponent field gives the smallest normal, as it should
  }
  let half = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (half & 1) === 1)) half++; // may carry into Inf: correct
  return sign | half;
}

/** The f32 value of an f16 bit pattern (exact: every f16 value is representable in f32). */
export function float16BitsToFloat32(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exp = (bits >>> 10) & 0x1f;
  const mant = bits & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant === 0 ? sign * Infinity : NaN;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** Decode table for all 65536 patterns, built once on first use (256 KiB). */
let decodeTable: Float32Array | undefined;

function table(): Float32Array {
  if (!decodeTable) {
    decodeTable = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) decodeTable[h] = float16BitsToFloat32(h);
  }
  return decodeTable;
}

export function encodeFloat16(src: Float32Array, dst: Uint16Array = new Uint16Array(src.length)): Uint16Array {
  if (dst.length < src.length) throw new RangeError(`encodeFloat16: dst holds ${dst.length} values, src has ${src.length}`);
  for (let i = 0; i < src.length; i++) dst[i] = float32ToFloat16Bits(src[i]!);
  return dst;
}

export function decodeFloat16(src: Uint16Array, dst: Float32Array = new Float32Array(src.length)): Float32Array {
  if (dst.length < src.length) throw new RangeError(`decodeFloat16: dst holds ${dst.length} values, src has ${src.length}`);
  const t = table();
  for (let i = 0; i < src.length; i++) dst[i] = t[src[i]!]!;
  return dst;
}
