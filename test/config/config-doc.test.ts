import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot, runCli } from '../helpers.js';
import { defaultConfigBlock, replaceDefaultsBlock } from './config-doc.js';

test('docs/config.md lists the current defaults (regenerate with npx tsx scripts/gen-config-doc.ts)', () => {
  const doc = readFileSync(join(repoRoot, 'docs/config.md'), 'utf8');
  assert.equal(replaceDefaultsBlock(doc, defaultConfigBlock()), doc);
});

test('sbp config show prints the resolved config; check names a wrong field', () => {
  const show = runCli(['config', 'show', '--json', '--set', 'tokenizer.vocabSize=4096']);
  assert.equal(show.status, 0, show.stderr);
  assert.equal(JSON.parse(show.stdout).tokenizer.vocabSize, 4096);
  const bad = runCli(['config', 'check', '--set', 'train.lr="fast"']);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /train\.lr: got "fast"/);
});
