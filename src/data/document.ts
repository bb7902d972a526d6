/**
 * One document of the corpus: what every source yields, what `corpus/*.jsonl` holds one per line,
 * and what later stages (tokenizer, embedder, pair miner) read back.
 */
export interface Document {
  /** Unique within a source, stable across reruns (e.g. `brown:ca01`, `notes.jsonl:17`). */
  id: string;
  text: string;
  /** Where the document came from (source kind, path, category, ...); JSON-serialisable. */
  meta: Record<string, unknown>;
}

/** The two outputs of the split; held-out documents never appear in train and vice versa. */
export type CorpusSplit = 'train' | 'heldout';
export const CORPUS_SPLITS: readonly CorpusSplit[] = ['train', 'heldout'];
