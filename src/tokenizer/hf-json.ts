import { UserError } from '../common/errors.js';
import { BYTE_TO_CHAR, byteLevelToBytes, bytesToByteLevel } from './byte-level.js';
import { compileOnigPattern, PreTokenizer, SBP_SPLIT_PATTERN, GPT2_SPLIT_PATTERN, type PreTokenizerStep } from './pre-tokenizer.js';

/** A byte-level BPE model as read from, or written to, a Hugging Face `tokenizer.json`. */
export interface BpeFile {
  tokens: Array<Uint8Array | undefined>; // (vocab) bytes of each id; undefined where a file skips an id
  byteToId: Int32Array; // (256)
  left: Int32Array; // (merges) in rank order
  right: Int32Array; // (merges)
  result: Int32Array; // (merges)
  preTokenizer: PreTokenizer;
  /** The `pre_tokenizer` JSON the steps came from (written back unchanged on save). */
  preTokenizerJson: unknown;
  normalization?: 'NFC' | 'NFD' | 'NFKC' | 'NFKD';
  ignoreMerges: boolean; // Llama-3 style: a pre-token that is itself in the vocabulary is one token
  /** Token texts that are declared special or added in the file (bos, eos, ... are looked up here and in the vocab). */
  namedTokens: Map<string, number>;
}

/** sbp's `pre_tokenizer`: its split regex, then bytes mapped to the byte-level alphabet. */
export function sbpPreTokenizerJson(): unknown {
  return {
    type: 'Sequence',
    pretokenizers: [
      { type: 'Split', pattern: { Regex: SBP_SPLIT_PATTERN }, behavior: 'Isolated', invert: false },
      { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false },
    ],
  };
}

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function escapeRegex(s: string): string {
  return s.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&');
}

/** Reads the `pre_tokenizer` section into steps; throws UserError for what cannot be reproduced. */
function parsePreTokenizer(node: unknown, origin: string): PreTokenizerStep[] {
  const where = `${origin}: pre_tokenizer`;
  if (!isObject(node)) throw new UserError(`${where} is missing; a byte-level BPE file needs a ByteLevel pre-tokenizer`);
  const list = node.type === 'Sequence' ? node.pretokenizers : [node];
  if (!Array.isArray(list)) throw new UserError(`${where}: a Sequence needs a "pretokenizers" array`);
  const steps: PreTokenizerStep[] = [];
  list.forEach((s: unknown, i) => {
    const at = `${where}[${i}]`;
    if (!isObject(s)) throw new UserError(`${at} is not an object`);
    if (steps.some((x) => x.kind === 'byte-level')) throw new UserError(`${at}: sbp supports ByteLevel only as the last pre-tokenizer`);
    switch (s.type) {
      case 'ByteLevel':
        steps.push({
          kind: 'byte-level',
          addPrefixSpace: s.add_prefix_space === true,
          regex: s.use_regex === false ? undefined : compileOnigPattern(GPT2_SPLIT_PATTERN, at),
        });
        break;
      case 'Split': {
        if (s.behavior !== 'Isolated' || s.invert === true) {
          throw new UserError(`${at}: Split with behavior ${JSON.stringify(s.behavior)}${s.invert ? ' and invert' : ''} is not supported (only "Isolated", not inverted, keeps every byte)`);
        }
        const p = s.pattern;
        let pattern: string;
        if (isObject(p) && typeof p.Regex === 'string') pattern = p.Regex;
        else if (isObject(p) && typeof p.String === 'string') pattern = escapeRegex(p.String);
        else throw new UserError(`${at}: pattern must be {"Regex": ...} or {"String": ...}`);
        steps.push({ kind: 'split', pattern, regex: compileOnigPattern(pattern, at) });
        break;
      }
      case 'Digits': {
        const pattern = s.individual_digits === true ? '\\p{N}' : '\\p{N}+';
        steps.push({ kind: 'split', pattern, regex: compileOnigPattern(pattern, at) });
        break;
      }
      default:
        throw new UserError(`${at}: pre-tokenizer type ${JSON.stringify(s.type)} is not supported; sbp reads ByteLevel, Split (Isolated) and Digits`);
    }
  });
  if (!steps.some((x) => x.kind === 'byte-level')) throw new UserError(`${where} has no ByteLevel step: not a byte-level BPE tokenizer`);
  return steps;
}

