import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync, truncateSync, appendFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { crc32 } from 'node:zlib';
import { TokenShardWriter } from '../../src/tokens/shard-writer.js';
import { TokenShardReader } from '../../src/tokens/shard-reader.js';
import { SHARD_HEADER_BYTES, dtypeForVocab, encodeShardHeader, decodeShardHeader, isHeaderProblem } from '../../src/tokens/shard-format.js';
import { UserError } from '../../src/common/errors.js';
import { KeyedRandom } from '../../src/tokens/keyed-random.js';
import { tempDir, repoRoot } from '../helpers.js';

type Doc = { id: string; tokens: number[] };

function randomDocs(n: number, vocab: number, maxLen: number, seed: number): Doc[] {
  const rng = new KeyedRandom(seed);
  return Array.from({ length: n }, (_, i) => ({
    id: `doc-${i}-${'é✓'.repeat(i % 3)}`, // non-ASCII ids exercise the UTF-8 id table
    tokens: Array.from({ length: rng.below(maxLen + 1) }, () => rng.below(vocab)),
  }));
}

function writeShard(path: string, vocabSize: number, docs: Doc[], bufferBytes?: number) {
  const w = new TokenShardWriter(path, { vocabSize, bufferBytes });
  for (const d of docs) w.addDocument(d.id, Uint32Array.from(d.tokens));
  return w.close();
}

function assertSameDocs(r: TokenShardReader, docs: Doc[]): void {
  assert.equal(r.numDocs, docs.length);
  assert.equal(r.numTokens, docs.reduce((s, d) => s + d.tokens.length, 0));
  for (let i = 0; i < docs.length; i++) {
    assert.deepEqual(Array.from(r.doc(i)), docs[i]!.tokens, `doc ${i}`);
    assert.equal(r.docId(i), docs[i]!.id);
    assert.equal(r.docLength(i), docs[i]!.tokens.length);
  }
}

test('dtype follows the vocabulary: u16 up to 65536 ids, u32 beyond', () => {
  const table: Array<[number, string]> = [[1, 'u16'], [256, 'u16'], [65_535, 'u16'], [65_536, 'u16'], [65_537, 'u32'], [200_000, 'u32']];
  for (const [vocab, dtype] of table) assert.equal(dtypeForVocab(vocab), dtype, `vocab ${vocab}`);
  assert.throws(() => dtypeForVocab(0), RangeError);
});

const roundTrips: Array<{ name: string; vocab: number; docs: Doc[]; bufferBytes?: number; dtype: string }> = [
  { name: 'u16 at the 65536 boundary keeps the largest id', vocab: 65_536, docs: [{ id: 'a', tokens: [0, 65_535, 1, 65_534] }, { id: 'b', tokens: [7] }], dtype: 'u16' },
  { name: 'u32 just past the boundary', vocab: 65_537, docs: [{ id: 'a', tokens: [65_536, 0, 65_535] }], dtype: 'u32' },
  { name: 'u32 large vocabulary', vocab: 1_000_000, docs: randomDocs(50, 1_000_000, 40, 1), dtype: 'u32' },
  { name: 'empty documents, first, middle and last', vocab: 300, docs: [{ id: 'e0', tokens: [] }, { id: 'x', tokens: [1, 2] }, { id: 'e1', tokens: [] }, { id: 'e2', tokens: [] }], dtype: 'u16' },
  { name: 'a shard with no documents', vocab: 300, docs: [], dtype: 'u16' },
  { name: 'many documents through a tiny buffer', vocab: 5000, docs: randomDocs(2000, 5000, 30, 2), bufferBytes: 64, dtype: 'u16' },
  { name: 'a document larger than the buffer (u16)', vocab: 1000, docs: [{ id: 's', tokens: [3] }, { id: 'big', tokens: Array.from({ length: 10_001 }, (_, k) => k % 1000) }], bufferBytes: 100, dtype: 'u16' },
  { name: 'a document larger than the buffer (u32)', vocab: 100_000, docs: [{ id: 'big', tokens: Array.from({ length: 5003 }, (_, k) => (k * 7919) % 100_000) }], bufferBytes: 36, dtype: 'u32' },
];
for (const c of roundTrips) {
  test(`round trip: ${c.name}`, () => {
    const path = join(tempDir(), 'x.tok');
    const summary = writeShard(path, c.vocab, c.docs, c.bufferBytes);
    assert.equal(summary.dtype, c.dtype);
    assert.equal(summary.bytes, readFileSync(path).length);
    assert.ok(!existsSync(`${path}.tmp`));
    const r = TokenShardReader.open(path);
    try {
      assert.equal(r.dtype, c.dtype);
      assert.equal(r.vocabSize, c.vocab);
      assertSameDocs(r, c.docs);
      r.verify(7); // small chunks cross document and chunk edges
      if (r.numTokens > 0) {
        const all = c.docs.flatMap((d) => d.tokens);
        assert.deepEqual(Array.from(r.readTokens(1, r.numTokens - 1)), all.slice(1));
      }
    } finally {
      r.close();
    }
  });
}

