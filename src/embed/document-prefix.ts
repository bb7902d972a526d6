import type { EmbedInput } from './embedder.js';

/** The part of the run's tokenizer the embed stage uses. */
export interface PrefixTokenizer {
  encode(text: string): Uint32Array;
  decode(ids: ArrayLike<number>): string;
}

export interface DocumentPrefix extends EmbedInput {
  /** True when the document had more than N tokens. */
  truncated: boolean;
}

const WHITESPACE = /\s/u;
const TOKEN_MARGIN = 64; // tokens encoded beyond N, so that the cut's effect on the last piece never reaches token N
const CHARS_PER_TOKEN_GUESS = 6; // first window; English BPE averages ~4 chars per token

/**
 * A document's first `maxTokens` tokens and the text they decode to — what every embedder sees.
 *
 * Encoding a whole long document to keep its first N tokens would waste time, so the text is encoded
 * in growing windows. A window is cut just after a non-space character that a space follows, and
 * is used only when it yields N + 64 tokens or more: the pre-tokenizer never lets a token cross a piece
 * boundary and only the last piece of a window can differ from the whole text's, so the first N
 * tokens then equal those of encoding the whole document (unless one piece alone exceeds 64 tokens).
 */
export function documentPrefix(tokenizer: PrefixTokenizer, text: string, maxTokens: number): DocumentPrefix {
  let window = maxTokens * CHARS_PER_TOKEN_GUESS;
  for (;;) {
    let cut = text.length;
    if (window < text.length) {
      cut = window;
      while (cut < text.length && !(WHITESPACE.test(text[cut]!) && !WHITESPACE.test(text[cut - 1]!))) cut++;
    }
    const ids = tokenizer.encode(cut === text.length ? text : text.slice(0, cut));
    if (cut === text.length && ids.length <= maxTokens) {
      return { tokens: Int32Array.from(ids), text, truncated: false };
    }
    if (cut === text.length || ids.length >= maxTokens + TOKEN_MARGIN) {
      const tokens = Int32Array.from(ids.subarray(0, maxTokens));
      return { tokens, text: tokenizer.decode(tokens), truncated: true };
    }
    window *= 2;
  }
}
