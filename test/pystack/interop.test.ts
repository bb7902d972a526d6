// Interoperability against the real libraries: a toy run is exported in every format, then
// test/python/check_interop.py reads the model folder and the exports with transformers, torch,
// numpy, pyarrow, datasets, safetensors and gguf and compares them with what sbp computed here.
// Needs the Python stack (scripts/install-python-deps.sh → .venv); run with `npm run test:pystack`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot, runCli, tempDir } from '../helpers.js';
import { writeToyConfig } from '../experiment/toy-experiment.js';
import { readCorpusDocs } from '../../src/data/corpus-reader.js';
import { createBackend } from '../../src/engine/open-backend.js';
import { findTokenSplits } from '../../src/export/export-tokens.js';
import { framedDocuments } from '../../src/export/token-stream.js';
import { loadModelFolder } from '../../src/model/hf-folder.js';
import { generate } from '../../src/sample/sampler.js';
import { PromptEncoder } from '../../src/serve/prompt-encoder.js';
import { Tokenizer } from '../../src/tokenizer/tokenizer.js';
import { TokenDataset } from '../../src/tokens/token-dataset.js';
import { HARD_TEXTS } from '../tokenizer/texts.js';

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
  const gens = generate(model, prompts, { temperature: 0, topK: 0, topP: 1, maxTokens: 16, seed: 1, stopTokens: [s.eos] });
  const greedy = gens.map((g) => ({ prompt: Array.from(g.prompt), tokens: Array.from(g.tokens), stopped: g.finishReason === 'stop' }));

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
    greedy,
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
  const { getLlama, LlamaLogLevel } = await import('node-llama-cpp');
  const llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error });
  const modelDir = join(run, 'models', 'baseline');
  const tok = Tokenizer.load(join(modelDir, 'tokenizer.json'));
  const ours = loadModelFolder(modelDir, createBackend('cpu', { threads: 1 }));
  const theirs = await llama.loadModel({ modelPath: join(run, 'export', 'gguf', 'baseline.gguf') });
  const ctx = await theirs.createContext({ contextSize: 64, batchSize: 64 });
  for (const text of ['river boat water', 'the music of the', 'winter snow and']) {
    const prompt = Int32Array.from([tok.special.bos, ...tok.encode(text)]);
    const [g] = generate(ours, [prompt], { temperature: 0, topK: 0, topP: 1, maxTokens: 16, seed: 1, stopTokens: [tok.special.eos] });
    const seq = ctx.getSequence();
    const got: number[] = [];
    for await (const t of seq.evaluate(Array.from(prompt) as never, { temperature: 0 })) {
      if ((t as number) === tok.special.eos || got.length >= 16) break;
      got.push(t as number);
    }
    seq.dispose();
    assert.deepEqual(got, Array.from(g!.tokens), `greedy tokens after ${JSON.stringify(text)}`);
  }
  await ctx.dispose();
  await theirs.dispose();
});
