import { UserError } from '../common/errors.js';

/**
 * Pre-tokenization: the text is cut into pieces by a regex before BPE runs inside each piece, so
 * no token spans a word boundary. The same pattern string is written into `tokenizer.json`
 * (a `Split` pre-tokenizer, read by Oniguruma in the Hugging Face library) and compiled here as a
 * JavaScript regex, so both engines must read it alike. That is why whitespace is spelled out as
 * the Unicode White_Space set instead of `\s`, whose meaning differs between the two engines
 * (JavaScript counts U+FEFF and not U+0085; Oniguruma the reverse).
 */
export const WHITESPACE_CLASS_BODY = '\\t\\n\\v\\f\\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000';

const WS = WHITESPACE_CLASS_BODY;

/**
 * sbp's split pattern, GPT-4 style: English contractions; a word with at most one leading
 * non-letter (so " the" and "(the" are one piece); digits in groups of at most three; runs of
 * punctuation with an optional leading space and trailing newlines; newline runs; spaces, where
 * the last space before a word is left to that word.
 */
export const SBP_SPLIT_PATTERN =
  `'(?:[sSdDmMtT]|[lL][lL]|[vV][eE]|[rR][eE])` +
  `|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+` +
  `|\\p{N}{1,3}` +
  `| ?[^${WS}\\p{L}\\p{N}]+[\\r\\n]*` +
  `|[${WS}]*[\\r\\n]+` +
  `|[${WS}]+(?![^${WS}])` +
  `|[${WS}]+`;

/** The regex the Hugging Face `ByteLevel` pre-tokenizer uses when `use_regex` is true (GPT-2's). */
export const GPT2_SPLIT_PATTERN = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

const REGEX_SYNTAX = new Set('^$\\.*+?()[]{}|/-');

/**
 * Rewrites an Oniguruma pattern (as found in `tokenizer.json`) as JavaScript regex source for the
 * `u` flag. Handles what byte-level BPE files use: `\s`/`\S` (as the White_Space set), `(?i:...)`
 * groups of plain letters, `\x{HH}`. Anything it cannot translate faithfully is a UserError.
 */
export function onigToJsPattern(pattern: string, origin: string): string {
  const unsupported = (what: string): never => {
    throw new UserError(`${origin}: the pre-tokenizer regex uses ${what}, which sbp cannot reproduce exactly; pattern: ${JSON.stringify(pattern)}`);
  };
  let out = '';
  let inClass = false;
  // Paren depth at which each open (?i: group started; letters inside match either case.
  const caseless: number[] = [];
  let depth = 0;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '\\') {
      const n = pattern[i + 1];
      if (n === undefined) unsupported('a trailing backslash');
      i++;
      if (n === 's') out += inClass ? WS : `[${WS}]`;
      else if (n === 'S') {
        if (inClass) unsupported('\\S inside a character class');
        out += `[^${WS}]`;
      } else if (n === 'p' || n === 'P') {
        const close = pattern.indexOf('}', i);
        if (pattern[i + 1] !== '{' || close < 0) unsupported(`\\${n} without {…}`);
        out += pattern.slice(i - 1, close + 1);
        i = close;
      } else if (n === 'x' && pattern[i + 1] === '{') {
        const close = pattern.indexOf('}', i);
        out += `\\u{${pattern.slice(i + 2, close)}}`;
        i = close;
      } else if (n === 'u' || n === 'x') {
        out += `\\${n}`;
      } else if ('rntfv0'.includes(n!)) out += `\\${n}`;
      else if (/[A-Za-z0-9]/.test(n!)) unsupported(`the escape \\${n}`);
      else out += REGEX_SYNTAX.has(n!) ? `\\${n}` : n;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      out += c;
      continue;
    }
    if (c === '[') {
      inClass = true;
      out += c;
      if (pattern[i + 1] === '^') out += pattern[++i];
      continue;
    }
    if (c === '(') {
      depth++;
      if (pattern.startsWith('(?i:', i)) {
        caseless.push(depth);
        out += '(?:';
        i += 3;
        continue;
      }
      if (pattern.startsWith('(?>', i)) unsupported('an atomic group (?>…)');
      if (/^\(\?[imx-]+[:)]/.test(pattern.slice(i, i + 8))) unsupported('inline flags other than a (?i:…) group');
      out += c;
      continue;
    }
    if (c === ')') {
      if (caseless[caseless.length - 1] === depth) caseless.pop();
      depth--;
      out += c;
      continue;
    }
    if ((c === '+' || c === '*' || c === '?' || c === '}') && pattern[i + 1] === '+') unsupported('a possessive quantifier');
    if (caseless.length > 0 && /[A-Za-z]/.test(c)) {
      out += `[${c.toLowerCase()}${c.toUpperCase()}]`;
      continue;
    }
    out += c;
  }
  return out;
}

