import type { SpecialTokens } from '../tokenizer/special-tokens.js';

/** The part of a tokenizer prompt encoding needs. */
export interface PromptTokenizer {
  readonly special: SpecialTokens;
  readonly vocabSize: number;
  encode(text: string): Uint32Array;
  decode(ids: ArrayLike<number>): string;
}

/**
 * Text prompt → model input ids, the way documents were fed in training: `[bos] encode(text)`.
 *
 * The tokenizer never produces special tokens from text, so a client could not otherwise write the
 * separator a synthesizer expects between d1 and d2. As Hugging Face tokenizers do, the exact texts
 * of the special tokens (`<|bos|>`, `<|eos|>`, `<|sep|>`, `<|pad|>`, `<|reserved_i|>`) inside a
 * prompt become their ids; the rest is encoded as plain text. A prompt that already starts with the
 * bos text gets no second bos. Clients wanting full control send token ids instead.
 */
export class PromptEncoder {
  private readonly specialIds: Map<string, number>;
  private readonly pattern: RegExp | null;
  readonly bos: number;
  private readonly bosText: string;

  constructor(private readonly tokenizer: PromptTokenizer) {
    const s = tokenizer.special;
    this.bos = s.bos;
    this.bosText = tokenizer.decode([s.bos]);
    this.specialIds = new Map();
    for (const id of [s.bos, s.eos, s.sep, s.pad, ...s.reserved]) {
      const text = tokenizer.decode([id]);
      if (text.length > 0 && !this.specialIds.has(text)) this.specialIds.set(text, id);
    }
    // Longest first, so a special text that contains another is matched whole.
    const texts = [...this.specialIds.keys()].sort((a, b) => b.length - a.length);
    this.pattern = texts.length > 0 ? new RegExp(texts.map(escapeRegExp).join('|'), 'g') : null;
  }

  /** Ids → text (special tokens as their text); ids past the tokenizer (a padded model vocabulary) have none. */
  decode(ids: ArrayLike<number>): string {
    const size = this.tokenizer.vocabSize;
    return this.tokenizer.decode(Array.from(ids).filter((id) => id < size));
  }

  /** `[bos]` followed by the prompt's tokens, special texts mapped to their ids. */
  encode(text: string): Int32Array {
    const parts: ArrayLike<number>[] = [];
    let start = 0;
    if (this.pattern) {
      this.pattern.lastIndex = 0;
      for (let m = this.pattern.exec(text); m !== null; m = this.pattern.exec(text)) {
        if (m.index > start) parts.push(this.tokenizer.encode(text.slice(start, m.index)));
        parts.push([this.specialIds.get(m[0])!]);
        start = m.index + m[0].length;
      }
    }
    if (start < text.length) parts.push(this.tokenizer.encode(text.slice(start)));
    const lead = this.bosText !== '' && text.startsWith(this.bosText) ? 0 : 1;
    let n = lead;
    for (const p of parts) n += p.length;
    const out = new Int32Array(n);
    if (lead) out[0] = this.bos;
    let at = lead;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
