import { UserError } from '../common/errors.js';
import type { Batch } from '../model/types.js';
import type { DocumentCorpus, FramingTokens } from './batch-source.js';

/**
 * A fixed evaluation set: held-out documents in their stored order, framed `[bos] tokens [eos]`,
 * concatenated and cut into rows like training rows, until `maxTokens` targets are collected or the
 * split ends (one pass, nothing repeated). The last row is padded with mask 0, and the last batch is
 * filled up with fully masked rows, so every batch has the same shape (B, T).
 */
export function heldoutBatches(corpus: DocumentCorpus, B: number, T: number, framing: FramingTokens, maxTokens: number): Batch[] {
  if (corpus.numDocs === 0) throw new UserError('the held-out split holds no documents: set prepare.heldOutFraction > 0 and rerun prepare, or set train.evalTokens=0');
  const stream: number[] = [];
  for (let d = 0; d < corpus.numDocs && stream.length < maxTokens + 1; d++) {
    const doc = corpus.doc(d);
    stream.push(framing.bos);
    for (let i = 0; i < doc.length; i++) stream.push(doc[i]!);
    stream.push(framing.eos);
  }
  const targets = Math.min(maxTokens, stream.length - 1);
  const rows = Math.ceil(targets / T);
  const batches: Batch[] = [];
  for (let r0 = 0; r0 < rows; r0 += B) {
    const batch: Batch = { B, T, tokens: new Int32Array(B * T), targets: new Int32Array(B * T), mask: new Float32Array(B * T) };
    for (let b = 0; b < B && r0 + b < rows; b++) {
      const start = (r0 + b) * T;
      for (let t = 0; t < T && start + t < targets; t++) {
        batch.tokens[b * T + t] = stream[start + t]!;
        batch.targets[b * T + t] = stream[start + t + 1]!;
        batch.mask![b * T + t] = 1;
      }
    }
    batches.push(batch);
  }
  return batches;
}
