import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli, tempDir } from '../helpers.js';
import { writeFixtureRun } from './fixture-run.js';

test('sbp report writes report.html and lists the sections not run yet', () => {
  const runs = tempDir('sbp-report-cli-');
  writeFixtureRun(join(runs, 'partial'), ['corpus', 'tokenizer', 'tokens', 'pairs']);
  const r = runCli(['report', '--run', 'partial', '--runs-dir', runs]);
  assert.equal(r.status, 0, r.stderr);
  const path = join(runs, 'partial', 'report.html');
  assert.equal(r.stdout, `report: ${path}\n  not run yet: plan, synthesizer, synthesis, training, results, quality\n`);
  assert.match(readFileSync(path, 'utf8'), /<section id="pairs" data-status="ready">/);
  assert.ok(!existsSync(join(runs, 'partial', 'config.json')), 'the report does not rewrite the run config');
});

test('sbp report on a run that does not exist is a user error, and creates nothing', () => {
  const runs = tempDir('sbp-report-cli-');
  const r = runCli(['report', '--run', 'typo', '--runs-dir', runs]);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--run typo: no run folder .*typo; check the name/);
  assert.ok(!existsSync(join(runs, 'typo')));
});
