import { test } from 'node:test';
import assert from 'node:assert/strict';
import { countChars, normalizeText } from '../../src/data/normalize.js';
import { HashSet64 } from '../../src/data/hash-set-64.js';
import { hashText } from '../../src/data/text-hash.js';
import { lengthFilter } from '../../src/data/filters.js';
import { untagBrown } from '../../src/data/sources/brown-source.js';
import { emailText } from '../../src/data/sources/email-text.js';
import { decodeDictdNumber } from '../../src/data/sources/gcide-source.js';
import { decodeUtf8 } from '../../src/data/utf8.js';

const normCases: Array<[string, string, string]> = [
  ['NFC composes accents', 'cafe\u0301', 'caf\u00e9'],
  ['CRLF and CR become LF', 'a\r\nb\rc', 'a\nb\nc'],
  ['form feed, NEL, LS, PS become LF', 'a\fb\u0085c\u2028d\u2029e', 'a\nb\nc\nd\ne'],
  ['C0/C1 controls, DEL and BOM removed, tab kept', '\ufeffa\u0000b\u0007c\u007fd\u0090e\tf', 'abcde\tf'],
  ['Unicode spaces become plain spaces', 'a\u00a0b\u2003c\u3000d', 'a b c d'],
  ['trailing blanks per line removed', 'a  \t\nb \n', 'a\nb'],
  ['blank-line runs collapse to one', 'a\n\n\n\n\nb', 'a\n\nb'],
  ['leading indentation inside kept', 'x\n    code()\n', 'x\n    code()'],
  ['whole document trimmed', '\n\n  hello  \n\n', 'hello'],
  ['lone surrogates repaired', 'a\ud800b\udc00c', 'a\ufffdb\ufffdc'],
  ['valid surrogate pair kept', 'a\ud83d\ude00b', 'a\ud83d\ude00b'],
  ['only whitespace and controls becomes empty', ' \u0001\n\t \u00a0', ''],
];
for (const [name, input, expected] of normCases) {
  test(`normalizeText: ${name}`, () => {
    assert.equal(normalizeText(input), expected);
    assert.equal(normalizeText(expected), expected, 'normalisation is idempotent');
  });
}

test('countChars counts code points, not UTF-16 units', () => {
  const table: Array<[string, number]> = [['', 0], ['abc', 3], ['caf\u00e9', 4], ['\ud83d\ude00x', 2], ['\ud83d\ude00\ud83d\ude00', 2]];
  for (const [s, n] of table) assert.equal(countChars(s), n, JSON.stringify(s));
  for (const [s] of table) assert.equal(countChars(s), [...s].length);
});

test('lengthFilter gives the drop reason by bound (inclusive)', () => {
  const f = lengthFilter(3, 5);
  assert.deepEqual([0, 2, 3, 5, 6].map(f), ['empty', 'too_short', undefined, undefined, 'too_long']);
});

test('decodeUtf8 repairs invalid bytes and says so', () => {
  assert.deepEqual(decodeUtf8(Buffer.from('h\u00e9llo')), { text: 'h\u00e9llo', repaired: false });
  const bad = decodeUtf8(Buffer.from([0x61, 0xff, 0x62, 0xc3]));
  assert.equal(bad.repaired, true);
  assert.equal(bad.text, 'a\ufffdb\ufffd');
});

test('HashSet64 agrees with a Set of strings on random and colliding keys, across growth', () => {
  const set = new HashSet64(16);
  const oracle = new Set<string>();
  let x = 12345;
  const rnd = (): number => (x = (Math.imul(x, 1103515245) + 12345) >>> 0);
  for (let i = 0; i < 20000; i++) {
    // Small ranges force equal keys and equal low halves (probe chains); (0,0) is a real key too.
    const hi = i % 7 === 0 ? 0 : rnd() % 50;
    const lo = i % 11 === 0 ? 0 : rnd() % 300;
    const key = `${hi}:${lo === 0 && hi === 0 ? 1 : lo}`;
    assert.equal(set.add(hi, lo), !oracle.has(key), `add ${hi},${lo}`);
    oracle.add(key);
  }
  assert.equal(set.size, oracle.size);
  assert.equal(set.has(49, 299), oracle.has('49:299'));
  assert.equal(set.has(1000, 1), false);
});

test('split draw: deterministic, salted, and close to the requested fraction', () => {
  const a = hashText('some document', 'seed-a');
  assert.deepEqual(hashText('some document', 'seed-a'), a);
  assert.notEqual(hashText('some document', 'seed-b').draw, a.draw);
  const n = 20000;
  let held = 0;
  for (let i = 0; i < n; i++) if (hashText(`doc ${i}`, 'sbp').draw < 0.1) held++;
  // Binomial(20000, 0.1): sd ≈ 42; 5 sd either side.
  assert.ok(Math.abs(held - 2000) < 212, `held-out count ${held}`);
});

test('untagBrown turns tagged tokens back into text', () => {
  const tagged = "\n\n\tThe/at jury/nn said/vbd ``/`` no/at evidence/nn ''/'' ,/, Atlanta's/np$ (/( sic/rb )/) ./.\n\n\n\tIt/pps ended/vbd ./.\n";
  assert.equal(untagBrown(tagged), 'The jury said "no evidence", Atlanta\'s (sic). It ended.');
});

test('emailText keeps Subject and readable body, decodes QP/base64, drops headers and attachments', () => {
  const plain = 'From: a@b.c\nSubject: Hello there\nReceived: x\n\tcontinued\n\nBody line one.\n';
  assert.equal(emailText(plain), 'Subject: Hello there\n\nBody line one.\n');
  const qp = 'Subject: Q\nContent-Type: text/plain; charset=iso-8859-1\nContent-Transfer-Encoding: quoted-printable\n\nCaf=E9 soft=\nbreak\n';
  assert.equal(emailText(qp), 'Subject: Q\n\nCaf\u00e9 softbreak\n');
  const multi = [
    'Subject: M',
    'Content-Type: multipart/mixed; boundary="XX"',
    '',
    '--XX',
    'Content-Type: multipart/alternative; boundary=YY',
    '',
    '--YY',
    'Content-Type: text/plain',
    'Content-Transfer-Encoding: base64',
    '',
    Buffer.from('plain words').toString('base64'),
    '--YY',
    'Content-Type: text/html',
    '',
    '<p>html &amp; words</p>',
    '--YY--',
    '--XX',
    'Content-Type: application/pdf',
    '',
    'JVBERi0=',
    '--XX--',
  ].join('\n');
  assert.equal(emailText(multi).replace(/\s+/g, ' ').trim(), 'Subject: M plain words');
  const html = 'Subject: H\nContent-Type: text/html\n\n<html><style>p{}</style><b>Hi</b> &lt;you&gt;<br>next</html>';
  assert.equal(normalizeText(emailText(html)), 'Subject: H\n\n Hi <you>\nnext');
});

test('dictd index numbers are big-endian base64', () => {
  const table: Array<[string, number]> = [['A', 0], ['B', 1], ['/', 63], ['BA', 64], ['Bdh', 1 * 4096 + 29 * 64 + 33], ['5I', 57 * 64 + 8]];
  for (const [s, n] of table) assert.equal(decodeDictdNumber(s), n, s);
  assert.throws(() => decodeDictdNumber('a-b'), /not a dictd base64 number/);
});
