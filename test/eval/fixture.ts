import { RefBackend } from '../../src/engine/ref-backend.js';
import { resolveModelConfig } from '../../src/model/config.js';
import { LlamaModel } from '../../src/model/llama.js';
import type { Batch, KVCache, LanguageModel, ModelConfig } from '../../src/model/types.js';
import { PackedBatchSource } from '../../src/train/packed-batch-source.js';
import { train } from '../../src/train/trainer.js';
import { tempDir } from '../helpers.js';

/** A tiny text a tiny model can memorise: twelve sentences, each its own document. */
export const SENTENCES = [
  'the red fox jumps over the lazy dog near the river.',
  'a green frog sings loudly under the old stone bridge.',
  'my brother bakes fresh bread every sunday morning.',
  'the tall ship sails north across the cold grey sea.',
  'seven small birds sleep quietly in the apple tree.',
  'our teacher reads long stories about distant stars.',
  'the busy market opens early when the sun rises.',
  'two black cats chase a yellow ball down the hall.',
  'she paints bright flowers on the kitchen wall.',
  'the old clock strikes twelve at the end of the day.',
  'farmers plant corn and beans before the spring rain.',
  'a quiet lake reflects the mountains like a mirror.',
];

export function tinyConfig(vocabSize: number, over: Partial<ModelConfig> = {}): ModelConfig {
  return {
    ...resolveModelConfig({ preset: 'tiny', vocabSize, hiddenSize: 32, numLayers: 1, numHeads: 2, numKVHeads: 1, headDim: 16, intermediateSize: 64, maxSeqLen: 64 }),
    bosTokenId: 0,
    eosTokenId: 1,
    padTokenId: 2,
    ...over,
  };
}

/**
 * A word-level vocabulary of the sentences (ids 0-2 are bos, eos, pad): pieces are a word with the
 * space before it, so "the red fox" is ["the", " red", " fox"]. Keeps V (and the ref backend's time) small.
 */
export class WordVocabulary {
  readonly ids = new Map<string, number>();
  constructor(texts: readonly string[]) {
    for (const t of texts) for (const piece of WordVocabulary.pieces(t)) if (!this.ids.has(piece)) this.ids.set(piece, 3 + this.ids.size);
  }
  static pieces(text: string): string[] {
    return text.match(/\s*\S+/g) ?? [];
  }
  get size(): number {
    return 3 + this.ids.size;
  }
  encode = (text: string): Int32Array =>
    Int32Array.from(WordVocabulary.pieces(text), (p) => {
      const id = this.ids.get(p);
      if (id === undefined) throw new Error(`"${p}" is not in the test vocabulary`);
      return id;
    });
}

/** A real Llama (ref backend) trained until it has memorised the sentences. */
export async function overfitModel(steps = 120): Promise<{ model: LlamaModel; vocab: WordVocabulary; finalLoss: number }> {
  const vocab = new WordVocabulary(SENTENCES);
  const model = new LlamaModel(tinyConfig(vocab.size), new RefBackend(), { seed: 7 });
  const docs = SENTENCES.map((s) => vocab.encode(s));
  const data = new PackedBatchSource({ numDocs: docs.length, doc: (i) => docs[i]! }, 2, 32, { bos: 0, eos: 1 }, 1);
  let finalLoss = NaN;
  await train({
    model,
    data,
    cfg: {
      steps, gradAccumSteps: 1, lr: 2e-2, lrFloor: 2e-3, warmupFraction: 0.05, beta1: 0.9, beta2: 0.95, eps: 1e-8,
      weightDecay: 0, decayEmbeddings: false, noDecay: [], clip: 1, evalEvery: 0, checkpointEvery: 0, logEvery: 1, maxBadSteps: 2,
    },
    dir: tempDir(),
    models: { save: () => {}, loadInto: () => {} },
    quiet: true,
    log: () => {},
    onStep: (m) => (finalLoss = m.loss ?? NaN),
  });
  return { model, vocab, finalLoss };
}

/**
 * A context-free test double: every position has the same next-token distribution `p` (V), so the
 * log-likelihood of any continuation is a sum of known terms — an exact oracle for the task scorer.
 */
export class UnigramModel implements LanguageModel {
  readonly config: ModelConfig;
  readonly logitsCalls: Array<{ B: number; T: number; rowLengths: number[] }> = []; // rowLengths: non-pad inputs per row
  private readonly row: Float32Array; // (V) log p

  constructor(p: number[]) {
    this.config = tinyConfig(p.length, { bosTokenId: 0, eosTokenId: 1, padTokenId: 2 });
    this.row = Float32Array.from(p, (x) => Math.log(x));
  }

  logits(tokens: Int32Array, B: number, T: number): Float32Array {
    const rowLengths = Array.from({ length: B }, (_, b) => tokens.subarray(b * T, (b + 1) * T).filter((t) => t !== this.config.padTokenId).length);
    this.logitsCalls.push({ B, T, rowLengths });
    const V = this.row.length;
    const out = new Float32Array(B * T * V); // (B, T, V)
    for (let i = 0; i < B * T; i++) out.set(this.row, i * V);
    return out;
  }

  readonly backend = new RefBackend(); // the scorer's cross-entropy runs on it
  get params(): never {
    throw new Error('UnigramModel has no parameters');
  }
  get grads(): never {
    throw new Error('UnigramModel has no gradients');
  }
  readonly paramTable = [];
  readonly numParams = 0;
  zeroGrads(): void {}
  forwardBackward(): { loss: number; tokens: number } {
    throw new Error('not trainable');
  }
  evalLoss(_b: Batch): { sumLoss: number; tokens: number } {
    throw new Error('not used');
  }
  hiddenStates(): Float32Array {
    throw new Error('not used');
  }
  createKVCache(): KVCache {
    throw new Error('not used');
  }
  step(): Float32Array {
    throw new Error('not used');
  }
}
