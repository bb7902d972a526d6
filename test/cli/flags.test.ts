import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidArgumentError } from 'commander';
import { parseNumberFlag } from '../../src/cli/common.js';
import { runCli } from '../helpers.js';

test('parseNumberFlag accepts values in range and names the flag and range otherwise', () => {
  const table: Array<[Parameters<typeof parseNumberFlag>[1], string, number | RegExp]> = [
    [{ min: 0, max: 1, minOpen: true }, '1', 1],
    [{ min: 0, max: 1, minOpen: true }, '0.25', 0.25],
    [{ min: 0, max: 1, minOpen: true }, '0', /--x must be a number in \(0, 1\], got "0"/],
    [{ min: 0, max: 1, minOpen: true, maxOpen: true }, '1', /in \(0, 1\)/],
    [{ min: 0 }, '0', 0],
    [{ min: 0 }, '-1e-9', /--x must be a number >= 0, got "-1e-9"/],
    [{ min: 0, minOpen: true }, '0', /a number > 0/],
    [{ max: 5, maxOpen: true }, '5', /a number < 5/],
    [{ min: 0, integer: true }, '2.5', /--x must be a whole number >= 0/],
    [{ min: 0, max: 65_535, integer: true }, '65535', 65_535],
    [{}, '', /--x must be a number, got ""/],
    [{}, 'abc', /got "abc"/],
    [{}, 'Infinity', /got "Infinity"/],
    [{}, '-3', -3],
  ];
  for (const [range, input, want] of table) {
    const parse = parseNumberFlag('--x', range);
    if (typeof want === 'number') assert.equal(parse(input), want, `${JSON.stringify(range)} ${input}`);
    else assert.throws(() => parse(input), (err: unknown) => err instanceof InvalidArgumentError && want.test(err.message), `${JSON.stringify(range)} ${input}`);
  }
});

test('a bad numeric flag is a one-line usage error, not a stack trace, on every command that takes one', () => {
  const cases: Array<[string[], RegExp]> = [
    [['tune', '--lr', 'abc'], /--lr must be a number > 0, got "abc"/],
    [['tune', '--d1-fraction', '1'], /--d1-fraction must be a number in \(0, 1\), got "1"/],
    [['train', '--lr', '0'], /--lr must be a number > 0, got "0"/],
    [['synthesize', '--top-p', '2'], /--top-p must be a number in \(0, 1\], got "2"/],
    [['sample', '--top-k', '1.5'], /--top-k must be a whole number >= 0, got "1.5"/],
    [['eval', '--cloze', '-1'], /--cloze must be a whole number >= 0, got "-1"/],
  ];
  for (const [args, message] of cases) {
    const r = runCli(args);
    assert.notEqual(r.status, 0, args.join(' '));
    assert.match(r.stderr, message, args.join(' '));
    assert.doesNotMatch(r.stderr, /\n\s+at /, `${args.join(' ')}: no stack trace`);
  }
});