export function compileOnigPattern(pattern: string, origin: string): RegExp {
  const source = onigToJsPattern(pattern, origin);
  try {
    return new RegExp(source, 'gu');
  } catch (err) {
    throw new UserError(`${origin}: cannot compile the pre-tokenizer regex ${JSON.stringify(pattern)}: ${(err as Error).message}`);
  }
}

/** One step of a pre-tokenizer pipeline, as found in `tokenizer.json`. */
export type PreTokenizerStep =
  | { kind: 'split'; pattern: string; regex: RegExp } // Split, behaviour Isolated: matches and the gaps between them
  | { kind: 'byte-level'; addPrefixSpace: boolean; regex?: RegExp }; // ByteLevel; the regex when use_regex

/**
 * A pipeline of splitting steps. Each step cuts every piece of the previous step further; the
 * result is the list of pieces BPE runs on. `forEachPiece` calls back with each piece in order;
 * when no prefix space is added, the pieces concatenate back to the text.
 */
export class PreTokenizer {
  constructor(readonly steps: readonly PreTokenizerStep[]) {}

  /** sbp's own pre-tokenizer: one Split with SBP_SPLIT_PATTERN. */
  static sbp(): PreTokenizer {
    return new PreTokenizer([{ kind: 'split', pattern: SBP_SPLIT_PATTERN, regex: compileOnigPattern(SBP_SPLIT_PATTERN, 'sbp') }]);
  }

  /** True when the pieces always concatenate back to the input (no prefix space is inserted). */
  get lossless(): boolean {
    return this.steps.every((s) => s.kind !== 'byte-level' || !s.addPrefixSpace);
  }

  forEachPiece(text: string, fn: (piece: string) => void): void {
    this.run(text, 0, fn);
  }

  private run(text: string, stepIndex: number, fn: (piece: string) => void): void {
    if (text.length === 0) return;
    if (stepIndex === this.steps.length) {
      fn(text);
      return;
    }
    const step = this.steps[stepIndex]!;
    const next = stepIndex + 1;
    if (step.kind === 'byte-level') {
      const t = step.addPrefixSpace && text[0] !== ' ' ? ` ${text}` : text;
      if (step.regex) splitIsolated(t, step.regex, (p) => this.run(p, next, fn));
      else this.run(t, next, fn);
      return;
    }
    if (next === this.steps.length) splitIsolated(text, step.regex, fn);
    else splitIsolated(text, step.regex, (p) => this.run(p, next, fn));
  }
}

/** Calls fn with every match of `re` and every non-empty gap between matches, in order. */
export function splitIsolated(text: string, re: RegExp, fn: (piece: string) => void): void {
  re.lastIndex = 0;
  let last = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) {
    const start = m.index;
    const s = m[0];
    if (s.length === 0) {
      // An empty match splits nothing; step over one code point so the scan moves on.
      re.lastIndex = start + ((text.codePointAt(start) ?? 0) > 0xffff ? 2 : 1);
      continue;
    }
    if (start > last) fn(text.slice(last, start));
    fn(s);
    last = start + s.length;
  }
  if (last < text.length) fn(text.slice(last));
}