test('u16 shards use 2 bytes per token and u32 shards 4 (file size = header + tokens + index + ids)', () => {
  const dir = tempDir();
  const docs: Doc[] = [{ id: 'ab', tokens: [1, 2, 3] }]; // 3 tokens; index and id offsets: 2 × 2 × 8 bytes
  const a = writeShard(join(dir, 'a.tok'), 100, docs);
  const b = writeShard(join(dir, 'b.tok'), 100_000, docs);
  assert.equal(a.bytes, SHARD_HEADER_BYTES + 8 /* 6 bytes padded to 8 */ + 32 + 2);
  assert.equal(b.bytes, SHARD_HEADER_BYTES + 16 /* 12 bytes padded */ + 32 + 2);
});

test('the writer refuses a token outside the vocabulary instead of wrapping it', () => {
  const w = new TokenShardWriter(join(tempDir(), 'v.tok'), { vocabSize: 65_536 });
  assert.throws(() => w.addDocument('bad', [65_536]), /document "bad" token 0 is 65536, outside the vocabulary 0\.\.65535/);
  assert.throws(() => w.addDocument('neg', [-1]), RangeError);
  w.abort();
  assert.ok(!existsSync(w.tmpPath));
});

test('a killed writer leaves no .tok file, only a .tmp that no reader accepts', () => {
  const dir = tempDir();
  const path = join(dir, 'killed.tok');
  const fromSource = import.meta.url.endsWith('.ts'); // run by tsx from src, or compiled in dist
  const modUrl = new URL(`../../src/tokens/shard-writer.${fromSource ? 'ts' : 'js'}`, import.meta.url).href;
  // A child process writes documents and dies before close() (as a killed `sbp tokenize` would).
  const script = `
    const { TokenShardWriter } = await import(${JSON.stringify(modUrl)});
    const w = new TokenShardWriter(${JSON.stringify(path)}, { vocabSize: 1000, bufferBytes: 64 });
    for (let i = 0; i < 100; i++) w.addDocument('d' + i, [1, 2, 3, 4, 5, 6, 7, 8]);
    process.kill(process.pid, 'SIGKILL');`;
  const execArgv = fromSource ? ['--import', 'tsx'] : [];
  const r = spawnSync(process.execPath, [...execArgv, '--input-type=module', '-e', script], { cwd: repoRoot, encoding: 'utf8' });
  assert.equal(r.signal, 'SIGKILL', r.stderr);
  assert.deepEqual(readdirSync(dir), ['killed.tok.tmp']);
  assert.throws(() => TokenShardReader.open(`${path}.tmp`), /bad magic/);
});

/** Writes a valid shard, lets `corrupt` damage it, and returns the error message from opening it. */
function openError(corrupt: (path: string, bytes: Buffer) => void): string {
  const path = join(tempDir(), 'train-00000.tok');
  writeShard(path, 1000, [{ id: 'a', tokens: [1, 2, 3] }, { id: 'b', tokens: [4, 5] }, { id: 'c', tokens: [6] }]);
  corrupt(path, readFileSync(path));
  try {
    TokenShardReader.open(path).close();
  } catch (err) {
    assert.ok(err instanceof UserError, `expected a UserError, got ${String(err)}`);
    assert.ok(err.message.startsWith(path), `message names the file: ${err.message}`);
    assert.match(err.message, /sbp tokenize --force|upgrade sbp/, 'message says what to do');
    return err.message;
  }
  assert.fail('the damaged shard opened without error');
}

/** Rewrites header fields and fixes the header checksum, as a buggy or newer writer would. */
function patchHeader(path: string, bytes: Buffer, patch: (h: NonNullable<ReturnType<typeof headerOf>>) => void): void {
  const h = headerOf(bytes)!;
  patch(h);
  bytes.set(encodeShardHeader(h), 0);
  writeFileSync(path, bytes);
}
function headerOf(bytes: Buffer) {
  const h = decodeShardHeader(bytes.subarray(0, SHARD_HEADER_BYTES));
  return isHeaderProblem(h) ? undefined : h;
}

