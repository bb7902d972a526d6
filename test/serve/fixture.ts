import { join } from 'node:path';
import { TokenizerConfigSchema } from '../../src/config/schema.js';
import { RefBackend } from '../../src/engine/ref-backend.js';
import { saveModelFolder } from '../../src/model/hf-folder.js';
import { LlamaModel } from '../../src/model/llama.js';
import type { ModelConfig } from '../../src/model/types.js';
import { Tokenizer, trainTokenizer, tokenizerFiles } from '../../src/tokenizer/tokenizer.js';
import { fixtureDocs } from '../embed/fixture-run.js';
import { tempDir } from '../helpers.js';

export interface ServeFixture {
  dir: string; // the model folder (config.json, model.safetensors, tokenizer.json)
  model: LlamaModel; // the same weights, on the ref backend, for oracles
  tokenizer: Tokenizer;
}

/** A tiny random Llama model and a small trained tokenizer, saved as a Hugging Face folder. */
/** `extraVocab` pads the model's vocabulary past the tokenizer's by that many rows, as many published checkpoints do. */
export async function serveFixture(opts: { hiddenSize?: number; numLayers?: number; maxSeqLen?: number; seed?: number; extraVocab?: number } = {}): Promise<ServeFixture> {
  const texts = fixtureDocs(40, 'serve').map((d) => d.text);
  const tokenizer = await trainTokenizer(texts, TokenizerConfigSchema.parse({ vocabSize: 300, minFrequency: 2 }), { threads: 1 });
  const C = opts.hiddenSize ?? 32;
  const config: ModelConfig = {
    vocabSize: tokenizer.vocabSize + (opts.extraVocab ?? 0),
    hiddenSize: C,
    numLayers: opts.numLayers ?? 2,
    numHeads: 4,
    numKVHeads: 2,
    headDim: C / 4,
    intermediateSize: 2 * C,
    maxSeqLen: opts.maxSeqLen ?? 128,
    ropeTheta: 10_000,
    rmsNormEps: 1e-5,
    qkNorm: true,
    tieEmbeddings: false,
    bosTokenId: tokenizer.special.bos,
    eosTokenId: tokenizer.special.eos,
    padTokenId: tokenizer.special.pad,
  };
  // Weights drawn with a larger spread than the usual 0.02, so a random model's next-token
  // distributions are peaked and its greedy choices are far from ties.
  const model = new LlamaModel(config, new RefBackend(), { seed: opts.seed ?? 7 });
  for (const e of model.paramTable) {
    if (e.name.includes('norm')) continue;
    const w = model.readParam(e.name);
    for (let i = 0; i < w.length; i++) w[i] *= 10;
    model.writeParam(e.name, w);
  }
  const root = tempDir('sbp-serve-');
  const tokPath = join(root, 'tokenizer.json');
  tokenizer.save(tokPath);
  const dir = join(root, 'tiny-serve');
  saveModelFolder(dir, model, { tokenizer: tokenizerFiles(tokPath) });
  return { dir, model, tokenizer };
}

/** A request to a test server: status, the body as text, and as JSON when it parses. */
export async function fetchJson(url: string, body?: unknown, opts: { raw?: string; timeoutMs?: number } = {}): Promise<{ status: number; json: any; text: string }> {
  const init: RequestInit = body === undefined && opts.raw === undefined ? {} : { method: 'POST', body: opts.raw ?? JSON.stringify(body), headers: { 'content-type': 'application/json' } };
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(opts.timeoutMs ?? 60_000) });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, json, text };
}
