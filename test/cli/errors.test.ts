import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli, tempDir } from '../helpers.js';

/** One line on stderr, no stack trace, exit 2. */
function assertCleanError(r: ReturnType<typeof runCli>, message: RegExp, what: string): void {
  assert.equal(r.status, 2, `${what}: exit 2 (got ${r.status}, signal ${r.signal}); stderr ${r.stderr}`);
  assert.match(r.stderr, message, what);
  assert.doesNotMatch(r.stderr, /\n\s+at /, `${what}: no stack trace`);
}

test('user mistakes get one line and exit 2, never a stack trace', () => {
  const dir = tempDir();
  const file = join(dir, 'a-file');
  writeFileSync(file, 'x');
  const docs = join(dir, 'docs.jsonl');
  writeFileSync(docs, '{"text": "a document that is long enough to keep"}\n');
  assertCleanError(runCli(['prepare', '--source', `jsonl:${docs}`, '--runs-dir', file, '--quiet']), /^sbp: --runs-dir .*a-file: is a file, not a folder; choose another folder\n$/, 'runs-dir is a file');
  assertCleanError(runCli(['config', 'check', '-c', dir]), /^sbp: .*: is a folder; give a config file \(JSON or YAML\)/, 'config check on a folder');
  assertCleanError(runCli(['tokenizer', 'train', '--vocab-size', '12abc', '--runs-dir', dir]), /^error: option '--vocab-size <n>' argument '12abc' is invalid\. --vocab-size must be a positive whole number, got "12abc"/, '--vocab-size 12abc');
  // Usage errors exit 2 like validation errors.
  assertCleanError(runCli(['train', '--lr', 'abc']), /--lr must be a number > 0/, 'bad flag value');
  assertCleanError(runCli(['train', '--no-such-flag']), /unknown option '--no-such-flag'/, 'unknown option');
  // A --set error names the --set, not the config file.
  const cfg = join(dir, 'cfg.yaml');
  writeFileSync(cfg, 'tokenizer:\n  vocabSize: 4096\n');
  assertCleanError(runCli(['config', 'check', '-c', cfg, '--set', 'tokenizer.vocabSize="big"']), /^sbp: invalid configuration \(--set tokenizer\.vocabSize="big"\):\n  tokenizer\.vocabSize: got "big"/, '--set label');
  // A truncated stage manifest is a clear error too.
  mkdirSync(join(dir, 'r', 'corpus'), { recursive: true });
  writeFileSync(join(dir, 'r', 'corpus', 'manifest.json'), '{"stage": "cor');
  assertCleanError(runCli(['tokenizer', 'train', '--run', 'r', '--runs-dir', dir, '--quiet']), /corpus[\\/]manifest\.json: not valid JSON .*; delete it to redo the stage/, 'truncated manifest');
});

test('a runs folder that cannot be created is refused at once (Node\'s recursive mkdir loops forever under /proc)', () => {
  const dir = tempDir();
  const docs = join(dir, 'docs.jsonl');
  writeFileSync(docs, '{"text": "a document that is long enough to keep"}\n');
  const r = runCli(['prepare', '--source', `jsonl:${docs}`, '--runs-dir', '/proc/sbp-runs', '--quiet'], { timeoutMs: 30_000 });
  assertCleanError(r, /^sbp: --runs-dir \/proc\/sbp-runs: cannot create \/proc\/sbp-runs \(E[A-Z]+\); choose a folder you can write, e.g\. --runs-dir runs\n$/, '--runs-dir /proc');
});
