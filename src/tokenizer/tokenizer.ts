import { existsSync, readFileSync } from 'node:fs';
import { UserError } from '../common/errors.js';
import { writeJsonAtomic } from '../common/fs-atomic.js';
import type { TokenizerConfig } from '../config/schema.js';
import { BpeMerges } from './bpe-merge.js';
import { parseHFTokenizerJson, toHFTokenizerJson, sbpPreTokenizerJson, type BpeFile } from './hf-json.js';
import { PreTokenizer } from './pre-tokenizer.js';
import { SPECIAL_ALIASES, SPECIAL_TEXT, reservedText, type SpecialTokens } from './special-tokens.js';
import { trainBpe, type TrainOptions, type TrainStats } from './train-bpe.js';

export type { SpecialTokens } from './special-tokens.js';
export type { TrainOptions, TrainProgress, TrainStats } from './train-bpe.js';

const CACHE_LIMIT = 1 << 18; // pre-tokens remembered per tokenizer; the cache is dropped when full
const CACHE_MAX_CHARS = 256; // longer pre-tokens (rare) are not cached

/**
 * A byte-level BPE tokenizer: sbp's own (trained by `trainTokenizer`) or one loaded from a Hugging
 * Face `tokenizer.json`. Ids of sbp's tokenizers: 0–255 the bytes, then the merged tokens in the
 * order they were learned, then the special tokens (bos, eos, sep, pad, reserved…).
 */
export class Tokenizer {
  readonly vocabSize: number;
  readonly special: SpecialTokens;
  private readonly tokens: Array<Uint8Array | undefined>; // (vocabSize) bytes of each id
  private readonly merges: BpeMerges;
  private readonly pre: PreTokenizer;
  private readonly file: Omit<BpeFile, 'preTokenizer' | 'namedTokens' | 'byteToId'>;
  private readonly wholeTokens: Map<string, number> | undefined; // latin1 bytes → id, when ignoreMerges
  private cache = new Map<string, Uint32Array>();
  private scratch = new Uint8Array(1024);

  private constructor(file: BpeFile, origin: string) {
    const tokens = file.tokens.slice();
    const named = new Map(file.namedTokens);
    const decoder = new TextDecoder('utf-8', { fatal: true });
    tokens.forEach((bytes, id) => {
      if (!bytes || bytes.length > 64) return;
      try {
        const text = decoder.decode(bytes);
        if (!named.has(text)) named.set(text, id);
      } catch {
        // not UTF-8: cannot be a special token's text
      }
    });
    const utf8 = new TextEncoder();
    const find = (texts: readonly string[]): number => {
      for (const t of texts) {
        const id = named.get(t);
        if (id !== undefined) return id;
      }
      // Missing from the file: append it, so any byte-level BPE can carry sbp's sequences.
      tokens.push(utf8.encode(texts[0]!));
      named.set(texts[0]!, tokens.length - 1);
      return tokens.length - 1;
    };
    const bos = find([SPECIAL_TEXT.bos, ...SPECIAL_ALIASES.bos]);
    const eos = find([SPECIAL_TEXT.eos, ...SPECIAL_ALIASES.eos]);
    const sep = find([SPECIAL_TEXT.sep, ...SPECIAL_ALIASES.sep]);
    const pad = find([SPECIAL_TEXT.pad, ...SPECIAL_ALIASES.pad]);
    const reserved: number[] = [];
    for (let i = 0; named.has(reservedText(i)); i++) reserved.push(named.get(reservedText(i))!);
    this.special = { bos, eos, sep, pad, reserved };
    this.tokens = tokens;
    this.vocabSize = tokens.length;
    this.merges = new BpeMerges(file.byteToId, file.left, file.right, file.result);
    this.pre = file.preTokenizer;
    this.file = { ...file, tokens };
    if (file.ignoreMerges) {
      this.wholeTokens = new Map();
      tokens.forEach((b, id) => {
        if (b && !this.wholeTokens!.has(latin1(b))) this.wholeTokens!.set(latin1(b), id);
      });
    }
    for (let i = 0; i < file.left.length; i++) {
      if (file.result[i]! >= tokens.length) throw new UserError(`${origin}: merge ${i} produces id ${file.result[i]} outside the vocabulary`);
    }
  }

