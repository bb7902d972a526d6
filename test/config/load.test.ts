import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { resolveConfig } from '../../src/config/load.js';
import { UserError } from '../../src/common/errors.js';
import { tempDir } from '../helpers.js';

test('defaults resolve from an empty config', () => {
  const cfg = resolveConfig();
  assert.equal(cfg.name, 'default');
  assert.equal(cfg.tokenizer.vocabSize, 16384);
  assert.deepEqual(cfg.prepare.sources, [{ kind: 'brown' }]);
});

test('YAML file + --set overrides, later wins', () => {
  const dir = tempDir();
  const f = join(dir, 'c.yaml');
  writeFileSync(f, 'name: exp1\ntokenizer:\n  vocabSize: 4096\n');
  const cfg = resolveConfig({ file: f, sets: ['tokenizer.minFrequency=3', 'prepare.heldOutFraction=0.1'] });
  assert.equal(cfg.name, 'exp1');
  assert.equal(cfg.tokenizer.vocabSize, 4096);
  assert.equal(cfg.tokenizer.minFrequency, 3);
  assert.equal(cfg.prepare.heldOutFraction, 0.1);
});

const bad: Array<[string, string[], RegExp]> = [
  ['wrong type names field and value', ['tokenizer.vocabSize="big"'], /tokenizer\.vocabSize: got "big"/],
  ['out of range', ['prepare.heldOutFraction=0.9'], /prepare\.heldOutFraction: got 0\.9; .*0\.5/],
  ['bad enum lists allowed values', ['prepare.onMalformed="ignore"'], /prepare\.onMalformed: got "ignore"; one of "skip", "fail"/],
  ['unknown field is named', ['tokenizer.vocab=5'], /tokenizer: unknown field\(s\) "vocab"/],
  ['unknown source kind', ['prepare.sources=[{"kind":"wiki"}]'], /prepare\.sources\.0\.kind: .*"jsonl"/],
];
for (const [name, sets, re] of bad) {
  test(`config error: ${name}`, () => {
    assert.throws(() => resolveConfig({ sets }), (err: unknown) => err instanceof UserError && re.test(err.message));
  });
}

test('syntax errors name file and line', () => {
  const dir = tempDir();
  const y = join(dir, 'bad.yaml');
  writeFileSync(y, 'name: a\ntokenizer:\n  vocabSize: [1, 2\n');
  assert.throws(() => resolveConfig({ file: y }), /bad\.yaml:\d+: invalid YAML/);
  const j = join(dir, 'bad.json');
  writeFileSync(j, '{\n  "name": "a",\n  "seed": ,\n}\n');
  assert.throws(() => resolveConfig({ file: j }), /bad\.json(:3)?: invalid JSON/);
  assert.throws(() => resolveConfig({ file: join(dir, 'none.json') }), /config file not found/);
});
