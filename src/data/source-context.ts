import type { Document } from './document.js';

/** Counters one source keeps while it streams; they end up in `stats.json` under `sources`. */
export interface SourceCounters {
  /** The source as the user wrote it, e.g. `brown` or `jsonl:data/web.jsonl.gz`. */
  source: string;
  /** Documents the source yielded. */
  docs: number;
  /** Records that could not be read as a document (bad JSON, no text field); also a drop reason. */
  malformed: number;
  /** The first few malformed records as `file:line: why`. */
  malformedExamples: string[];
  /** Documents whose bytes were not valid UTF-8; the bad bytes became U+FFFD. */
  invalidUtf8Repaired: number;
  /** Documents whose id (from the source's idField) repeats an earlier one; both are kept. */
  duplicateIds: number;
  /** Files the source passed over on purpose, by reason (e.g. man-page aliases). Not documents. */
  skippedFiles: Record<string, number>;
}

export function newSourceCounters(source: string): SourceCounters {
  return { source, docs: 0, malformed: 0, malformedExamples: [], invalidUtf8Repaired: 0, duplicateIds: 0, skippedFiles: {} };
}

export const MAX_MALFORMED_EXAMPLES = 10;

/** What a source needs from the pipeline besides its own config. */
export interface SourceContext {
  counters: SourceCounters;
  /** A malformed record: 'skip' counts it and goes on, 'fail' stops with a UserError naming file:line. */
  onMalformed: 'skip' | 'fail';
  /** How many files a source may process at once (man-page renders). */
  concurrency: number;
  /** Prints a warning line (malformed records, skipped files). */
  warn: (message: string) => void;
}

/** A source: an async generator of documents, in a deterministic order. */
export type DocumentSource = (ctx: SourceContext) => AsyncGenerator<Document>;
