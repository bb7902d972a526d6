import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CompletionText } from '../../src/serve/completion-text.js';

const utf8 = new TextEncoder();

/** Tokens are byte strings; this vocabulary splits multi-byte characters across tokens on purpose. */
const VOCAB: Uint8Array[] = [
  utf8.encode('Hello'),
  utf8.encode(' wor'),
  utf8.encode('ld'),
  utf8.encode('\n\n'),
  utf8.encode('END'),
  utf8.encode('E'),
  utf8.encode('ND'),
  Uint8Array.of(0xe6), // first byte of 東 (e6 9d b1)
  Uint8Array.of(0x9d, 0xb1),
  utf8.encode('ü'),
  Uint8Array.of(0xff), // never valid UTF-8
  utf8.encode('x'),
];
const bytesOf = (t: number) => VOCAB[t]!;

function run(tokens: number[], stops: string[]): { pieces: string[]; text: string; stoppedAt: number | null } {
  const c = new CompletionText(bytesOf, stops);
  const pieces: string[] = [];
  for (let i = 0; i < tokens.length; i++) {
    const r = c.push(tokens[i]!);
    pieces.push(r.delta);
    if (r.stopped) return { pieces, text: pieces.join(''), stoppedAt: i };
  }
  pieces.push(c.finish());
  return { pieces, text: pieces.join(''), stoppedAt: null };
}

/** The oracle: decode everything at once, cut at the earliest occurrence of any stop string. */
function oracle(tokens: number[], stops: string[]): { text: string; stoppedAt: number | null } {
  // The stop is reported at the first token after which the decoded prefix contains a stop string.
  for (let i = 0; i < tokens.length; i++) {
    // stream: true leaves a trailing incomplete character out: the text known after token i
    const complete = new TextDecoder().decode(concat(tokens.slice(0, i + 1)), { stream: true });
    const hits = stops.map((s) => complete.indexOf(s)).filter((x) => x >= 0);
    if (hits.length > 0) return { text: complete.slice(0, Math.min(...hits)), stoppedAt: i };
  }
  return { text: new TextDecoder().decode(concat(tokens)), stoppedAt: null };
}

function concat(tokens: number[]): Uint8Array {
  return Uint8Array.from(tokens.flatMap((t) => [...VOCAB[t]!]));
}

test('completion text: table of stop strings and split characters', () => {
  const cases: Array<{ name: string; tokens: number[]; stops: string[]; text: string; stoppedAt: number | null }> = [
    { name: 'no stops', tokens: [0, 1, 2], stops: [], text: 'Hello world', stoppedAt: null },
    { name: 'stop inside one token', tokens: [0, 1, 2, 3, 0], stops: ['\n\n'], text: 'Hello world', stoppedAt: 3 },
    { name: 'stop across tokens', tokens: [0, 5, 6, 0], stops: ['END'], text: 'Hello', stoppedAt: 2 },
    { name: 'partial stop released at the end', tokens: [0, 5], stops: ['END'], text: 'HelloE', stoppedAt: null },
    { name: 'partial stop then mismatch', tokens: [5, 11, 6], stops: ['END'], text: 'ExND', stoppedAt: null },
    { name: 'earliest of two stops wins', tokens: [0, 1, 2, 4], stops: ['END', 'wor'], text: 'Hello ', stoppedAt: 1 },
    { name: 'split UTF-8 character', tokens: [7, 8, 9], stops: [], text: '東ü', stoppedAt: null },
    { name: 'stop string made of a split character', tokens: [0, 7, 8, 0], stops: ['東'], text: 'Hello', stoppedAt: 2 },
    { name: 'invalid byte becomes U+FFFD', tokens: [10, 11], stops: [], text: '\ufffdx', stoppedAt: null },
    { name: 'dangling first byte at the end', tokens: [11, 7], stops: [], text: 'x\ufffd', stoppedAt: null },
  ];
  for (const c of cases) {
    const r = run(c.tokens, c.stops);
    assert.equal(r.text, c.text, c.name);
    assert.equal(r.stoppedAt, c.stoppedAt, c.name);
    assert.ok(r.pieces.every((p) => !p.includes('\ufffd') || c.text.includes('\ufffd')), `${c.name}: no half character is ever emitted`);
  }
});

test('completion text: streamed pieces equal the one-shot decode cut at the first stop (random sequences)', () => {
  let s = 12345;
  const rand = (n: number) => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) >>> 8) % n;
  const stopPool = ['END', 'ld\n', '東', 'oo', 'Hello wor', 'x'];
  for (let trial = 0; trial < 300; trial++) {
    const tokens = Array.from({ length: 1 + rand(14) }, () => rand(VOCAB.length - 1)); // no 0xff: keeps the oracle's decode unambiguous
    const stops = Array.from({ length: rand(3) }, () => stopPool[rand(stopPool.length)]!);
    const want = oracle(tokens, stops);
    const got = run(tokens, stops);
    assert.equal(got.text, want.text, `trial ${trial}: tokens ${tokens} stops ${JSON.stringify(stops)}`);
    assert.equal(got.stoppedAt, want.stoppedAt, `trial ${trial}`);
  }
});

test('completion text: pushing after a stop is a bug', () => {
  const c = new CompletionText(bytesOf, ['Hello']);
  assert.equal(c.push(0).stopped, true);
  assert.throws(() => c.push(1), /after the completion ended/);
  assert.throws(() => new CompletionText(bytesOf, ['']), /must not be empty/);
});
