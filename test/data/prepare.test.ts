import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync, appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../../src/common/errors.js';
import { PrepareConfigSchema, type PrepareConfig } from '../../src/config/schema.js';
import { listCorpusShards, readCorpusDocs } from '../../src/data/corpus-reader.js';
import type { Document } from '../../src/data/document.js';
import { normalizeText } from '../../src/data/normalize.js';
import { prepareCorpus } from '../../src/data/prepare-corpus.js';
import { mkdtempSync } from 'node:fs';
import { tempDir as makeTempDir } from '../helpers.js';

// One temporary root for the file (one exit hook), a fresh folder under it per use.
const root = makeTempDir();
const tempDir = (): string => mkdtempSync(join(root, 'r-'));

/** A JSONL corpus with known duplicates (exact, and equal only after normalisation) and short docs. */
function writeCorpus(dir: string, n = 300): string {
  const file = join(dir, 'docs.jsonl');
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    lines.push(JSON.stringify({ text: `Document number ${i} talks about topic ${i % 17} at some length.` }));
    if (i % 10 === 0) lines.push(JSON.stringify({ text: `Document number ${i} talks about topic ${i % 17} at some length.` }));
    if (i % 25 === 0) lines.push(JSON.stringify({ text: `  Document number ${i} talks about topic ${i % 17} at some length.\r\n` }));
    if (i % 30 === 0) lines.push(JSON.stringify({ text: 'tiny' }));
  }
  writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

function config(file: string, over: Partial<PrepareConfig> = {}): PrepareConfig {
  return PrepareConfigSchema.parse({ sources: [{ kind: 'jsonl', path: file }], minChars: 20, heldOutFraction: 0.2, docsPerShard: 40, ...over });
}

async function all(dir: string, split: 'train' | 'heldout'): Promise<Document[]> {
  const out: Document[] = [];
  for await (const d of readCorpusDocs(dir, split)) out.push(d);
  return out;
}

const quiet = { quiet: true, warn: () => undefined };

test('prepare: dedup, length filter, split by text hash; stats add up', async () => {
  const src = tempDir();
  const file = writeCorpus(src);
  const runDir = tempDir();
  const r = await prepareCorpus({ runDir, config: config(file), ...quiet });
  const s = r.stats;
  // 300 unique + 30 exact copies + 12 copies equal after normalisation + 10 short ones.
  assert.equal(s.docsIn, 352);
  assert.deepEqual(s.drops, { malformed: 0, empty: 0, too_short: 10, too_long: 0, duplicate: 42 });
  assert.equal(s.docsOut, 300);
  assert.equal(s.docsIn, s.docsOut + Object.values(s.drops).reduce((a, b) => a + b, 0));
  assert.equal(s.normalized, 12);

  const train = await all(r.dir, 'train');
  const held = await all(r.dir, 'heldout');
  assert.equal(train.length + held.length, 300);
  assert.equal(s.splits.train.docs, train.length);
  assert.equal(s.splits.heldout.docs, held.length);
  assert.ok(held.length > 30 && held.length < 90, `held-out ${held.length} of 300 at 0.2`);
  const texts = [...train, ...held].map((d) => d.text);
  assert.equal(new Set(texts).size, texts.length, 'no duplicates in the output');
  assert.equal(s.charsOut, texts.reduce((a, t) => a + t.length, 0));
  assert.equal(listCorpusShards(r.dir, 'train').length, Math.ceil(train.length / 40));
  assert.equal(s.splits.train.shards, Math.ceil(train.length / 40));
  assert.deepEqual(JSON.parse(readFileSync(join(r.dir, 'stats.json'), 'utf8')), s);
  assert.ok(existsSync(join(r.dir, 'manifest.json')));

  // Same text → same split whatever the seed's draw: a run over the unique texts only puts each in
  // the same split; another seed moves some documents.
  const heldIds = new Set(held.map((d) => d.text));
  const uniq = join(src, 'unique.jsonl');
  writeFileSync(uniq, [...texts].reverse().map((t) => JSON.stringify({ text: t })).join('\n'));
  const again = await prepareCorpus({ runDir: tempDir(), config: config(uniq), ...quiet });
  assert.deepEqual(new Set((await all(again.dir, 'heldout')).map((d) => d.text)), heldIds);
  const reseeded = await prepareCorpus({ runDir: tempDir(), config: config(uniq, { splitSeed: 'other' }), ...quiet });
  assert.notDeepEqual(new Set((await all(reseeded.dir, 'heldout')).map((d) => d.text)), heldIds);

  const second = await prepareCorpus({ runDir, config: config(file), ...quiet });
  assert.equal(second.skipped, true, 'a finished corpus is not redone');
});

