import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SynthesizeConfigSchema } from '../../src/config/schema.js';
import { GOPHER_LIMITS, repetitionStats, repetitionViolation } from '../../src/synth/gopher-repetition.js';
import { seedCopying } from '../../src/synth/seed-copying.js';
import { SynthFilter, trimToLastSentence, type SynthCandidate } from '../../src/synth/synth-filters.js';

/** n distinct words starting at k: "w<k> w<k+1> ...". */
const distinct = (n: number, k = 0) => Array.from({ length: n }, (_, i) => `w${k + i}`).join(' ');

test('Gopher repetition measures on hand-computed texts', () => {
  const close = (a: number, b: number) => Math.abs(a - b) < 1e-12;
  const table: Array<{ text: string; want: Partial<Record<string, number>> }> = [
    { text: 'x\nx\ny', want: { duplicateLineFraction: 1 / 3, duplicateLineCharFraction: 1 / 3 } },
    { text: 'aa\n\nbb\naa\naa', want: { duplicateLineFraction: 2 / 4, duplicateLineCharFraction: 4 / 8 } }, // empty lines do not count
    // "a b" three times: 3 × 2 chars of 6 word chars; "a b a" twice: 2 × 3 / 6; "a b a b" twice: 2 × 4 / 6
    { text: 'a b a b a b', want: { top2: 1, top3: 1, top4: 8 / 6 } },
    // ab..ef twice: the second occurrence of the 5-gram covers 5 of 10 words
    { text: 'ab cd ef gh ij ab cd ef gh ij', want: { dup5: 0.5, dup6: 0, top2: (2 * 4) / 20 } },
    { text: distinct(50), want: { duplicateLineFraction: 0, top2: 0, dup5: 0, dup10: 0 } },
    { text: '', want: { duplicateLineFraction: 0, top2: 0, dup5: 0 } },
  ];
  for (const { text, want } of table) {
    const s = repetitionStats(text);
    const got: Record<string, number> = {
      duplicateLineFraction: s.duplicateLineFraction,
      duplicateLineCharFraction: s.duplicateLineCharFraction,
      top2: s.topNgramCharFraction[0],
      top3: s.topNgramCharFraction[1],
      top4: s.topNgramCharFraction[2],
      dup5: s.duplicateNgramCharFraction[0],
      dup6: s.duplicateNgramCharFraction[1],
      dup10: s.duplicateNgramCharFraction[5],
    };
    for (const [k, v] of Object.entries(want)) assert.ok(close(got[k]!, v!), `${JSON.stringify(text)}: ${k} = ${got[k]}, expected ${v}`);
  }
  assert.equal(repetitionViolation(repetitionStats(distinct(80)), GOPHER_LIMITS), null);
  assert.equal(repetitionViolation(repetitionStats('same line\nsame line\nsame line\nother'), GOPHER_LIMITS), 'duplicate_lines');
  // "abc def" four times: 4 × 6 of 80 + 24 word characters = 0.23 > 0.2
  assert.equal(repetitionViolation(repetitionStats(`${distinct(30)} ${'abc def '.repeat(4)}`), GOPHER_LIMITS), 'top_2gram');
  // The same 20 words twice: the top 4-gram "w16 w17 w18 w19" (2 × 12 of 100 characters) breaks 0.16 first
  assert.equal(repetitionViolation(repetitionStats(`${distinct(20)} ${distinct(20)}`), GOPHER_LIMITS), 'top_4gram');
});

test('seed copying: a shared run of n words is a copy, n - 1 is not', () => {
  const seed = distinct(100);
  const table: Array<[string, number, boolean, number]> = [
    // synthetic text, n, copied, shared n-gram positions
    [`${distinct(29, 10)} ${distinct(40, 500)}`, 30, false, 0],
    [`${distinct(30, 10)} ${distinct(40, 500)}`, 30, true, 1],
    [`${distinct(35, 10)} ${distinct(40, 500)}`, 30, true, 6],
    [distinct(100), 30, true, 71],
    [distinct(100, 1000), 30, false, 0],
    [distinct(10), 30, false, 0], // shorter than n
  ];
  for (const [text, n, copied, shared] of table) {
    const c = seedCopying(text, seed, n);
    assert.equal(c.copied, copied, text.slice(0, 30));
    assert.equal(c.sharedNgrams, shared);
  }
  assert.equal(seedCopying(`${distinct(35, 10)} ${distinct(35, 500)}`, seed, 30).coveredWordFraction, 0.5);
});

