import { isUtf8 } from 'node:buffer';

const lenientDecoder = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });

/**
 * Decodes UTF-8 bytes; invalid sequences become U+FFFD. `repaired` says whether any were found, so
 * sources can count documents whose bytes were not valid UTF-8 instead of failing on them.
 */
export function decodeUtf8(bytes: Uint8Array): { text: string; repaired: boolean } {
  const repaired = !isUtf8(bytes);
  return { text: lenientDecoder.decode(bytes), repaired };
}
