import type { TokenArray } from '../tokens/shard-format.js';
import type { TokenizedDocuments } from '../tokens/token-dataset.js';

/** Some documents of a tokenized collection, renumbered 0..n-1 in the order given; nothing is copied. */
export class DocumentSubset implements TokenizedDocuments {
  readonly numDocs: number;
  readonly numTokens: number;
  readonly vocabSize: number;

  constructor(
    private readonly base: TokenizedDocuments,
    private readonly docs: Uint32Array, // (numDocs,) document numbers in `base`
  ) {
    let tokens = 0;
    for (const d of docs) {
      if (d >= base.numDocs) throw new RangeError(`document ${d} is outside the collection's ${base.numDocs} documents`);
      tokens += base.docLength(d);
    }
    this.numDocs = docs.length;
    this.numTokens = tokens;
    this.vocabSize = base.vocabSize;
  }

  docLength(i: number): number {
    return this.base.docLength(this.docs[i]!);
  }

  doc(i: number): TokenArray {
    return this.base.doc(this.docs[i]!);
  }

  docId(i: number): string {
    return this.base.docId(this.docs[i]!);
  }
}
