// Parquet documents: one schema for real and synthetic rows, read back by hyparquet and by the
// `parquet:` source of `sbp prepare` with ids, texts and meta.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects, parquetSchema } from 'hyparquet';
import { tempDir } from '../helpers.js';
import { UserError } from '../../src/common/errors.js';
import { documentRow, ParquetDocumentWriter, PARQUET_COLUMNS } from '../../src/export/parquet-documents.js';
import { parquetSource } from '../../src/data/sources/parquet-source.js';
import { newSourceCounters } from '../../src/data/source-context.js';
import type { Document } from '../../src/data/document.js';

const REAL: Document = { id: 'brown:ca01', text: 'The Fulton County Grand Jury said … “quoted” ünïcode\n', meta: { source: 'brown', category: 'news' } };
const SYNTH: Document = { id: 'synth-0-1', text: 'A synthetic one.', meta: { source: 'synthetic', seed_id: 'brown:ca01', temperature: 1, top_p: 0.9, top_k: 0 } };

test('real and synthetic documents share one schema; temperature is a double; the parquet source reads them back', async () => {
  const dir = tempDir();
  const path = join(dir, 'docs.parquet');
  const w = new ParquetDocumentWriter(path, 2); // row groups of 2: several groups
  const docs = [REAL, SYNTH, { ...REAL, id: 'r2' }, { ...SYNTH, id: 's2', meta: { ...SYNTH.meta, temperature: 0.7 } }, { ...REAL, id: 'r3', text: '' }];
  for (const d of docs) w.add(documentRow(d, 'train'));
  w.close();
  assert.equal(w.rowCount, 5);
  const file = await asyncBufferFromFile(path);
  const metadata = await parquetMetadataAsync(file);
  assert.equal(metadata.row_groups.length, 3);
  const schema = parquetSchema(metadata).children.map((c) => [c.element.name, c.element.type]);
  assert.deepEqual(schema.map((s) => s[0]), [...PARQUET_COLUMNS]);
  assert.equal(schema.find((s) => s[0] === 'temperature')![1], 'DOUBLE');
  const rows = (await parquetReadObjects({ file })) as Array<Record<string, unknown>>;
  assert.deepEqual(rows.map((r) => r.id), docs.map((d) => d.id));
  assert.deepEqual(rows.map((r) => r.text), docs.map((d) => d.text));
  assert.deepEqual(rows.map((r) => r.temperature), [null, 1, null, 0.7, null]);
  assert.deepEqual(rows.map((r) => r.seed_id), [null, 'brown:ca01', null, 'brown:ca01', null]);
  assert.deepEqual(JSON.parse(rows[0]!.meta as string), REAL.meta);

  const ctx = { counters: newSourceCounters('parquet'), onMalformed: 'fail' as const, concurrency: 1, warn: () => {} };
  const back: Document[] = [];
  for await (const d of parquetSource({ path: dir, textField: 'text' }, ctx)) back.push(d);
  assert.deepEqual(back.map((d) => [d.id, d.text]), docs.map((d) => [d.id, d.text]));
  assert.equal(back[0]!.meta['category'], 'news');
  assert.equal(back[0]!.meta['exported_source'], 'brown');
  assert.equal(back[3]!.meta['temperature'], 0.7);
  await assert.rejects(async () => {
    for await (const _ of parquetSource({ path, textField: 'body' }, ctx)) void _;
  }, (e: unknown) => e instanceof UserError && /docs\.parquet: no column "body"/.test(e.message));
});
