// Synthesis throughput of the local engine: `[bos] d1 [sep]` prompts from real Brown text, d2 sampled
// (temperature 1, top-p 0.9, no early stop) through LocalCompletionBackend — the batched KV-cache
// sampler plus decoding and re-counting — next to the same sampler without a KV cache (every new token
// recomputes the whole sequence, the same random streams) in the same run; then the output filters
// on the produced documents. Model: the `tiny` preset's shape (d_model 128, 4 layers, 4 heads, 2 KV
// heads), randomly initialised (throughput does not depend on the weights), vocab 512, fp32.
// Prints one JSON object.
// Usage: npx tsx bench/synthesize.ts [--backend auto|cpu|ref] [--seeds 16] [--context 256] [--threads 2]
import { pathToFileURL } from 'node:url';
import { SynthesizeConfigSchema } from '../src/config/schema.js';
import { LlamaModel } from '../src/model/llama.js';
import type { LanguageModel, ModelConfig } from '../src/model/types.js';
import { LogitsSampler, type SamplingOptions } from '../src/sample/logits-sampler.js';
import { Rng } from '../src/sample/rng.js';
import { generate } from '../src/sample/sampler.js';
import { LocalCompletionBackend, mixSeed } from '../src/synth/local-completion-backend.js';
import { SynthFilter } from '../src/synth/synth-filters.js';
import { synthFraming, synthPrompt } from '../src/synth/synth-framing.js';
import { trainTokenizer } from '../src/tokenizer/tokenizer.js';
import { openBackend, type BackendChoice } from '../src/engine/open-backend.js';
import { brownPieces } from '../test/synth/fixture-run.js';
import { flag } from './train.js';

/** The peer: the same sampling, but each step feeds the whole sequence so far (no KV cache). */
function generateWithoutCache(model: LanguageModel, prompts: readonly Int32Array[], maxTokens: number, sampling: SamplingOptions, seed: number): Int32Array[] {
  const B = prompts.length;
  const V = model.config.vocabSize;
  const L0 = prompts[0]!.length;
  if (prompts.some((p) => p.length !== L0)) throw new Error('the no-cache peer needs prompts of one length');
  const sampler = new LogitsSampler(V, sampling);
  const rngs = prompts.map((_, b) => new Rng([seed, b])); // as generate(): stream (seed, index)
  const seqs = prompts.map((p) => Array.from(p));
  for (let step = 0; step < maxTokens; step++) {
    const T = L0 + step;
    const tokens = new Int32Array(B * T); // (B, T)
    seqs.forEach((s, b) => tokens.set(s, b * T));
    const logits = model.logits(tokens, B, T); // (B, T, V)
    const last = new Float32Array(B * V); // (B, V)
    for (let b = 0; b < B; b++) last.set(logits.subarray((b * T + T - 1) * V, (b * T + T) * V), b * V);
    for (let b = 0; b < B; b++) seqs[b]!.push(sampler.sample(last, b * V, rngs[b]!));
  }
  return seqs.map((s) => Int32Array.from(s.slice(L0)));
}