test('prepare: output lines are exactly {"id","text","meta"} with normalised text', async () => {
  const src = tempDir();
  const file = join(src, 'n.jsonl');
  writeFileSync(file, JSON.stringify({ text: 'Cafe\u0301  \r\nline two\u00a0end \u0007', tag: 'x' }) + '\n');
  const r = await prepareCorpus({ runDir: tempDir(), config: config(file, { minChars: 1, heldOutFraction: 0 }), ...quiet });
  const raw = readFileSync(join(r.dir, 'train-00000.jsonl'), 'utf8');
  assert.equal(raw, JSON.stringify({ id: 'n.jsonl:1', text: 'Caf\u00e9\nline two end', meta: { source: 'jsonl', file: 'n.jsonl', line: 1, tag: 'x' } }) + '\n');
  assert.equal(normalizeText('Cafe\u0301  \r\nline two\u00a0end \u0007'), 'Caf\u00e9\nline two end');
  assert.deepEqual(listCorpusShards(r.dir, 'heldout'), []);
});

test('prepare: maxDocs stops reading early', async () => {
  const src = tempDir();
  const file = writeCorpus(src);
  const r = await prepareCorpus({ runDir: tempDir(), config: config(file, { maxDocs: 25 }), ...quiet });
  assert.equal(r.stats.docsOut, 25);
  assert.equal(r.stats.stoppedAtMaxDocs, true);
  assert.ok(r.stats.docsIn < 40);
});

test('prepare: an empty source, and a source whose every record is malformed, are errors', async () => {
  const src = tempDir();
  const empty = join(src, 'empty.jsonl');
  writeFileSync(empty, '\n\n');
  await assert.rejects(prepareCorpus({ runDir: tempDir(), config: config(empty), ...quiet }), (e: unknown) => e instanceof UserError && /source jsonl:.*empty\.jsonl yielded no documents/.test(e.message));
  const bad = join(src, 'bad.jsonl');
  writeFileSync(bad, '{oops\n');
  await assert.rejects(prepareCorpus({ runDir: tempDir(), config: config(bad), ...quiet }), /yielded no documents \(all 1 records were malformed, e\.g\. .*bad\.jsonl:1: not valid JSON/);
  const short = join(src, 'short.jsonl');
  writeFileSync(short, '{"text":"a"}\n');
  await assert.rejects(prepareCorpus({ runDir: tempDir(), config: config(short), ...quiet }), /no document survived the filters \(1 read; dropped: too_short 1\)/);
});

test('prepare: malformed records count as drops; fail mode stops with file:line', async () => {
  const src = tempDir();
  const file = writeCorpus(src, 50);
  appendFileSync(file, '{"text": nope}\n{"other": 1}\n');
  const r = await prepareCorpus({ runDir: tempDir(), config: config(file), ...quiet });
  assert.equal(r.stats.drops.malformed, 2);
  assert.equal(r.stats.sources[0]!.malformed, 2);
  assert.equal(r.stats.docsIn, r.stats.docsOut + Object.values(r.stats.drops).reduce((a, b) => a + b, 0));
  const lines = readFileSync(file, 'utf8').split('\n').length - 1;
  await assert.rejects(prepareCorpus({ runDir: tempDir(), config: config(file, { onMalformed: 'fail' }), ...quiet }), new RegExp(`docs\\.jsonl:${lines - 1}: not valid JSON`));
});

test('prepare: an interrupted run resumes without rewriting finished shards and matches a clean run byte for byte', async () => {
  const src = tempDir();
  const file = writeCorpus(src, 400);
  const clean = await prepareCorpus({ runDir: tempDir(), config: config(file), ...quiet });

  const runDir = tempDir();
  let done = 0;
  await assert.rejects(
    prepareCorpus({
      runDir,
      config: config(file),
      ...quiet,
      testHooks: {
        afterUnit: () => {
          if (++done === 3) throw new Error('simulated crash');
        },
      },
    }),
    /simulated crash/,
  );
  const dir = join(runDir, 'corpus');
  assert.ok(!existsSync(join(dir, 'manifest.json')));
  const before = readdirSync(dir).filter((f) => f.endsWith('.jsonl'));
  assert.equal(before.length, 3);
  const mtimes = new Map(before.map((f) => [f, statSync(join(dir, f)).mtimeMs]));

  const resumed = await prepareCorpus({ runDir, config: config(file), ...quiet });
  assert.deepEqual(resumed.shardsReused.sort(), before.sort());
  for (const f of before) assert.equal(statSync(join(dir, f)).mtimeMs, mtimes.get(f), `${f} was not rewritten`);
  const names = readdirSync(clean.dir).filter((f) => f.endsWith('.jsonl') || f === 'stats.json').sort();
  assert.deepEqual(readdirSync(dir).filter((f) => f.endsWith('.jsonl') || f === 'stats.json').sort(), names);
  for (const f of names) assert.ok(readFileSync(join(dir, f)).equals(readFileSync(join(clean.dir, f))), `${f} identical`);
  assert.ok(!readdirSync(dir).some((f) => f.endsWith('.tmp')), 'no temporary files left');
});

test('prepare: a resumed run notices that the input changed under a finished shard', async () => {
  const src = tempDir();
  const file = writeCorpus(src, 200);
  const runDir = tempDir();
  await assert.rejects(prepareCorpus({ runDir, config: config(file), ...quiet, testHooks: { afterUnit: () => { throw new Error('crash'); } } }), /crash/);
  // A marker that disagrees with what the sources now give for that shard (as when an input file
  // changed without changing its size or time): the resumed run must refuse to mix the two.
  const marker = join(runDir, 'corpus', '.done', 'train-00000.jsonl');
  const info = JSON.parse(readFileSync(marker, 'utf8')) as { sha256: string };
  writeFileSync(marker, JSON.stringify({ ...info, sha256: '0'.repeat(64) }));
  await assert.rejects(prepareCorpus({ runDir, config: config(file), ...quiet }), /wrote different documents to this shard .*--force/);
});

test('readCorpusDocs names file:line of a damaged shard', async () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'train-00000.jsonl'), '{"id":"a","text":"x","meta":{}}\n');
  writeFileSync(join(dir, 'train-00001.jsonl'), '{"id":"b","text":"y","meta":{}}\n{"id":"c","text":5,"meta":{}}\n');
  writeFileSync(join(dir, 'train-00010.jsonl'), '{"id":"d","text":"z","meta":{}}\n');
  assert.deepEqual(listCorpusShards(dir, 'train').map((p) => p.slice(dir.length + 1)), ['train-00000.jsonl', 'train-00001.jsonl', 'train-00010.jsonl']);
  const seen: string[] = [];
  await assert.rejects(
    (async () => {
      for await (const d of readCorpusDocs(dir, 'train')) seen.push(d.id);
    })(),
    (e: unknown) => e instanceof UserError && e.message.startsWith(`${join(dir, 'train-00001.jsonl')}:2: "text" must be a string`),
  );
  assert.deepEqual(seen, ['a', 'b']);
  writeFileSync(join(dir, 'train-00001.jsonl'), Buffer.from([0x7b, 0xff, 0x7d, 0x0a]));
  await assert.rejects(all(dir, 'train'), /train-00001\.jsonl:1: not a valid UTF-8 JSON line/);
  assert.throws(() => listCorpusShards(join(dir, 'nope'), 'train'), /run `sbp prepare` first/);
});

