// Interoperability against the real libraries: a toy run is exported in every format, then
// test/python/check_interop.py reads the model folder and the exports with transformers, torch,
// numpy, pyarrow, datasets, safetensors and gguf and compares them with what sbp computed here.
// Needs the Python stack (scripts/install-python-deps.sh → .venv); run with `npm run test:pystack`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { repoRoot, runCli, tempDir } from '../helpers.js';
import { writeToyConfig } from '../experiment/toy-experiment.js';
import { readCorpusDocs } from '../../src/data/corpus-reader.js';
import { createBackend } from '../../src/engine/open-backend.js';
import { findTokenSplits } from '../../src/export/export-tokens.js';
import { framedDocuments } from '../../src/export/token-stream.js';
import { loadModelFolder, saveModelFolder } from '../../src/model/hf-folder.js';
import { LlamaModel } from '../../src/model/llama.js';
import { modelFolderToGguf } from '../../src/export/model-to-gguf.js';
import { RefBackend } from '../../src/engine/ref-backend.js';
import type { SpecialTokens } from '../../src/tokenizer/special-tokens.js';
import { generate } from '../../src/sample/sampler.js';
import { PromptEncoder } from '../../src/serve/prompt-encoder.js';
import { Tokenizer, tokenizerFiles } from '../../src/tokenizer/tokenizer.js';
import { TokenDataset } from '../../src/tokens/token-dataset.js';
import { brownTexts, HARD_TEXTS } from '../tokenizer/texts.js';

/** The part of node-llama-cpp's API this test uses. */
interface NodeLlamaCpp {
  getLlama(opts: Record<string, unknown>): Promise<{ loadModel(opts: { modelPath: string }): Promise<LlamaCppModel> }>;
  LlamaLogLevel: { error: unknown };
}
interface LlamaCppModel {
  tokenize(text: string, special: boolean): ArrayLike<number>;
  createContext(opts: Record<string, number>): Promise<{ getSequence(): { evaluate(tokens: never, opts: { temperature: number }): AsyncIterable<unknown>; dispose(): void }; dispose(): Promise<void> }>;
  dispose(): Promise<void>;
}

/**
 * node-llama-cpp is installed apart from sbp, in scripts/llama-cpp-check/ with its own lock file, so that
 * `npm ci` of sbp does not pull llama.cpp's prebuilt binaries (about 0.6 GB with the GPU builds).
 */
async function importNodeLlamaCpp(): Promise<NodeLlamaCpp> {
  const req = createRequire(join(repoRoot, 'scripts', 'llama-cpp-check', 'package.json'));
  let entry: string;
  try {
    entry = req.resolve('node-llama-cpp');
  } catch {
    throw new Error('node-llama-cpp is not installed: run `npm ci --omit=optional --ignore-scripts --prefix scripts/llama-cpp-check` (scripts/test-python.sh does)');
  }
  return (await import(pathToFileURL(entry).href)) as NodeLlamaCpp;
}

/** A random model whose embeddings are scaled up, so its logits are far apart and greedy text varies. */
function spreadModel(vocabSize: number, qkNorm: boolean, s: SpecialTokens): LlamaModel {
  const m = new LlamaModel(
    { vocabSize, hiddenSize: 64, numLayers: 2, numHeads: 4, numKVHeads: 2, headDim: 16, intermediateSize: 128, maxSeqLen: 64, ropeTheta: 10_000, rmsNormEps: 1e-5, qkNorm, tieEmbeddings: qkNorm, bosTokenId: s.bos, eosTokenId: s.eos, padTokenId: s.pad },
    new RefBackend(),
    { seed: qkNorm ? 11 : 12 },
  );
  for (const e of m.paramTable) {
    if (!/embed_tokens|lm_head|q_proj|k_proj/.test(e.name)) continue;
    const w = m.readParam(e.name);
    for (let i = 0; i < w.length; i++) w[i]! *= 25;
    m.writeParam(e.name, w);
  }
  return m;
}

const PYTHON = process.env.SBP_PYTHON ?? join(repoRoot, '.venv', 'bin', 'python');

