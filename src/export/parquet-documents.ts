import { existsSync, renameSync } from 'node:fs';
import { fileWriter, ParquetWriter } from 'hyparquet-writer';
import type { Document } from '../data/document.js';

/**
 * Documents as Parquet, one schema for real and synthetic documents so `datasets.load_dataset`
 * reads both into one table (their `meta` objects differ; a JSON column of mixed shapes would not):
 *
 *   id           string   the document's id (`brown:ca01`, `synth-00003-000017`)
 *   text         string
 *   split        string   train | heldout
 *   source       string   the corpus source kind, or "synthetic"
 *   synthetic    bool
 *   seed_id      string?  synthetic: the id of the seed document d1 (null for real documents)
 *   temperature  double?  synthetic: sampling temperature (a float, 1.0 — never an integer column)
 *   top_p        double?  synthetic: nucleus p
 *   meta         string   the document's full `meta` as JSON, nothing dropped
 *
 * Written with hyparquet-writer (snappy, row groups of `rowGroupRows`); memory holds one row group.
 */
export const PARQUET_COLUMNS = ['id', 'text', 'split', 'source', 'synthetic', 'seed_id', 'temperature', 'top_p', 'meta'] as const;

const SCHEMA = [
  { name: 'root', num_children: PARQUET_COLUMNS.length },
  { name: 'id', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'REQUIRED' },
  { name: 'text', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'REQUIRED' },
  { name: 'split', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'REQUIRED' },
  { name: 'source', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'REQUIRED' },
  { name: 'synthetic', type: 'BOOLEAN', repetition_type: 'REQUIRED' },
  { name: 'seed_id', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
  { name: 'temperature', type: 'DOUBLE', repetition_type: 'OPTIONAL' },
  { name: 'top_p', type: 'DOUBLE', repetition_type: 'OPTIONAL' },
  { name: 'meta', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'REQUIRED' },
] as const;

export interface ParquetRow {
  id: string;
  text: string;
  split: string;
  source: string;
  synthetic: boolean;
  seed_id: string | null;
  temperature: number | null;
  top_p: number | null;
  meta: string;
}

/** A corpus or synthetic document → the one row schema. */
export function documentRow(doc: Document, split: string): ParquetRow {
  const m = doc.meta ?? {};
  const synthetic = m['source'] === 'synthetic';
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : null);
  return {
    id: doc.id,
    text: doc.text,
    split,
    source: typeof m['source'] === 'string' ? (m['source'] as string) : 'unknown',
    synthetic,
    seed_id: synthetic && typeof m['seed_id'] === 'string' ? (m['seed_id'] as string) : null,
    temperature: synthetic ? num(m['temperature']) : null,
    top_p: synthetic ? num(m['top_p']) : null,
    meta: JSON.stringify(m),
  };
}

export class ParquetDocumentWriter {
  private readonly writer: ParquetWriter;
  private rows: ParquetRow[] = [];
  rowCount = 0;
  textBytes = 0;

  constructor(readonly path: string, readonly rowGroupRows = 20_000, kv: Record<string, string> = {}) {
    this.writer = new ParquetWriter({
      writer: fileWriter(`${path}.partial`),
      schema: SCHEMA as unknown as ConstructorParameters<typeof ParquetWriter>[0]['schema'],
      kvMetadata: Object.entries(kv).map(([key, value]) => ({ key, value })),
      createdBy: 'sbp export parquet',
    });
  }

  add(row: ParquetRow): void {
    this.rows.push(row);
    this.rowCount++;
    this.textBytes += Buffer.byteLength(row.text);
    if (this.rows.length >= this.rowGroupRows) this.flush();
  }

  private flush(): void {
    if (this.rows.length === 0) return;
    const r = this.rows;
    const col = <K extends keyof ParquetRow>(name: K) => ({ name, data: r.map((x) => x[name]) });
    this.writer.write({
      columnData: PARQUET_COLUMNS.map((c) => col(c)) as never,
      rowGroupSize: r.length,
    });
    this.rows = [];
  }

  close(): void {
    this.flush();
    this.writer.finish();
    if (existsSync(`${this.path}.partial`)) renameSync(`${this.path}.partial`, this.path);
  }
}