// Layout of the shard used below: header 128, 6 tokens (u16) = 12 → pad to 144, index 4×8 = 32 → 176, id offsets 32 → 208, ids 3 bytes → 211.
const corruptions: Array<[string, (path: string, bytes: Buffer) => void, RegExp]> = [
  ['bad magic', (p, b) => { b.write('GPT2TOK!', 0, 'latin1'); writeFileSync(p, b); }, /not a token shard: bad magic "GPT2TOK!"/],
  ['a newer format version', (p, b) => { b.writeUInt32LE(2, 8); writeFileSync(p, b); }, /format version 2 is newer than this sbp reads \(1\); upgrade sbp/],
  ['a header bit flip', (p, b) => { b[33] = b[33]! ^ 1; writeFileSync(p, b); }, /header checksum mismatch/],
  ['truncated tokens', (p) => truncateSync(p, 150), /truncated: expected 211 bytes, found 150/],
  ['truncated inside the header', (p) => truncateSync(p, 40), /truncated: 40 bytes is shorter than the 128-byte header/],
  ['trailing bytes', (p) => appendFileSync(p, Buffer.alloc(5)), /size mismatch: the header promises 211 bytes, found 216 \(5 trailing bytes\)/],
  ['a header token count that disagrees with the index', (p, b) => patchHeader(p, b, (h) => { h.numTokens = 7; }), /document index corrupt: last entry is 6 but the shard holds 7 tokens/],
  ['an index entry past the tokens', (p, b) => { b.writeBigUInt64LE(99n, 144 + 16); writeFileSync(p, b); }, /document index out of range: entry 2 is 99, past the 6 tokens the shard holds/],
  ['an index that goes backwards', (p, b) => { b.writeBigUInt64LE(1n, 144 + 16); writeFileSync(p, b); }, /document index corrupt: entry 2 \(1\) is smaller than entry 1 \(3\)/],
  ['an id offset past the id bytes', (p, b) => { b.writeBigUInt64LE(50n, 176 + 8); writeFileSync(p, b); }, /id table out of range: entry 1 is 50/],
  ['a flipped id byte', (p, b) => { b[209] = 0x7a; writeFileSync(p, b); }, /index checksum mismatch/],
  ['a token width that is neither 2 nor 4', (p, b) => { b.writeUInt32LE(3, 12); b.writeUInt32LE(crc32(b.subarray(0, 124)), 124); writeFileSync(p, b); }, /corrupt header: token width is 3 bytes \(must be 2 or 4\)/],
];
for (const [name, corrupt, re] of corruptions) {
  test(`corruption is named: ${name}`, () => {
    assert.match(openError(corrupt), re);
  });
}

test('header field checks name the field (checksum fixed up, as a buggy writer would)', () => {
  assert.match(openError((p, b) => patchHeader(p, b, (h) => { h.indexOffset = 152; })), /corrupt header: indexOffset is 152 but the counts put it at 144/);
  assert.match(openError((p, b) => patchHeader(p, b, (h) => { h.numDocs = 4; })), /corrupt header: idsOffset is 176 but the counts put it at 184/);
  assert.match(openError((p, b) => patchHeader(p, b, (h) => { h.vocabSize = 70_000; })), /vocabulary size 70000 does not match token width 2 bytes/);
});

test('verify() finds flipped token bytes that opening does not read', () => {
  const path = join(tempDir(), 't.tok');
  writeShard(path, 1000, [{ id: 'a', tokens: [1, 2, 3] }]);
  const b = readFileSync(path);
  b[SHARD_HEADER_BYTES + 2] = 9; // token 1: 2 → 9, still inside the vocabulary
  writeFileSync(path, b);
  const r = TokenShardReader.open(path);
  assert.deepEqual(Array.from(r.doc(0)), [1, 9, 3]);
  assert.throws(() => r.verify(), /tokens checksum mismatch/);
  r.close();
});

test('a missing shard is a UserError; out-of-range document numbers are RangeErrors', () => {
  assert.throws(() => TokenShardReader.open(join(tempDir(), 'none.tok')), (e: unknown) => e instanceof UserError && /cannot open token shard \(ENOENT\)/.test((e as Error).message));
  const path = join(tempDir(), 'r.tok');
  writeShard(path, 10, [{ id: 'a', tokens: [1] }]);
  const r = TokenShardReader.open(path);
  assert.throws(() => r.doc(1), RangeError);
  assert.throws(() => r.docId(-1), RangeError);
  assert.throws(() => r.readTokens(0, 2), RangeError);
  r.close();
});