test('trim to the last sentence end', () => {
  const table: Array<[string, string | null]> = [
    ['One two. Three four', 'One two.'],
    ['He said "Stop!" and then', 'He said "Stop!"'],
    ['A line\nand a cut', 'A line'],
    ['Is it? Yes. Partial wor', 'Is it? Yes.'],
    ['no end at all', null],
    ['3.14 is pi and', null], // a dot inside a number is no sentence end
    ['Ends cleanly.', 'Ends cleanly.'],
  ];
  for (const [text, want] of table) assert.equal(trimToLastSentence(text), want, text);
});

test('filters: each rule with its counted reason, in order', () => {
  const words = (t: string) => t.split(/\s+/).filter((w) => w.length > 0).length;
  const base = SynthesizeConfigSchema.parse({}).filters;
  const seedText = `${distinct(60, 2000)}.`;
  const ok = `${distinct(40)}.`;
  const table: Array<{ name: string; cfg?: Partial<typeof base>; c: SynthCandidate; want: string; text?: string }> = [
    { name: 'clean document kept', c: { text: ok, tokens: 41, finishReason: 'stop' }, want: 'keep' },
    { name: 'cut off, policy drop', cfg: { cutOff: 'drop' }, c: { text: ok, tokens: 41, finishReason: 'length' }, want: 'cut_off' },
    { name: 'cut off, policy keep', cfg: { cutOff: 'keep' }, c: { text: `${distinct(40, 100)} and`, tokens: 41, finishReason: 'length' }, want: 'keep', text: `${distinct(40, 100)} and` },
    { name: 'cut off, trimmed', c: { text: `${distinct(40, 200)}. ${distinct(5, 300)}`, tokens: 46, finishReason: 'length' }, want: 'keep', text: `${distinct(40, 200)}.` },
    { name: 'cut off, nothing to trim to', c: { text: distinct(40, 400), tokens: 40, finishReason: 'length' }, want: 'cut_off' },
    { name: 'too short after trimming', c: { text: `${distinct(5, 500)}. ${distinct(40, 600)}`, tokens: 46, finishReason: 'length' }, want: 'too_short' },
    { name: 'too short', c: { text: distinct(10, 700), tokens: 10, finishReason: 'stop' }, want: 'too_short' },
    { name: 'empty', cfg: { minTokens: 0 }, c: { text: '  ', tokens: 0, finishReason: 'stop' }, want: 'too_short' },
    { name: 'repetition', c: { text: Array(10).fill('the same line again').join('\n'), tokens: 40, finishReason: 'stop' }, want: 'repetition' },
    { name: 'repetition off', cfg: { repetition: false }, c: { text: Array(10).fill('the same line again').join('\n'), tokens: 40, finishReason: 'stop' }, want: 'keep' },
    { name: 'copying the seed', c: { text: `${distinct(30, 2010)} ${distinct(10, 800)}`, tokens: 40, finishReason: 'stop' }, want: 'copying' },
    { name: 'copying below the run length', c: { text: `${distinct(29, 2010)} ${distinct(10, 900)}`, tokens: 39, finishReason: 'stop' }, want: 'keep' },
    { name: 'exact duplicate of a kept document', c: { text: ok, tokens: 41, finishReason: 'stop' }, want: 'duplicate' },
  ];
  const shared = new SynthFilter(base, words); // one filter through the table, so the duplicate row sees the first
  for (const row of table) {
    const f = row.cfg ? new SynthFilter({ ...base, ...row.cfg }, words) : shared;
    const v = f.check(row.c, seedText);
    assert.equal(v.keep ? 'keep' : v.reason, row.want, row.name);
    if (v.keep && row.text !== undefined) {
      assert.equal(v.text, row.text, row.name);
      assert.equal(v.tokens, words(row.text));
    }
  }
  // Dedup off, and a remembered text (from a finished shard) counts as seen.
  const noDedup = new SynthFilter({ ...base, dedup: false }, words);
  assert.ok(noDedup.check({ text: ok, tokens: 41, finishReason: 'stop' }, seedText).keep);
  assert.ok(noDedup.check({ text: ok, tokens: 41, finishReason: 'stop' }, seedText).keep);
  const resumed = new SynthFilter(base, words);
  resumed.remember(ok);
  assert.deepEqual(resumed.check({ text: ok, tokens: 41, finishReason: 'stop' }, seedText), { keep: false, reason: 'duplicate' });
});