test('transformers, datasets, pyarrow, numpy and gguf read sbp model folders and exports as sbp does', { timeout: 600_000 }, async () => {
  assert.ok(existsSync(PYTHON), `${PYTHON} is missing: run scripts/install-python-deps.sh first`);
  const dir = tempDir();
  const config = writeToyConfig(dir);
  const run = join(dir, 'runs', 'toy');
  let r = runCli(['experiment', '-c', config, '-q'], { timeoutMs: 300_000 });
  assert.equal(r.status, 0, r.stderr);
  for (const format of ['megatron', 'llmc', 'nanogpt', 'parquet', 'pairs', 'gguf']) {
    r = runCli(['export', format, '-c', config, '-q']);
    assert.equal(r.status, 0, `${format}: ${r.stderr}`);
  }

  const modelDir = join(run, 'models', 'baseline');
  const tok = Tokenizer.load(join(modelDir, 'tokenizer.json'));
  const s = tok.special;
  const prompt = new PromptEncoder(tok);
  const texts = [...HARD_TEXTS, 'river boat<|sep|>garden<|eos|>'].map((text) => ({
    text,
    ids: Array.from(prompt.encode(text)),
    withoutSpecial: tok.decode(Array.from(prompt.encode(text)).filter((id) => ![s.bos, s.eos, s.sep, s.pad, ...s.reserved].includes(id))),
  }));
  const corpusTrain: Array<{ id: string; text: string }> = [];
  for await (const d of readCorpusDocs(join(run, 'corpus'), 'train')) corpusTrain.push({ id: d.id, text: d.text });
  const framing = corpusTrain.slice(0, 4).map((d, i) => {
    const d1 = d.text.slice(0, 60);
    const d2 = corpusTrain[i + 4]!.text;
    return { d1, d2, prompt: [s.bos, ...tok.encode(d1), s.sep], row: [s.bos, ...tok.encode(d1), s.sep, ...tok.encode(d2), s.eos] };
  });

  const backend = createBackend('cpu', { threads: 1 });
  const model = loadModelFolder(modelDir, backend);
  const prompts = ['river boat water', 'the music of the', 'winter snow and'].map((t) => Int32Array.from([s.bos, ...tok.encode(t)]));
  const greedyOf = (m: LlamaModel) =>
    generate(m, prompts, { temperature: 0, topK: 0, topP: 1, maxTokens: 24, seed: 1, stopTokens: [s.eos] }).map((g) => ({
      prompt: Array.from(g.prompt),
      tokens: Array.from(g.tokens),
      stopped: g.finishReason === 'stop',
    }));
  // The toy run's models are barely trained (their greedy text repeats one token), so two random
  // models with spread-out logits check the arithmetic too: Llama untied and Qwen3 tied.
  const greedyModels = [{ name: 'baseline', dir: modelDir, greedy: greedyOf(model) }];
  for (const [name, qkNorm] of [['random-llama', false], ['random-qwen3', true]] as const) {
    const m = spreadModel(tok.vocabSize, qkNorm, s);
    const d = join(dir, name);
    saveModelFolder(d, m, { tokenizer: tokenizerFiles(join(modelDir, 'tokenizer.json')) });
    greedyModels.push({ name, dir: d, greedy: greedyOf(loadModelFolder(d, backend)) });
  }

  const tokenDatasets = findTokenSplits(run).map((sp) => {
    const data = TokenDataset.open(join(run, sp.folder), sp.split);
    const tokens: number[] = [];
    const lengths: number[] = [];
    for (const d of framedDocuments(data, { bos: s.bos, eos: s.eos })) (tokens.push(...d.tokens), lengths.push(d.tokens.length));
    data.close();
    return { name: `${sp.folder}-${sp.split}`, tokens, lengths };
  });
  let synthDocs = 0;
  for await (const _ of readCorpusDocs(join(run, 'synth'), 'train')) synthDocs++;
  const ggufStats = JSON.parse(readFileSync(join(run, 'export', 'gguf', 'manifest.json'), 'utf8')).stats.files;
  const bf16Dir = join(dir, 'bf16-sharded');
  const expect = {
    runDir: run,
    modelDir,
    bf16Dir,
    special: { bos: s.bos, eos: s.eos, sep: s.sep, pad: s.pad },
    tokenizerSize: tok.vocabSize,
    texts,
    framing,
    greedyModels,
    tokenDatasets,
    corpusTrain,
    synthDocs,
    pairs: JSON.parse(readFileSync(join(run, 'export', 'pairs', 'manifest.json'), 'utf8')).stats.pairs,
    ggufModel: 'baseline',
    ggufTensors: ggufStats.find((f: { model: string }) => f.model === 'baseline').tensors,
    modelConfig: JSON.parse(readFileSync(join(modelDir, 'config.json'), 'utf8')),
  };
  const expectPath = join(dir, 'expect.json');
  writeFileSync(expectPath, JSON.stringify(expect));
  const py = spawnSync(PYTHON, [join(repoRoot, 'test', 'python', 'check_interop.py'), expectPath], { encoding: 'utf8', timeout: 300_000 });
  process.stdout.write(py.stdout);
  assert.equal(py.status, 0, `check_interop.py failed:\n${py.stdout}\n${py.stderr}`);

  // Coming back: the bf16, sharded folder transformers wrote loads in sbp and gives the same greedy tokens.
  assert.ok(existsSync(join(bf16Dir, 'model.safetensors.index.json')), 'transformers wrote a sharded folder');
  const back = loadModelFolder(bf16Dir, backend);
  assert.deepEqual(back.config.vocabSize, model.config.vocabSize);
  const a = model.logits(prompts[0]!, 1, prompts[0]!.length);
  const b = back.logits(prompts[0]!, 1, prompts[0]!.length);
  let maxDiff = 0;
  for (let i = 0; i < a.length; i++) maxDiff = Math.max(maxDiff, Math.abs(a[i]! - b[i]!));
  assert.ok(maxDiff < 0.1, `bf16 round trip logits differ by ${maxDiff}`);
  process.stdout.write(`ok  bf16 sharded folder from transformers loads in sbp: max logit difference ${maxDiff.toExponential(2)} (bf16 rounding)\n`);
});

