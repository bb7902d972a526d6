import { UserError } from '../common/errors.js';
import type { PrepareConfig } from '../config/schema.js';
import type { CorpusStats } from './corpus-stats.js';
import type { CorpusSplit, Document } from './document.js';
import { ExactDedup, lengthFilter } from './filters.js';
import { countChars, normalizeText } from './normalize.js';
import { newSourceCounters } from './source-context.js';
import { describeSource, openSource } from './source-registry.js';
import { hashText } from './text-hash.js';

export interface PipelineOptions {
  config: PrepareConfig;
  /** Updated as documents flow; complete when the generator finishes. */
  stats: CorpusStats;
  concurrency: number;
  warn: (message: string) => void;
  /** Called once per record read (kept or not), for progress. */
  onRecord?: () => void;
}

/**
 * The corpus pipeline, one document at a time: sources (in config order) → normalise → length
 * filter → exact dedup → hash split → (maxDocs cap). Yields the kept documents with their split;
 * every other record is counted in `stats.drops` by reason. Deterministic: the same sources and
 * config give the same documents in the same order. Memory: the dedup hash set only.
 */
export async function* corpusPipeline(opts: PipelineOptions): AsyncGenerator<{ doc: Document; split: CorpusSplit; chars: number }> {
  const { config, stats } = opts;
  const keepLength = lengthFilter(config.minChars, config.maxChars);
  const dedup = config.dedup ? new ExactDedup() : undefined;
  for (const src of config.sources) {
    const counters = newSourceCounters(describeSource(src));
    stats.sources.push(counters);
    const ctx = { counters, onMalformed: config.onMalformed, concurrency: opts.concurrency, warn: opts.warn };
    let malformedSeen = 0;
    const syncMalformed = (): void => {
      // Malformed records never reach the pipeline as documents; fold them into the totals here.
      const fresh = counters.malformed - malformedSeen;
      malformedSeen = counters.malformed;
      stats.docsIn += fresh;
      stats.drops.malformed += fresh;
      for (let i = 0; i < fresh; i++) opts.onRecord?.();
    };
    let utf8Seen = 0;
    for await (const doc of openSource(src, ctx)) {
      counters.docs++;
      syncMalformed();
      stats.invalidUtf8Repaired += counters.invalidUtf8Repaired - utf8Seen;
      utf8Seen = counters.invalidUtf8Repaired;
      stats.docsIn++;
      stats.charsIn += countChars(doc.text);
      opts.onRecord?.();

      if (doc.text.includes('\0')) stats.nulBytesRemoved++;
      const text = normalizeText(doc.text);
      if (text !== doc.text) stats.normalized++;
      const chars = countChars(text);
      const lengthDrop = keepLength(chars);
      if (lengthDrop) {
        stats.drops[lengthDrop]++;
        continue;
      }
      const h = hashText(text, config.splitSeed);
      const dupDrop = dedup?.check(h);
      if (dupDrop) {
        stats.drops[dupDrop]++;
        continue;
      }
      // Pieces of one text (meta.splitGroup, e.g. Brown passages) share one draw, so a held-out text is held out whole.
      const draw = typeof doc.meta.splitGroup === 'string' ? hashText(doc.meta.splitGroup, config.splitSeed).draw : h.draw;
      const split: CorpusSplit = draw < config.heldOutFraction ? 'heldout' : 'train';
      stats.docsOut++;
      stats.charsOut += chars;
      stats.splits[split].docs++;
      stats.splits[split].chars += chars;
      yield { doc: { id: doc.id, text, meta: doc.meta }, split, chars };
      if (config.maxDocs !== undefined && stats.docsOut >= config.maxDocs) {
        // Returning closes the source generator (its files, its groff processes).
        stats.stoppedAtMaxDocs = true;
        return;
      }
    }
    syncMalformed();
    stats.invalidUtf8Repaired += counters.invalidUtf8Repaired - utf8Seen;
    if (counters.docs === 0) {
      const why = counters.malformed > 0 ? ` (all ${counters.malformed} records were malformed, e.g. ${counters.malformedExamples[0]})` : '';
      throw new UserError(`source ${counters.source} yielded no documents${why}; check its path and contents`);
    }
  }
}