async function main(): Promise<void> {
  const seeds = Number(flag('seeds', '16'));
  const context = Number(flag('context', '256'));
  const threads = Number(flag('threads', '2'));
  const choice = flag('backend', 'auto') as BackendChoice;
  const notes: string[] = [];
  const backend = await openBackend(choice, threads, (l) => notes.push(l));
  const texts = brownPieces(Math.max(4, seeds), 2, Math.ceil(context / 2));
  const tokenizer = await trainTokenizer(texts, { vocabSize: 512, minFrequency: 2, maxTrainBytes: 1e8, reservedTokens: 0 }, { threads: 1 });
  const { bos, eos, sep, pad } = tokenizer.special;
  const config: ModelConfig = {
    vocabSize: tokenizer.vocabSize, hiddenSize: 128, numLayers: 4, numHeads: 4, numKVHeads: 2, headDim: 32, intermediateSize: 384, maxSeqLen: context,
    ropeTheta: 10_000, rmsNormEps: 1e-5, qkNorm: true, tieEmbeddings: true, bosTokenId: bos, eosTokenId: eos, padTokenId: pad,
  };
  const model = new LlamaModel(config, backend, { seed: 1 });
  const framing = synthFraming(config.maxSeqLen, 0.5);
  // Seeds long enough to fill the d1 budget, so every prompt has the same length (the peer needs it).
  const d1s = texts.map((t) => tokenizer.encode(t)).filter((ids) => ids.length >= framing.d1Budget).slice(0, seeds);
  if (d1s.length < seeds) throw new Error(`only ${d1s.length} seed texts fill the d1 budget`);
  const requests = d1s.map((d1, i) => {
    const { prompt, maxD2Tokens } = synthPrompt(framing, d1, bos, sep);
    return { prompt, maxTokens: maxD2Tokens, seed: i };
  });
  const maxTokens = requests[0]!.maxTokens;
  const sampling = { temperature: 1, topP: 0.9, topK: 0 };
  const batchSeed = 11;

  // Ours: the synthesis path. A tokenizer without eos hits keeps every sequence to maxTokens, like the peer.
  const noStop = { special: { eos: -1 }, decode: (ids: ArrayLike<number>) => tokenizer.decode(ids), encode: (t: string) => tokenizer.encode(t) };
  const local = new LocalCompletionBackend(model, noStop, sampling, seeds);
  let t0 = performance.now();
  const completions = await local.complete(requests, batchSeed);
  const oursSec = (performance.now() - t0) / 1000;
  const generatedTokens = seeds * maxTokens;

  // The same draws through generate() alone, to compare token for token with the peer.
  const cached = generate(model, requests.map((r) => r.prompt), { ...sampling, maxTokens, seed: mixSeed(batchSeed, maxTokens), stopTokens: [], batchSize: seeds });
  t0 = performance.now();
  const uncached = generateWithoutCache(model, requests.map((r) => r.prompt), maxTokens, sampling, mixSeed(batchSeed, maxTokens));
  const peerSec = (performance.now() - t0) / 1000;
  let sameTokens = 0;
  cached.forEach((g, b) => g.tokens.forEach((t, i) => (sameTokens += t === uncached[b]![i] ? 1 : 0)));

  // The filters (default rules) on the produced documents; a fresh filter per pass so none is a duplicate.
  const filterCfg = { ...SynthesizeConfigSchema.parse({}).filters, minTokens: 1 };
  t0 = performance.now();
  const reps = 20;
  for (let r = 0; r < reps; r++) {
    const filter = new SynthFilter(filterCfg, (t) => tokenizer.encode(t).length);
    for (const [i, c] of completions.entries()) filter.check(c, texts[i]!);
  }
  const filterMsPerDoc = (performance.now() - t0) / (reps * completions.length);

  console.log(
    JSON.stringify(
      {
        bench: 'synthesize',
        config: { model: { hiddenSize: 128, numLayers: 4, vocabSize: config.vocabSize, context: config.maxSeqLen, params: model.numParams }, seeds, promptTokens: requests[0]!.prompt.length, newTokensPerSeed: maxTokens, ...sampling, threads },
        backend: backend.name,
        notes,
        ours: { what: 'LocalCompletionBackend (KV cache, batched)', seconds: +oursSec.toFixed(2), tokensPerSec: +(generatedTokens / oursSec).toFixed(1) },
        peer: { what: 'same sampler, no KV cache (full recompute per token)', seconds: +peerSec.toFixed(2), tokensPerSec: +(generatedTokens / peerSec).toFixed(1) },
        speedupVsNoCache: +(peerSec / oursSec).toFixed(2),
        sameTokensAsPeer: +(sameTokens / generatedTokens).toFixed(4),
        filterMsPerDoc: +filterMsPerDoc.toFixed(3),
      },
      null,
      2,
    ),
  );
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