function parseNormalizer(node: unknown, origin: string): BpeFile['normalization'] {
  if (node === null || node === undefined) return undefined;
  if (isObject(node) && typeof node.type === 'string' && ['NFC', 'NFD', 'NFKC', 'NFKD'].includes(node.type)) return node.type as BpeFile['normalization'];
  const type = isObject(node) ? JSON.stringify(node.type) : JSON.stringify(node);
  throw new UserError(`${origin}: normalizer ${type} is not supported (sbp reads none, NFC, NFD, NFKC or NFKD)`);
}

/** Parses a Hugging Face `tokenizer.json` holding a byte-level BPE model. */
export function parseHFTokenizerJson(obj: unknown, origin: string): BpeFile {
  if (!isObject(obj)) throw new UserError(`${origin}: not a tokenizer.json (expected a JSON object)`);
  const model = obj.model;
  if (!isObject(model)) throw new UserError(`${origin}: no "model" object; is this a Hugging Face tokenizer.json?`);
  if (model.type !== undefined && model.type !== 'BPE') throw new UserError(`${origin}: model.type is ${JSON.stringify(model.type)}; sbp loads byte-level BPE models only`);
  if (typeof model.dropout === 'number' && model.dropout > 0) throw new UserError(`${origin}: model.dropout is ${model.dropout}; BPE dropout makes encoding random, set it to null`);
  for (const f of ['continuing_subword_prefix', 'end_of_word_suffix'] as const) {
    if (typeof model[f] === 'string' && model[f] !== '') throw new UserError(`${origin}: model.${f} is set; byte-level BPE files do not use it`);
  }
  if (model.byte_fallback === true) throw new UserError(`${origin}: model.byte_fallback is true; that is a SentencePiece-style model, not byte-level BPE`);
  const vocab = model.vocab;
  if (!isObject(vocab)) throw new UserError(`${origin}: model.vocab must be an object of token → id`);
  const rawMerges = model.merges;
  if (!Array.isArray(rawMerges)) throw new UserError(`${origin}: model.merges must be an array`);

  const tokens: Array<Uint8Array | undefined> = [];
  const utf8 = new TextEncoder();
  for (const [text, id] of Object.entries(vocab)) {
    if (!Number.isInteger(id) || (id as number) < 0 || (id as number) > 1 << 24) throw new UserError(`${origin}: model.vocab[${JSON.stringify(text)}] = ${JSON.stringify(id)} is not a valid id`);
    tokens[id as number] = byteLevelToBytes(text) ?? utf8.encode(text);
  }
  const namedTokens = new Map<string, number>();
  const added = obj.added_tokens ?? [];
  if (!Array.isArray(added)) throw new UserError(`${origin}: added_tokens must be an array`);
  added.forEach((t: unknown, i) => {
    if (!isObject(t) || !Number.isInteger(t.id) || typeof t.content !== 'string') throw new UserError(`${origin}: added_tokens[${i}] needs an integer "id" and a string "content"`);
    tokens[t.id as number] = utf8.encode(t.content);
    namedTokens.set(t.content, t.id as number);
  });

  const byteToId = new Int32Array(256);
  for (let b = 0; b < 256; b++) {
    const id = vocab[BYTE_TO_CHAR[b]!];
    if (typeof id !== 'number') {
      throw new UserError(`${origin}: model.vocab has no token for byte 0x${b.toString(16).padStart(2, '0')} (${JSON.stringify(BYTE_TO_CHAR[b])}); not a byte-level BPE vocabulary`);
    }
    byteToId[b] = id;
  }

  const n = rawMerges.length;
  const left = new Int32Array(n);
  const right = new Int32Array(n);
  const result = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const m = rawMerges[i];
    let l: unknown;
    let r: unknown;
    if (typeof m === 'string') {
      const sp = m.indexOf(' ');
      if (sp <= 0 || m.indexOf(' ', sp + 1) >= 0) throw new UserError(`${origin}: model.merges[${i}] = ${JSON.stringify(m)} is not "left right"`);
      l = m.slice(0, sp);
      r = m.slice(sp + 1);
    } else if (Array.isArray(m) && m.length === 2) [l, r] = m;
    if (typeof l !== 'string' || typeof r !== 'string') throw new UserError(`${origin}: model.merges[${i}] must be "left right" or ["left", "right"]`);
    const li = vocab[l];
    const ri = vocab[r];
    const ci = vocab[l + r];
    if (typeof li !== 'number' || typeof ri !== 'number' || typeof ci !== 'number') {
      throw new UserError(`${origin}: model.merges[${i}] (${JSON.stringify(l)} + ${JSON.stringify(r)}) uses or makes a token missing from model.vocab`);
    }
    left[i] = li;
    right[i] = ri;
    result[i] = ci;
  }

  return {
    tokens,
    byteToId,
    left,
    right,
    result,
    preTokenizer: new PreTokenizer(parsePreTokenizer(obj.pre_tokenizer, origin)),
    preTokenizerJson: obj.pre_tokenizer,
    normalization: parseNormalizer(obj.normalizer, origin),
    ignoreMerges: model.ignore_merges === true,
    namedTokens,
  };
}