  /** Reads a Hugging Face `tokenizer.json` (sbp's own or a compatible byte-level BPE). */
  static load(path: string): Tokenizer {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      throw new UserError(`cannot read tokenizer file ${path}: ${(err as Error).message}`);
    }
    let obj: unknown;
    try {
      obj = JSON.parse(text);
    } catch (err) {
      throw new UserError(`${path}: not valid JSON (${(err as Error).message})`);
    }
    return Tokenizer.fromHFJson(obj, path);
  }

  static fromHFJson(obj: unknown, origin = 'tokenizer.json'): Tokenizer {
    return new Tokenizer(parseHFTokenizerJson(obj, origin), origin);
  }

  /** Builds sbp's tokenizer from learned merges: bytes, merged tokens, then the special tokens. */
  static fromMerges(learned: { tokens: Uint8Array[]; left: Int32Array; right: Int32Array; result: Int32Array }, reservedTokens: number): Tokenizer {
    const utf8 = new TextEncoder();
    const texts: string[] = [SPECIAL_TEXT.bos, SPECIAL_TEXT.eos, SPECIAL_TEXT.sep, SPECIAL_TEXT.pad];
    for (let i = 0; i < reservedTokens; i++) texts.push(reservedText(i));
    const byteToId = new Int32Array(256);
    for (let b = 0; b < 256; b++) byteToId[b] = b;
    const file: BpeFile = {
      tokens: [...learned.tokens, ...texts.map((t) => utf8.encode(t))],
      byteToId,
      left: learned.left,
      right: learned.right,
      result: learned.result,
      preTokenizer: PreTokenizer.sbp(),
      preTokenizerJson: sbpPreTokenizerJson(),
      ignoreMerges: false,
      namedTokens: new Map(texts.map((t, i) => [t, learned.tokens.length + i])),
    };
    return new Tokenizer(file, 'trained tokenizer');
  }

  /** The `tokenizer.json` object (Hugging Face format). */
  toHFJson(): unknown {
    const s = this.special;
    const token = (id: number) => ({ id, content: this.decode([id]) });
    const added = [s.bos, s.eos, s.sep, s.pad, ...s.reserved].map(token);
    return toHFTokenizerJson(this.file, 'tokenizer', { bos: token(s.bos), added });
  }

  save(path: string): void {
    writeJsonAtomic(path, this.toHFJson());
  }

  /** Number of merges (ranks) in the model. */
  get mergeCount(): number {
    return this.merges.size;
  }

  /** Plain text → ids. Special tokens are never produced: "<|eos|>" in the text is encoded as text. */
  encode(text: string): Uint32Array {
    const norm = this.file.normalization;
    if (norm) text = text.normalize(norm);
    const out = new IdBuffer(Math.ceil(text.length / 3) + 16);
    this.pre.forEachPiece(text, (piece) => out.push(this.encodePiece(piece)));
    return out.finish();
  }

  /**
   * Any bytes → ids. Valid UTF-8 is encoded exactly as `encode` would; bytes that are not valid
   * UTF-8 become pre-tokens of their own, so `decodeBytes(encodeBytes(b))` is always `b`.
   */
  encodeBytes(bytes: Uint8Array): Uint32Array {
    const out = new IdBuffer(Math.ceil(bytes.length / 3) + 16);
    const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
    let start = 0;
    while (start < bytes.length) {
      const end = validUtf8Prefix(bytes, start);
      if (end > start) {
        const text = decoder.decode(bytes.subarray(start, end));
        out.pushAll(this.encode(text));
        start = end;
      } else {
        let bad = start + 1;
        while (bad < bytes.length && validUtf8Prefix(bytes, bad) === bad) bad++;
        out.push(this.merges.encode(bytes.subarray(start, bad), bad - start));
        start = bad;
      }
    }
    return out.finish();
  }

  /** Ids → exact bytes (the concatenation of each token's bytes). */
  decodeBytes(ids: ArrayLike<number>): Uint8Array {
    let n = 0;
    for (let i = 0; i < ids.length; i++) n += this.bytesOf(ids[i]!).length;
    const out = new Uint8Array(n);
    let at = 0;
    for (let i = 0; i < ids.length; i++) {
      const b = this.bytesOf(ids[i]!);
      out.set(b, at);
      at += b.length;
    }
    return out;
  }

  /** Ids → text; special tokens appear as their text; invalid UTF-8 becomes U+FFFD. */
  decode(ids: ArrayLike<number>): string {
    return new TextDecoder('utf-8', { ignoreBOM: true }).decode(this.decodeBytes(ids));
  }

  /** The bytes of one token. */
  bytesOf(id: number): Uint8Array {
    const b = this.tokens[id];
    if (b === undefined) throw new RangeError(`token id ${id} is not in the vocabulary (size ${this.vocabSize})`);
    return b;
  }

  private encodePiece(piece: string): Uint32Array {
    const hit = this.cache.get(piece);
    if (hit !== undefined) return hit;
    let buf = this.scratch;
    if (buf.length < piece.length * 3) buf = this.scratch = new Uint8Array(piece.length * 3);
    const n = utf8Encode(piece, buf);
    let ids: Uint32Array | undefined;
    if (this.wholeTokens) {
      const id = this.wholeTokens.get(latin1(buf.subarray(0, n)));
      if (id !== undefined) ids = Uint32Array.of(id);
    }
    ids ??= this.merges.encode(buf, n);
    if (piece.length <= CACHE_MAX_CHARS) {
      if (this.cache.size >= CACHE_LIMIT) this.cache = new Map();
      // Copy the key out of the text so the cache does not keep whole texts alive.
      this.cache.set((' ' + piece).slice(1), ids);
    }
    return ids;
  }
}

