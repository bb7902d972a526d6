import { readLines } from '../data/line-reader.js';
import { parseCorpusLine } from '../data/corpus-reader.js';
import { TokenShardWriter } from './shard-writer.js';
import type { TokenDType } from './shard-format.js';

/** What tokenizing needs from a tokenizer (the BPE `Tokenizer` has it; tests may pass a stand-in). */
export interface TokenEncoder {
  readonly vocabSize: number;
  encode(text: string): ArrayLike<number>;
}

/** Counts for one token shard; recorded in its completion marker so a resumed run need not reread it. */
export interface ShardTokenStats {
  docs: number;
  tokens: number;
  bytes: number; // UTF-8 bytes of the documents' text
  emptyDocs: number; // documents that encode to zero tokens (kept, so ids stay aligned with the corpus)
  maxDocTokens: number;
  dtype: TokenDType;
  fileBytes: number; // size of the .tok file
}

/**
 * Tokenizes one corpus shard (JSONL, one document per line) into one token shard, in document order.
 * Streaming: memory is the writer's chunk plus the shard's index. The output appears only when
 * complete (see TokenShardWriter); on any error the partial file is removed.
 * `onProgress` gets the corpus-file bytes consumed since its last call.
 */
export async function tokenizeShard(input: string, output: string, encoder: TokenEncoder, onProgress?: (fileBytes: number) => void): Promise<ShardTokenStats> {
  const writer = new TokenShardWriter(output, { vocabSize: encoder.vocabSize });
  const stats = { docs: 0, tokens: 0, bytes: 0, emptyDocs: 0, maxDocTokens: 0 };
  let pendingBytes = 0;
  try {
    for await (const { line, lineNo } of readLines(input)) {
      const doc = parseCorpusLine(line, `${input}:${lineNo}`);
      const tokens = encoder.encode(doc.text);
      writer.addDocument(doc.id, tokens);
      stats.docs++;
      stats.tokens += tokens.length;
      stats.bytes += Buffer.byteLength(doc.text, 'utf8');
      if (tokens.length === 0) stats.emptyDocs++;
      if (tokens.length > stats.maxDocTokens) stats.maxDocTokens = tokens.length;
      pendingBytes += line.length + 1;
      if (onProgress && pendingBytes >= 1 << 20) {
        onProgress(pendingBytes);
        pendingBytes = 0;
      }
    }
    const summary = writer.close();
    if (onProgress && pendingBytes > 0) onProgress(pendingBytes);
    return { ...stats, dtype: summary.dtype, fileBytes: summary.bytes };
  } catch (err) {
    writer.abort();
    throw err;
  }
}