test('prepare over real installed corpora: brown then gcide, capped by maxDocs', async () => {
  const config = PrepareConfigSchema.parse({ sources: [{ kind: 'brown' }, { kind: 'gcide' }], minChars: 50, maxDocs: 600, docsPerShard: 250 });
  const r = await prepareCorpus({ runDir: tempDir(), config, concurrency: 2, ...quiet });
  assert.equal(r.stats.docsOut, 600);
  assert.equal(r.stats.stoppedAtMaxDocs, true);
  assert.deepEqual(r.stats.sources.map((s) => [s.source, s.docs > 0]), [['brown', true], ['gcide', true]]);
  assert.equal(r.stats.sources[0]!.docs, 500);
  const docs = [...(await all(r.dir, 'train')), ...(await all(r.dir, 'heldout'))];
  assert.equal(docs.length, 600);
  const brownKept = docs.filter((d) => d.meta.source === 'brown').length;
  assert.equal(brownKept, 500, 'every Brown sample is long and unique');
  assert.equal(docs.filter((d) => d.meta.source === 'gcide').length, 100);
  assert.equal(r.stats.splits.train.shards, Math.ceil(r.stats.splits.train.docs / 250));
});

test('prepare: passages of one text (meta.splitGroup) land on one side of the split', async () => {
  const r = await prepareCorpus({ runDir: tempDir(), config: PrepareConfigSchema.parse({ sources: [{ kind: 'brown', passageWords: 150 }], heldOutFraction: 0.2, maxDocs: 400 }), ...quiet });
  const side = new Map<string, Set<string>>();
  for (const split of ['train', 'heldout'] as const) {
    for (const d of await all(r.dir, split)) {
      const g = d.meta.splitGroup as string;
      if (!side.has(g)) side.set(g, new Set());
      side.get(g)!.add(split);
    }
  }
  assert.ok(side.size >= 20, `${side.size} texts`);
  assert.ok([...side.values()].every((s) => s.size === 1), 'no text straddles the split');
  assert.ok(r.stats.splits.heldout.docs > 0 && r.stats.splits.train.docs > 0);
});