/** sbp's tokenizer trained on a stream of documents. */
export async function trainTokenizer(
  texts: Iterable<string> | AsyncIterable<string>,
  cfg: TokenizerConfig,
  opts: TrainOptions = {},
): Promise<Tokenizer> {
  return (await trainTokenizerWithStats(texts, cfg, opts)).tokenizer;
}

/** Like trainTokenizer, with what the training saw and did. */
export async function trainTokenizerWithStats(
  texts: Iterable<string> | AsyncIterable<string>,
  cfg: TokenizerConfig,
  opts: TrainOptions = {},
): Promise<{ tokenizer: Tokenizer; stats: TrainStats }> {
  const { learned, stats } = await trainBpe(texts, cfg, opts);
  return { tokenizer: Tokenizer.fromMerges(learned, cfg.reservedTokens), stats };
}

/** A growing Uint32Array of ids. */
class IdBuffer {
  private a: Uint32Array;
  private n = 0;
  constructor(capacity: number) {
    this.a = new Uint32Array(capacity);
  }
  push(ids: Uint32Array): void {
    if (this.n + ids.length > this.a.length) this.grow(ids.length);
    if (ids.length === 1) this.a[this.n++] = ids[0]!;
    else {
      this.a.set(ids, this.n);
      this.n += ids.length;
    }
  }
  pushAll(ids: Uint32Array): void {
    this.push(ids);
  }
  private grow(extra: number): void {
    const b = new Uint32Array(Math.max(this.a.length * 2, this.n + extra));
    b.set(this.a.subarray(0, this.n));
    this.a = b;
  }
  finish(): Uint32Array {
    return this.a.slice(0, this.n);
  }
}

function latin1(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('latin1');
}

/** UTF-8 of a JS string into `out` (big enough: 3 bytes per UTF-16 unit); lone surrogates become U+FFFD. Returns the length. */
function utf8Encode(s: string, out: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x80) {
      out[n++] = c;
      continue;
    }
    if (c < 0x800) {
      out[n++] = 0xc0 | (c >> 6);
      out[n++] = 0x80 | (c & 63);
      continue;
    }
    if (c >= 0xd800 && c <= 0xdfff) {
      const d = s.charCodeAt(i + 1);
      if (c <= 0xdbff && d >= 0xdc00 && d <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
        out[n++] = 0xf0 | (c >> 18);
        out[n++] = 0x80 | ((c >> 12) & 63);
        out[n++] = 0x80 | ((c >> 6) & 63);
        out[n++] = 0x80 | (c & 63);
        continue;
      }
      c = 0xfffd;
    }
    out[n++] = 0xe0 | (c >> 12);
    out[n++] = 0x80 | ((c >> 6) & 63);
    out[n++] = 0x80 | (c & 63);
  }
  return n;
}

/** End of the longest valid UTF-8 run starting at `start` (== start when the first byte is invalid). */
function validUtf8Prefix(b: Uint8Array, start: number): number {
  let i = start;
  const n = b.length;
  while (i < n) {
    const c = b[i]!;
    let len: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (c < 0x80) len = 1;
    else if (c >= 0xc2 && c <= 0xdf) len = 2;
    else if (c >= 0xe0 && c <= 0xef) {
      len = 3;
      if (c === 0xe0) lo = 0xa0; // no overlong forms
      if (c === 0xed) hi = 0x9f; // no surrogates
    } else if (c >= 0xf0 && c <= 0xf4) {
      len = 4;
      if (c === 0xf0) lo = 0x90;
      if (c === 0xf4) hi = 0x8f; // nothing above U+10FFFF
    } else return i;
    if (i + len > n) return i;
    if (len > 1 && (b[i + 1]! < lo || b[i + 1]! > hi)) return i;
    for (let k = 2; k < len; k++) if (b[i + k]! < 0x80 || b[i + k]! > 0xbf) return i;
    i += len;
  }
  return i;
}

/** The tokenizer of `tokenizer.json` at `path`, in the form a model folder is saved with (`saveModelFolder`'s `tokenizer`). */
export function tokenizerFiles(path: string): { tokenizer: Tokenizer; source: string } {
  if (!existsSync(path)) throw new UserError(`tokenizer file not found: ${path}`);
  return { tokenizer: Tokenizer.load(path), source: path };
}
