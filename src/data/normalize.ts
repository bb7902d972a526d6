/**
 * Text normalisation applied to every document before filtering, dedup and the split, so that two
 * documents that differ only in encoding details count as duplicates and hash to the same split.
 *
 * - lone UTF-16 surrogates (possible from JSON `\ud800` escapes) become U+FFFD, so output is valid UTF-8;
 * - Unicode NFC (composed accents: "e\u0301" and "\u00e9" are the same text);
 * - line ends \r\n, \r, NEL, LS, PS, vertical tab and form feed become \n;
 * - other control characters (C0 except tab and newline, DEL, C1) and the BOM are removed;
 * - Unicode space separators (no-break space, em space, ...) become a plain space;
 * - trailing spaces and tabs on each line are removed, runs of blank lines become one blank line,
 *   and the document is trimmed. Leading indentation inside the text is kept: code, man pages and
 *   reStructuredText depend on it.
 */
export function normalizeText(raw: string): string {
  let s = raw.replace(LONE_SURROGATES, '\ufffd');
  s = s.normalize('NFC');
  s = s.replace(LINE_BREAKS, '\n');
  s = s.replace(CONTROL_CHARS, '');
  s = s.replace(SPACE_SEPARATORS, ' ');
  s = s.replace(TRAILING_BLANKS, '');
  s = s.replace(BLANK_LINE_RUNS, '\n\n');
  return s.trim();
}

const LONE_SURROGATES = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
const LINE_BREAKS = /\r\n|[\r\u000b\u000c\u0085\u2028\u2029]/g;
// eslint-disable-next-line no-control-regex
const CONTROL_CHARS = /[\u0000-\u0008\u000e-\u001f\u007f-\u009f\ufeff]/g;
const SPACE_SEPARATORS = /[\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000]/g;
const TRAILING_BLANKS = /[ \t]+$/gm;
const BLANK_LINE_RUNS = /\n{3,}/g;

/** Length in Unicode code points (what stats and the length filters call "characters"). */
export function countChars(text: string): number {
  let n = text.length;
  // Only astral characters (emoji, rare CJK) take two UTF-16 units; skip the scan for plain text.
  if (!HAS_SURROGATE.test(text)) return n;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n--;
        i++;
      }
    }
  }
  return n;
}
const HAS_SURROGATE = /[\ud800-\udbff]/;