/** A special token as `tokenizer.json` lists it in `added_tokens`. */
export interface AddedToken {
  id: number;
  content: string;
}

/**
 * Writes a byte-level BPE model as a `tokenizer.json`. Every id, special tokens included, is in
 * `model.vocab`. The special tokens are also listed in `added_tokens` (same ids, `special: true`), so
 * Hugging Face tokenizers — and the servers built on them, vLLM and SGLang — turn their exact texts
 * in a prompt into the special ids and drop them on `decode(skip_special_tokens=True)`, as `sbp serve`
 * does. The `post_processor` puts `bos` in front of every encoded text, as sbp frames documents in
 * training (`encode(text, add_special_tokens=False)` leaves it out). sbp's own `Tokenizer.encode`
 * keeps its contract: document text is encoded as plain text, special texts included.
 */
export function toHFTokenizerJson(file: Omit<BpeFile, 'preTokenizer' | 'namedTokens' | 'byteToId'>, origin = 'tokenizer', special: { bos?: AddedToken; added?: readonly AddedToken[] } = {}): unknown {
  const vocab: Record<string, number> = {};
  const strings: string[] = [];
  file.tokens.forEach((bytes, id) => {
    if (!bytes) return;
    const s = bytesToByteLevel(bytes);
    if (Object.prototype.hasOwnProperty.call(vocab, s)) throw new UserError(`${origin}: ids ${vocab[s]} and ${id} have the same bytes; a tokenizer.json cannot hold both`);
    vocab[s] = id;
    strings[id] = s;
  });
  const merges: string[] = [];
  for (let i = 0; i < file.left.length; i++) merges.push(`${strings[file.left[i]!]} ${strings[file.right[i]!]}`);
  const seen = new Set<number>();
  const added = (special.added ?? [])
    .filter((t) => !seen.has(t.id) && seen.add(t.id))
    .map((t) => ({ id: t.id, content: t.content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }));
  const bos = special.bos;
  const postProcessor = bos
    ? {
        type: 'TemplateProcessing',
        single: [{ SpecialToken: { id: bos.content, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
        pair: [{ SpecialToken: { id: bos.content, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: bos.content, type_id: 1 } }, { Sequence: { id: 'B', type_id: 1 } }],
        special_tokens: { [bos.content]: { id: bos.content, ids: [bos.id], tokens: [bos.content] } },
      }
    : null;
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: added,
    normalizer: file.normalization ? { type: file.normalization } : null,
    pre_tokenizer: file.preTokenizerJson,
    post_processor: postProcessor,
    decoder: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: false },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: file.ignoreMerges,
      vocab,
      merges,
    },
  };
}
