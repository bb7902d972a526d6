import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { UserError } from '../common/errors.js';
import { SHARD_EXTENSION, type TokenArray, type TokenDType } from './shard-format.js';
import { TokenShardReader, type TokenShardReaderOptions } from './shard-reader.js';
import { DocumentOrder, type DocumentOrderOptions } from './document-order.js';

/** What the trainer and the mixture sampler need from a collection of tokenized documents. */
export interface TokenizedDocuments {
  readonly numDocs: number;
  readonly numTokens: number;
  readonly vocabSize: number;
  docLength(i: number): number;
  doc(i: number): TokenArray;
  docId(i: number): string;
}

/** `<split>-NNNNN.tok` files of a tokens folder, in shard order. */
export function listTokenShards(tokensDir: string, split: string): string[] {
  if (!existsSync(tokensDir)) return [];
  const re = new RegExp(`^${split.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}-(\\d+)\\${SHARD_EXTENSION}$`);
  return readdirSync(tokensDir)
    .filter((name) => re.test(name))
    .sort((a, b) => Number(re.exec(a)![1]) - Number(re.exec(b)![1]))
    .map((name) => join(tokensDir, name));
}

/**
 * All token shards of one split as one sequence of documents, numbered shard by shard. Every shard
 * must come from the same tokenizer (same vocabulary size). Holds each shard's index in memory and
 * one open file per shard; call `close()` when done.
 */
export class TokenDataset implements TokenizedDocuments {
  readonly shards: TokenShardReader[];
  readonly numDocs: number;
  readonly numTokens: number;
  readonly vocabSize: number;
  readonly dtype: TokenDType;
  private readonly firstDoc: Float64Array; // (numShards+1,) global number of each shard's first document

  constructor(shards: TokenShardReader[]) {
    if (shards.length === 0) throw new Error('TokenDataset needs at least one shard');
    const vocab = shards[0]!.vocabSize;
    for (const s of shards) {
      if (s.vocabSize !== vocab) {
        throw new UserError(`${s.path}: vocabulary size ${s.vocabSize} differs from ${shards[0]!.path} (${vocab}): the shards come from different tokenizers; rerun \`sbp tokenize --force\``);
      }
    }
    this.shards = shards;
    this.vocabSize = vocab;
    this.dtype = shards[0]!.dtype;
    this.firstDoc = new Float64Array(shards.length + 1);
    let tokens = 0;
    for (let k = 0; k < shards.length; k++) {
      this.firstDoc[k + 1] = this.firstDoc[k]! + shards[k]!.numDocs;
      tokens += shards[k]!.numTokens;
    }
    this.numDocs = this.firstDoc[shards.length]!;
    this.numTokens = tokens;
  }

  /** Opens `<tokensDir>/<split>-*.tok`; a split with no shards is a UserError that says which stage to run. */
  static open(tokensDir: string, split: string, opts: TokenShardReaderOptions & { hint?: string; verify?: boolean } = {}): TokenDataset {
    const paths = listTokenShards(tokensDir, split);
    if (paths.length === 0) {
      throw new UserError(`${tokensDir}: no ${split}-*${SHARD_EXTENSION} token shards; run \`${opts.hint ?? 'sbp tokenize'}\` first`);
    }
    return TokenDataset.fromFiles(paths, opts);
  }

  /**
   * Opens the shards and verifies each one's token checksum and token ids (once per shard per
   * process, see TokenShardReader.verifyOnce): a changed token id is an error naming the shard, not
   * silently different training data. `verify: false` is for tools that only read the index.
   */
  static fromFiles(paths: string[], opts: TokenShardReaderOptions & { verify?: boolean } = {}): TokenDataset {
    const readers: TokenShardReader[] = [];
    try {
      for (const p of paths) {
        const r = TokenShardReader.open(p, opts);
        readers.push(r);
        if (opts.verify !== false) r.verifyOnce();
      }
      return new TokenDataset(readers);
    } catch (err) {
      for (const r of readers) r.close();
      throw err;
    }
  }

  /** Which shard holds global document i, and its number inside that shard. */
  locate(i: number): { shard: number; local: number } {
    if (!(Number.isInteger(i) && i >= 0 && i < this.numDocs)) throw new RangeError(`document ${i} is outside 0..${this.numDocs - 1}`);
    let lo = 0;
    let hi = this.shards.length - 1;
    while (lo < hi) {
      // Largest k with firstDoc[k] <= i; empty shards share a firstDoc with their successor.
      const mid = (lo + hi + 1) >>> 1;
      if (this.firstDoc[mid]! <= i) lo = mid;
      else hi = mid - 1;
    }
    return { shard: lo, local: i - this.firstDoc[lo]! };
  }

  doc(i: number): TokenArray {
    const { shard, local } = this.locate(i);
    return this.shards[shard]!.doc(local);
  }

  docLength(i: number): number {
    const { shard, local } = this.locate(i);
    return this.shards[shard]!.docLength(local);
  }

  docId(i: number): string {
    const { shard, local } = this.locate(i);
    return this.shards[shard]!.docId(local);
  }

  /** A seeded, resumable order over this dataset's documents (see DocumentOrder). */
  order(opts: DocumentOrderOptions): DocumentOrder {
    return new DocumentOrder(this.numDocs, opts);
  }

  close(): void {
    for (const s of this.shards) s.close();
  }
}
