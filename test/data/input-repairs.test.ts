import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PrepareConfigSchema, type SourceConfig } from '../../src/config/schema.js';
import { corpusPipeline } from '../../src/data/corpus-pipeline.js';
import { newCorpusStats } from '../../src/data/corpus-stats.js';
import type { Document } from '../../src/data/document.js';
import { newSourceCounters, type SourceContext } from '../../src/data/source-context.js';
import { openSource } from '../../src/data/source-registry.js';
import { UserError } from '../../src/common/errors.js';
import { tempDir } from '../helpers.js';

function context(): SourceContext & { warnings: string[] } {
  const warnings: string[] = [];
  return { counters: newSourceCounters('test'), onMalformed: 'skip', concurrency: 1, warn: (m) => warnings.push(m), warnings };
}

async function read(src: SourceConfig, ctx: SourceContext): Promise<Document[]> {
  const out: Document[] = [];
  for await (const d of openSource(src, ctx)) out.push(d);
  return out;
}

test('a UTF-8 byte-order mark before the first JSONL record does not lose that document', async () => {
  const path = join(tempDir(), 'bom.jsonl');
  writeFileSync(path, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"text":"first"}\n{"text":"second"}\n')]));
  const ctx = context();
  const docs = await read({ kind: 'jsonl', path, textField: 'text' }, ctx);
  assert.deepEqual(docs.map((d) => d.text), ['first', 'second']);
  assert.equal(ctx.counters.malformed, 0);
});

test('a text field that is there but not a string says so (not "no string field")', async () => {
  const path = join(tempDir(), 'num.jsonl');
  writeFileSync(path, '{"id": 1, "text": 42}\n{"text": "ok"}\n');
  const ctx = context();
  await read({ kind: 'jsonl', path, textField: 'text' }, ctx);
  assert.equal(ctx.counters.malformed, 1);
  assert.equal(ctx.counters.malformedExamples[0], `${path}:1: field "text" is a number (42), not a string; fix the record, or choose another field with --text-field (fields: id, text)`);
});

test('ids from idField that repeat are counted and reported', async () => {
  const path = join(tempDir(), 'ids.jsonl');
  writeFileSync(path, '{"id":"a","text":"one"}\n{"id":"b","text":"two"}\n{"id":"a","text":"three"}\n');
  const ctx = context();
  const docs = await read({ kind: 'jsonl', path, textField: 'text', idField: 'id' }, ctx);
  assert.equal(docs.length, 3);
  assert.equal(ctx.counters.duplicateIds, 1);
  assert.match(ctx.warnings.join('\n'), /ids\.jsonl:3: document id "a" \(field "id"\) was already used; both documents are kept/);
});

test('NUL bytes removed from a document are counted as a repair', async () => {
  const path = join(tempDir(), 'nul.jsonl');
  writeFileSync(path, '{"text":"a long enough document\\u0000 with a NUL byte inside"}\n{"text":"another long enough document without one"}\n');
  const stats = newCorpusStats();
  const config = PrepareConfigSchema.parse({ sources: [{ kind: 'jsonl', path }], minChars: 5, heldOutFraction: 0 });
  const kept: string[] = [];
  for await (const { doc } of corpusPipeline({ config, stats, concurrency: 1, warn: () => {} })) kept.push(doc.text);
  assert.equal(stats.nulBytesRemoved, 1);
  assert.ok(kept.every((t) => !t.includes('\0')));
});

test('text-dir: a file path is named as a file; binary files and dangling symlinks are skipped and counted', async () => {
  const dir = tempDir();
  const file = join(dir, 'one.txt');
  writeFileSync(file, 'hello');
  await assert.rejects(
    read({ kind: 'text-dir', path: file, extensions: ['.txt'] }, context()),
    (err: unknown) => err instanceof UserError && err.message === `${file}: is a file, not a folder (text-dir source reads every matching file of a folder); give its folder, or use jsonl:${file} for a JSON Lines file`,
  );
  const folder = join(dir, 'docs');
  mkdirSync(folder);
  writeFileSync(join(folder, 'a.txt'), 'plain text that is kept');
  writeFileSync(join(folder, 'b.txt'), Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0x02, 0x01, 0x01, 0x00, 0x00, 0x00, 0x03, 0x00])); // an ELF header
  writeFileSync(join(folder, 'c.txt'), Buffer.from(Array.from({ length: 200 }, (_, i) => (i % 3 === 0 ? 0x41 : (i % 31) + 1))));
  symlinkSync(join(folder, 'gone.txt'), join(folder, 'dangling.txt'));
  const ctx = context();
  const docs = await read({ kind: 'text-dir', path: folder, extensions: ['.txt'] }, ctx);
  assert.deepEqual(docs.map((d) => d.id), ['a.txt']);
  assert.deepEqual(ctx.counters.skippedFiles, { binary: 2, 'dangling-symlink': 1 });
  assert.match(ctx.warnings.join('\n'), /dangling\.txt: skipped \(dangling symlink\)/);
  assert.match(ctx.warnings.join('\n'), /b\.txt: skipped \(binary\)/);
});
