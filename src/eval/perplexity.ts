import type { LanguageModel } from '../model/types.js';
import type { TokenizedDocuments } from '../tokens/token-dataset.js';
import { scoreSequences, type ScoredSequence } from './token-scorer.js';

/** One document to measure: its tokens (no bos/eos) and the UTF-8 size of its text. */
export interface PerplexityDocument {
  id: string;
  tokens: ArrayLike<number>;
  bytes: number;
}

/** Per-document result: the item of the bootstrap. */
export interface DocumentLoss {
  id: string;
  nats: number; // Σ −log p over the document's tokens
  tokens: number; // tokens scored (= the document's length)
  bytes: number; // UTF-8 bytes of the document's text
}

export interface PerplexitySummary {
  docs: number;
  tokens: number;
  bytes: number;
  loss: number; // mean nats per token
  perplexity: number; // exp(loss)
  bitsPerByte: number; // Σ nats / (ln 2 · Σ bytes): comparable across tokenizers
}

export interface WindowOptions {
  window: number; // input tokens per row (≤ the model's context)
  stride: number; // 1 ≤ stride ≤ window: how far each next window starts after the previous one
}

export interface PerplexityOptions extends WindowOptions {
  batchTokens: number;
  /** Stop after this many documents (in the given order). */
  maxDocs?: number;
  /** Scoring windows finished so far, of `total`. */
  onProgress?: (done: number, total: number) => void;
}

/**
 * The scoring windows of one document, framed as the trainer frames it: s = [bos, t1 … tn]; every
 * t_i is scored exactly once, eos is not (we measure the text, not where it ends). Window k reads
 * s[k·stride … k·stride + window] and scores the tokens no earlier window scored, so after the first
 * window every scored token sees at least `window − stride` tokens of context (stride = window gives
 * disjoint windows; smaller strides cost more passes and give the model more context).
 */
export function documentWindows(tokens: ArrayLike<number>, bos: number, opts: WindowOptions): ScoredSequence[] {
  const { window: W, stride: S } = opts;
  if (!(Number.isInteger(W) && W >= 1)) throw new RangeError(`window must be a positive integer, got ${W}`);
  if (!(Number.isInteger(S) && S >= 1 && S <= W)) throw new RangeError(`stride must be an integer in 1..window (${W}), got ${S}`);
  const n = tokens.length;
  const s = new Int32Array(n + 1); // (n+1) [bos, t1 … tn]
  s[0] = bos;
  for (let i = 0; i < n; i++) s[i + 1] = tokens[i]!;
  const out: ScoredSequence[] = [];
  let scoredUpTo = 0; // s[1..scoredUpTo] are scored
  for (let a = 0; scoredUpTo < n; a += S) {
    const e = Math.min(a + W, n); // last target index of this window
    if (e <= scoredUpTo) continue;
    out.push({ tokens: s.slice(a, e + 1), scoreStart: scoredUpTo + 1 - a });
    scoredUpTo = e;
  }
  return out;
}

/** Per-document token losses of a causal LM, all windows of all documents batched together. */
export async function documentLosses(lm: LanguageModel, docs: readonly PerplexityDocument[], opts: PerplexityOptions): Promise<DocumentLoss[]> {
  const chosen = opts.maxDocs !== undefined ? docs.slice(0, opts.maxDocs) : docs;
  const seqs: ScoredSequence[] = [];
  const owner: number[] = []; // document of each window
  const windowsLeft: number[] = chosen.map(() => 0);
  chosen.forEach((d, i) => {
    for (const w of documentWindows(d.tokens, lm.config.bosTokenId, opts)) {
      seqs.push(w);
      owner.push(i);
      windowsLeft[i]!++;
    }
  });
  const scores = await scoreSequences(lm, seqs, {
    batchTokens: opts.batchTokens,
    greedy: false,
    onProgress: opts.onProgress && ((done) => opts.onProgress!(done, seqs.length)),
  });
  const out: DocumentLoss[] = chosen.map((d) => ({ id: d.id, nats: 0, tokens: 0, bytes: d.bytes }));
  scores.forEach((sc, k) => {
    const r = out[owner[k]!]!;
    r.nats -= sc.logProb;
    r.tokens += sc.tokens;
  });
  return out;
}

/** Corpus-level numbers from per-document losses: token-weighted, so long documents count fully. */
export function summarizePerplexity(losses: readonly DocumentLoss[]): PerplexitySummary {
  let nats = 0;
  let tokens = 0;
  let bytes = 0;
  for (const l of losses) {
    nats += l.nats;
    tokens += l.tokens;
    bytes += l.bytes;
  }
  const loss = tokens > 0 ? nats / tokens : NaN;
  return { docs: losses.length, tokens, bytes, loss, perplexity: Math.exp(loss), bitsPerByte: bytes > 0 ? nats / (Math.LN2 * bytes) : NaN };
}

/**
 * Documents of a token dataset (e.g. `tokens/heldout-*.tok`) as perplexity input; the byte size of
 * each comes from decoding its tokens (`bytesOf`, exact for byte-level BPE).
 */
export function tokenDatasetDocuments(ds: TokenizedDocuments, bytesOf: (id: number) => Uint8Array, maxDocs = Infinity): PerplexityDocument[] {
  const out: PerplexityDocument[] = [];
  for (let i = 0; i < ds.numDocs && out.length < maxDocs; i++) {
    const tokens = Int32Array.from(ds.doc(i) as ArrayLike<number>);
    let bytes = 0;
    for (let k = 0; k < tokens.length; k++) bytes += bytesOf(tokens[k]!).length;
    out.push({ id: ds.docId(i), tokens, bytes });
  }
  return out;
}

/** Texts tokenized on the fly with a model's tokenizer. */
export function textDocuments(texts: readonly { id: string; text: string }[], encode: (text: string) => ArrayLike<number>): PerplexityDocument[] {
  const enc = new TextEncoder();
  return texts.map((t) => ({ id: t.id, tokens: encode(t.text), bytes: enc.encode(t.text).length }));
}