test('node-llama-cpp (llama.cpp, prebuilt binary from npm) loads an exported GGUF and decodes greedily as sbp does', { timeout: 300_000 }, async () => {
  const dir = tempDir();
  const config = writeToyConfig(dir);
  const run = join(dir, 'runs', 'toy');
  for (const args of [['experiment', '-c', config, '-q'], ['export', 'gguf', '-c', config, '-q']]) {
    const r = runCli(args, { timeoutMs: 300_000 });
    assert.equal(r.status, 0, r.stderr);
  }
  const { getLlama, LlamaLogLevel } = await importNodeLlamaCpp();
  const llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error });
  const baseline = join(run, 'models', 'baseline');
  const tok = Tokenizer.load(join(baseline, 'tokenizer.json'));
  const folders: Array<[string, string]> = [['baseline', baseline]];
  for (const [name, qkNorm] of [['random-llama', false], ['random-qwen3', true]] as const) {
    const d = join(dir, name);
    saveModelFolder(d, spreadModel(tok.vocabSize, qkNorm, tok.special), { tokenizer: tokenizerFiles(join(baseline, 'tokenizer.json')) });
    folders.push([name, d]);
  }
  const distinct: Record<string, number> = {};
  for (const [name, folder] of folders) {
  const gguf = join(dir, `${name}.gguf`);
  if (name === 'baseline') assert.ok(existsSync(join(run, 'export', 'gguf', 'baseline.gguf')));
  modelFolderToGguf(folder, gguf, name);
  const ours = loadModelFolder(folder, createBackend('cpu', { threads: 1 }));
  const theirs = await llama.loadModel({ modelPath: gguf });
  const ctx = await theirs.createContext({ contextSize: 64, batchSize: 64, threads: 1 }); // one thread: the default pool spins on a shared machine
  const seen = new Set<number>();
  if (name === 'baseline') {
    // llama.cpp's own text tokenizer (pre-tokenizer `llama3`) against sbp's encode
    for (const text of [...HARD_TEXTS.filter((t) => !t.includes('<|')), ...brownTexts(4).flatMap((t) => t.split('\n')).filter(Boolean).slice(0, 400)]) {
      assert.deepEqual(Array.from(theirs.tokenize(text, false), Number), Array.from(tok.encode(text)), `llama.cpp tokenizes ${JSON.stringify(text.slice(0, 60))} differently`);
    }
  }
  for (const text of ['river boat water', 'the music of the', 'winter snow and']) {
    const prompt = Int32Array.from([tok.special.bos, ...tok.encode(text)]);
    const [g] = generate(ours, [prompt], { temperature: 0, topK: 0, topP: 1, maxTokens: 24, seed: 1, stopTokens: [tok.special.eos] });
    const seq = ctx.getSequence();
    const got: number[] = [];
    for await (const t of seq.evaluate(Array.from(prompt) as never, { temperature: 0 })) {
      if ((t as number) === tok.special.eos || got.length >= 24) break;
      got.push(t as number);
    }
    seq.dispose();
    assert.deepEqual(got, Array.from(g!.tokens), `${name}: greedy tokens after ${JSON.stringify(text)}`);
    for (const t of got) seen.add(t);
  }
  await ctx.dispose();
  await theirs.dispose();
  distinct[name] = seen.size;
  }
  assert.ok(distinct['random-llama']! >= 5, `the random Llama model's greedy text should vary (${JSON.stringify(distinct)} distinct tokens)`);
  process.stdout.write(`ok  node-llama-cpp: greedy tokens identical to sbp's, 3 prompts × 24 tokens per model; distinct tokens ${JSON.stringify(distinct)}\n`);
});
