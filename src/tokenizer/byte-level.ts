/**
 * The byte-level alphabet of GPT-2 style BPE files: every byte 0–255 is written as one printable
 * Unicode character, so a token's bytes can be stored as a JSON string in `tokenizer.json`.
 * Printable Latin-1 bytes stand for themselves; the other 68 bytes (controls, space, 0x7F–0xA0,
 * 0xAD) are shifted to U+0100 and up, in byte order.
 */
function buildByteToChar(): string[] {
  const out: string[] = new Array(256);
  let shifted = 0;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    out[b] = String.fromCharCode(printable ? b : 0x100 + shifted++);
  }
  return out;
}

export const BYTE_TO_CHAR: readonly string[] = buildByteToChar();

const CHAR_TO_BYTE: ReadonlyMap<string, number> = new Map(BYTE_TO_CHAR.map((c, b) => [c, b]));

/** Bytes → their byte-level string (the form used as keys of a BPE vocabulary). */
export function bytesToByteLevel(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += BYTE_TO_CHAR[bytes[i]!];
  return s;
}

/**
 * A byte-level string → its bytes, or undefined when it holds a character outside the alphabet
 * (for example an added token written in plain Unicode).
 */
export function byteLevelToBytes(s: string): Uint8Array | undefined {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) {
    const b = CHAR_TO_BYTE.get(s[i]!);
    if (b === undefined) return undefined;
    out[i] = b;
  }
  return out;
}
