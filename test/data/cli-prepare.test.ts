import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli, tempDir } from '../helpers.js';

const DOCS = [
  { body: 'The first document is long enough to keep in the corpus.' },
  { body: 'The second document is also long enough to keep around.' },
  { body: 'The first document is long enough to keep in the corpus.' },
  { body: 'short' },
];

function setup(): { dir: string; file: string } {
  const dir = tempDir();
  const file = join(dir, 'docs.jsonl');
  writeFileSync(file, DOCS.map((d) => JSON.stringify(d)).join('\n') + '\n{"body": oops}\n');
  return { dir, file };
}

test('sbp prepare on a small JSONL: shards, stats and a summary', () => {
  const { dir, file } = setup();
  const r = runCli(['prepare', '--source', `jsonl:${file}`, '--text-field', 'body', '--min-chars', '10', '--held-out', '0', '--run', 'cli', '--runs-dir', dir, '--quiet']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /corpus: .*cli[\\/]corpus\n/);
  assert.match(r.stdout, /read {4}5 docs/);
  assert.match(r.stdout, /kept {4}2 docs, .* train 2 \(1 shard\), held-out 0 \(0 shards\)/);
  assert.match(r.stdout, /dropped malformed 1, too_short 1, duplicate 1/);
  assert.match(r.stderr, /docs\.jsonl:5: not valid JSON/);
  const corpus = join(dir, 'cli', 'corpus');
  const lines = readFileSync(join(corpus, 'train-00000.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(lines.map((l) => l.id), ['docs.jsonl:1', 'docs.jsonl:2']);
  const stats = JSON.parse(readFileSync(join(corpus, 'stats.json'), 'utf8'));
  assert.equal(stats.docsOut, 2);
  assert.equal(JSON.parse(readFileSync(join(corpus, 'manifest.json'), 'utf8')).stage, 'corpus');

  const again = runCli(['prepare', '--source', `jsonl:${file}`, '--text-field', 'body', '--min-chars', '10', '--held-out', '0', '--run', 'cli', '--runs-dir', dir, '--quiet']);
  assert.equal(again.status, 0, again.stderr);
  assert.match(again.stdout, /already prepared/);

  const strict = runCli(['prepare', '--source', `jsonl:${file}`, '--text-field', 'body', '--on-malformed', 'fail', '--run', 'cli2', '--runs-dir', dir, '--quiet']);
  assert.equal(strict.status, 2);
  assert.match(strict.stderr, /docs\.jsonl:5: not valid JSON/);
});

const badFlags: Array<[string, string[], RegExp]> = [
  ['held-out out of range', ['--held-out', '0.9'], /--held-out must be a fraction from 0 to 0\.5/],
  ['min-chars not a number', ['--min-chars', 'ten'], /--min-chars must be a whole number/],
  ['on-malformed not a choice', ['--on-malformed', 'ignore'], /--on-malformed.*Allowed choices are skip, fail/],
  ['unknown source', ['--source', 'wiki'], /unknown source "wiki"; use one of jsonl/],
  ['text-field without jsonl', ['--source', 'brown', '--text-field', 'x'], /--text-field applies to --source jsonl/],
  ['missing input file', ['--source', 'jsonl:does-not-exist.jsonl'], /does-not-exist\.jsonl: no such file or folder/],
];
for (const [name, flags, re] of badFlags) {
  test(`sbp prepare with a wrong flag value fails clearly: ${name}`, () => {
    const dir = tempDir();
    const r = runCli(['prepare', ...flags, '--runs-dir', dir, '--quiet'], { cwd: dir });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, re);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  });
}
