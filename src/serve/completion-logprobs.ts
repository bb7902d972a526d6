import type { TokenLogprob } from './token-logprobs.js';

/**
 * The `logprobs` object of a legacy completion choice (OpenAI's shape, as lm-evaluation-harness
 * reads it): parallel lists over tokens — the token's text, its log-probability (null for the
 * first prompt token, which nothing predicts), the most likely alternatives as an object
 * text → log-probability (most likely first), and where the token starts in the choice's text.
 */
export interface LogprobsObject {
  tokens: string[];
  token_logprobs: Array<number | null>;
  top_logprobs: Array<Map<string, number> | null>; // a Map keeps the order when serialized by `completionJson`
  text_offset: number[]; // in Unicode code points, as Python indexes strings
}

/**
 * A token's text for `tokens` and `top_logprobs`: its bytes when they are UTF-8 on their own, else
 * (a token that ends inside a character) `bytes:` and the bytes as `\xNN`, as OpenAI spells them,
 * so that two partial tokens never share a key.
 */
export class TokenTexts {
  private readonly cache = new Map<number, string>();
  private readonly decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

  constructor(private readonly bytesOf: (token: number) => Uint8Array) {}

  text(token: number): string {
    let s = this.cache.get(token);
    if (s === undefined) {
      const bytes = this.bytesOf(token);
      try {
        s = this.decoder.decode(bytes);
      } catch {
        s = 'bytes:' + Array.from(bytes, (b) => `\\x${b.toString(16).padStart(2, '0')}`).join('');
      }
      this.cache.set(token, s);
    }
    return s;
  }
}

/**
 * Builds one choice's logprobs as its tokens arrive: the echoed prompt's (once), then each drawn
 * token's. Every add returns the part it added, which is what a streamed chunk carries; the parts
 * concatenated equal `all()`. A token's offset counts the characters completed before it, so the
 * tokens whose bytes share one character all point at that character.
 */
export class CompletionLogprobs {
  private readonly whole: LogprobsObject = { tokens: [], token_logprobs: [], top_logprobs: [], text_offset: [] };
  private readonly decoder = new TextDecoder('utf-8', { ignoreBOM: true });
  private offset: number; // code points of the choice's text before the next drawn token

  /** `completionStart`: code points of what precedes the completion in the choice's text (the echoed prompt, or 0). */
  constructor(
    private readonly texts: TokenTexts,
    private readonly bytesOf: (token: number) => Uint8Array,
    completionStart: number,
  ) {
    this.offset = completionStart;
  }

  /**
   * The echoed prompt's tokens with their scores. `silentFirst`: the first token (a bos the server
   * put in front of a text prompt) is not in the echoed text, so it spans no characters.
   */
  addPrompt(ids: Int32Array, scores: ReadonlyArray<TokenLogprob | null>, silentFirst: boolean): LogprobsObject {
    if (scores.length !== ids.length) throw new Error(`prompt scores: ${scores.length} for ${ids.length} tokens`);
    const decoder = new TextDecoder('utf-8', { ignoreBOM: true });
    let at = 0;
    const part = emptyPart();
    ids.forEach((id, i) => {
      const s = scores[i] ?? null;
      push(part, this.texts.text(id), s ? s.logprob : null, s ? this.topOf(s) : null, at);
      if (!(i === 0 && silentFirst)) at += codePoints(decoder.decode(this.bytesOf(id), { stream: true }));
    });
    return this.append(part);
  }

  /** Drawn tokens, in order. */
  addGenerated(scores: readonly TokenLogprob[]): LogprobsObject {
    const part = emptyPart();
    for (const s of scores) {
      push(part, this.texts.text(s.token), s.logprob, this.topOf(s), this.offset);
      this.offset += codePoints(this.decoder.decode(this.bytesOf(s.token), { stream: true }));
    }
    return this.append(part);
  }

  all(): LogprobsObject {
    return this.whole;
  }

  private topOf(s: TokenLogprob): Map<string, number> {
    const m = new Map<string, number>();
    for (const t of s.top) {
      const key = this.texts.text(t.token);
      if (!m.has(key)) m.set(key, t.logprob); // equal texts (a special token spelled like plain text): the likelier one
    }
    return m;
  }

  private append(part: LogprobsObject): LogprobsObject {
    this.whole.tokens.push(...part.tokens);
    this.whole.token_logprobs.push(...part.token_logprobs);
    this.whole.top_logprobs.push(...part.top_logprobs);
    this.whole.text_offset.push(...part.text_offset);
    return part;
  }
}

function emptyPart(): LogprobsObject {
  return { tokens: [], token_logprobs: [], top_logprobs: [], text_offset: [] };
}

function push(p: LogprobsObject, token: string, logprob: number | null, top: Map<string, number> | null, offset: number): void {
  p.tokens.push(token);
  p.token_logprobs.push(logprob);
  p.top_logprobs.push(top);
  p.text_offset.push(offset);
}

/** Code points of a string (what Python's len counts). */
export function codePoints(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0xd800 || c > 0xdbff) n++; // a high surrogate and its low one count once
  }
  return n;
}

/** JSON text in which a Map is an object whose keys keep the Map's order (JSON.stringify moves integer-like keys first). */
export function completionJson(v: unknown): string {
  if (v instanceof Map) return `{${[...v].map(([k, x]) => `${JSON.stringify(String(k))}:${completionJson(x)}`).join(',')}}`;
  if (Array.isArray(v)) return `[${v.map((x) => (x === undefined ? 'null' : completionJson(x))).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const fields = Object.entries(v).filter(([, x]) => x !== undefined);
    return `{${fields.map(([k, x]) => `${JSON.stringify(k)}:${completionJson(x)}`).join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}
