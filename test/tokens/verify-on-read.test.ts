import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../../src/common/errors.js';
import { TokenShardReader } from '../../src/tokens/shard-reader.js';
import { TokenShardWriter } from '../../src/tokens/shard-writer.js';
import { TokenDataset } from '../../src/tokens/token-dataset.js';
import { tempDir } from '../helpers.js';

/** One shard of 50 documents of 20 tokens each, ids < 1000 (uint16). */
function writeShard(dir: string): string {
  const path = join(dir, 'train-00000.tok');
  const w = new TokenShardWriter(path, { vocabSize: 1000 });
  for (let d = 0; d < 50; d++) w.addDocument(`d${d}`, Array.from({ length: 20 }, (_, t) => (d * 7 + t) % 1000));
  w.close();
  return path;
}

/** Overwrites token `k` of the shard with `value` (little-endian uint16), leaving every checksum as it was. */
function setToken(path: string, k: number, value: number): void {
  const r = TokenShardReader.open(path);
  const at = r.header.tokensOffset + 2 * k;
  r.close();
  const fd = openSync(path, 'r+');
  const b = Buffer.alloc(2);
  b.writeUInt16LE(value);
  writeSync(fd, b, 0, 2, at);
  closeSync(fd);
}

test('a changed token id inside the vocabulary is caught when a stage opens the shard (tokens CRC), naming the shard and sbp tokenize --force', () => {
  const dir = tempDir();
  const path = writeShard(dir);
  TokenDataset.open(dir, 'train').close();
  setToken(path, 123, 5);
  assert.throws(
    () => TokenDataset.open(dir, 'train'),
    (err: unknown) => err instanceof UserError && err.message === `${path}: tokens checksum mismatch: the token data is corrupt; rerun \`sbp tokenize --force\` to rewrite the token shards`,
  );
});

test('a token id outside the vocabulary is a UserError naming the shard and the token, not a RangeError in the model', () => {
  const dir = tempDir();
  const path = writeShard(dir);
  setToken(path, 77, 60_000);
  assert.throws(
    () => TokenDataset.open(dir, 'train'),
    (err: unknown) => err instanceof UserError && err.message === `${path}: token 77 is 60000, outside the vocabulary of 1000; rerun \`sbp tokenize --force\` to rewrite the token shards`,
  );
});

test('each shard is verified once per process: a second open does not read the tokens again, a rewritten shard is checked again', () => {
  const dir = tempDir();
  const path = writeShard(dir);
  const original = TokenShardReader.prototype.verify;
  let calls = 0;
  TokenShardReader.prototype.verify = function (this: TokenShardReader, ...args: Parameters<typeof original>) {
    calls++;
    return original.apply(this, args);
  };
  try {
    TokenDataset.open(dir, 'train').close();
    TokenDataset.open(dir, 'train').close();
    assert.equal(calls, 1);
    writeShard(dir); // rewritten: new mtime
    const later = Date.now() + 5;
    while (Date.now() < later); // mtime resolution
    writeShard(dir);
    TokenDataset.open(dir, 'train').close();
    assert.equal(calls, 2);
    TokenDataset.open(dir, 'train', { verify: false }).close();
    assert.equal(calls, 2);
  } finally {
    TokenShardReader.prototype.verify = original;
  }
  assert.ok(path);
});
