import { existsSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects, parquetSchema } from 'hyparquet';
import { UserError } from '../../common/errors.js';
import type { Document } from '../document.js';
import { listFiles } from '../list-files.js';
import { reportMalformed } from '../malformed.js';
import type { SourceContext } from '../source-context.js';

export interface ParquetSourceOptions {
  /** A .parquet file, or a folder of them (read in sorted order). */
  path: string;
  textField: string;
  /** Column holding the document id; by default the `id` column when there is one, else `<file name>:<row>`. */
  idField?: string;
}

/** The files a Parquet source reads; a UserError when the path is missing or holds no Parquet files. */
export function parquetFiles(path: string): string[] {
  if (!existsSync(path)) throw new UserError(`${path}: no such file or folder (parquet source)`);
  if (!statSync(path).isDirectory()) return [path];
  const files = listFiles(path, (name) => name.endsWith('.parquet')).map((f) => join(path, f));
  if (files.length === 0) throw new UserError(`${path}: the folder holds no .parquet files (parquet source)`);
  return files;
}

/**
 * Streams documents from Parquet files (hyparquet), one row group at a time, so memory holds one
 * row group. Other columns are kept in `meta` (BigInt values as numbers); a `meta` column holding a
 * JSON object — what `sbp export parquet` writes — is merged back into `meta`, so an exported corpus
 * prepared again keeps its metadata. A row whose text is not a string is malformed.
 */
export async function* parquetSource(opts: ParquetSourceOptions, ctx: SourceContext): AsyncGenerator<Document> {
  for (const file of parquetFiles(opts.path)) {
    const name = basename(file);
    let buffer;
    let metadata;
    try {
      buffer = await asyncBufferFromFile(file);
      metadata = await parquetMetadataAsync(buffer);
    } catch (err) {
      throw new UserError(`${file}: not a readable Parquet file (${(err as Error).message})`);
    }
    const columns = parquetSchema(metadata).children.map((c) => c.element.name);
    if (!columns.includes(opts.textField)) throw new UserError(`${file}: no column "${opts.textField}" (columns: ${columns.join(', ')}); set the text column with textField`);
    const idField = opts.idField ?? (columns.includes('id') ? 'id' : undefined);
    if (idField !== undefined && !columns.includes(idField)) throw new UserError(`${file}: no column "${idField}" for the document id (columns: ${columns.join(', ')})`);
    let rowStart = 0;
    for (const group of metadata.row_groups) {
      const rowEnd = rowStart + Number(group.num_rows);
      const rows = (await parquetReadObjects({ file: buffer, metadata, rowStart, rowEnd })) as Array<Record<string, unknown>>;
      for (let k = 0; k < rows.length; k++) {
        const row = rows[k]!;
        const rowNo = rowStart + k;
        const text = row[opts.textField];
        if (typeof text !== 'string') {
          reportMalformed(ctx, `${file}:row ${rowNo}`, `column "${opts.textField}" is not a string`);
          continue;
        }
        const rawId = idField !== undefined ? row[idField] : `${name}:${rowNo}`;
        if (typeof rawId !== 'string' && typeof rawId !== 'number' && typeof rawId !== 'bigint') {
          reportMalformed(ctx, `${file}:row ${rowNo}`, `column "${idField}" is not a string or number`);
          continue;
        }
        const where = { source: 'parquet', file: name, row: rowNo };
        const columns: Record<string, unknown> = {};
        for (const [key, v] of Object.entries(row)) {
          if (key === opts.textField || key === idField || v === null || v === undefined) continue;
          columns[key] = typeof v === 'bigint' ? Number(v) : v;
        }
        let inner: Record<string, unknown> = {};
        if (typeof columns['meta'] === 'string') {
          try {
            const parsed = JSON.parse(columns['meta'] as string);
            if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) {
              inner = { ...parsed, exported_source: parsed.source };
              delete columns['meta'];
            }
          } catch {
            // a plain string column named meta: kept as it is
          }
        }
        const meta: Record<string, unknown> = { ...inner, ...columns, ...where };
        yield { id: String(rawId), text, meta };
      }
      rowStart = rowEnd;
    }
  }
}
