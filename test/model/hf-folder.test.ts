import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { repoRoot, tempDir } from '../helpers.js';
import { UserError } from '../../src/common/errors.js';
import { RefBackend } from '../../src/engine/ref-backend.js';
import { LlamaModel } from '../../src/model/llama.js';
import { loadModelFolder, saveModelFolder } from '../../src/model/hf-folder.js';
import { SafetensorsFile, halfToFloat, writeSafetensors } from '../../src/model/safetensors.js';
import { MODEL_PRESETS, countParams, fromHfConfig, resolveModelConfig, toHfConfig, trainFlopsPerToken } from '../../src/model/config.js';
import type { ModelConfig } from '../../src/model/types.js';

const CFG: ModelConfig = {
  vocabSize: 40, hiddenSize: 16, numLayers: 2, numHeads: 4, numKVHeads: 2, headDim: 4, intermediateSize: 20,
  maxSeqLen: 16, ropeTheta: 10_000, rmsNormEps: 1e-5, qkNorm: true, tieEmbeddings: false, bosTokenId: 1, eosTokenId: 2, padTokenId: 0,
};
const TOKENS = Int32Array.from([3, 9, 1, 27, 5, 39, 0, 11]);
const ROOT = tempDir();
let folders = 0;
/** A fresh folder path under this file's one temporary root. */
const freshDir = (name: string) => join(ROOT, `${name}-${folders++}`);

/** Writes a safetensors file by hand from a header and raw little-endian bytes. */
function rawSafetensors(path: string, header: unknown, data: Uint8Array): void {
  const json = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  writeFileSync(path, Buffer.concat([len, json, data]));
}

test('save → load round trip: identical logits, HF files present, config.json names the architecture', () => {
  for (const cfg of [CFG, { ...CFG, qkNorm: false, tieEmbeddings: true }]) {
    const dir = freshDir('model');
    const model = new LlamaModel(cfg, new RefBackend(), { seed: 4 });
    saveModelFolder(dir, model, { generation: { temperature: 1, top_p: 0.9 } });
    for (const f of ['config.json', 'model.safetensors', 'generation_config.json']) assert.ok(existsSync(join(dir, f)), f);
    const hf = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    assert.deepEqual(hf.architectures, [cfg.qkNorm ? 'Qwen3ForCausalLM' : 'LlamaForCausalLM']);
    assert.equal(hf.torch_dtype, 'float32');
    const gen = JSON.parse(readFileSync(join(dir, 'generation_config.json'), 'utf8'));
    assert.deepEqual(gen, { bos_token_id: 1, eos_token_id: 2, pad_token_id: 0, temperature: 1, top_p: 0.9 });
    const st = SafetensorsFile.open(join(dir, 'model.safetensors'));
    assert.equal(st.metadata['format'], 'pt');
    assert.equal(st.tensors.has('lm_head.weight'), !cfg.tieEmbeddings);
    st.close();
    const loaded = loadModelFolder(dir, new RefBackend());
    assert.deepEqual(loaded.config, cfg);
    assert.deepEqual(loaded.logits(TOKENS, 2, 4), model.logits(TOKENS, 2, 4));
  }
});

test('loading refuses mismatched folders with errors naming the file and tensor', () => {
  const base = freshDir('model');
  saveModelFolder(base, new LlamaModel(CFG, new RefBackend(), { seed: 4 }));
  const variant = (edit: (dir: string) => void) => {
    const dir = freshDir('variant');
    cpSync(base, dir, { recursive: true });
    rmSync(join(dir, 'checksums.json')); // a hand-edited folder: its checksums would (rightly) refuse it first
    edit(dir);
    return dir;
  };
  const cases: Array<[string, (dir: string) => void, RegExp]> = [
    ['no config', (d) => writeFileSync(join(d, 'config.json'), 'nope'), /config\.json: not valid JSON/],
    ['architecture', (d) => patchConfig(d, { architectures: ['GPT2LMHeadModel'] }), /GPT2LMHeadModel.*not supported/],
    ['rope scaling', (d) => patchConfig(d, { rope_scaling: { rope_type: 'llama3', factor: 8 } }), /"rope_scaling".*not supported/],
    ['width', (d) => patchConfig(d, { intermediate_size: 24 }), /model\.safetensors: tensor "model\.layers\.0\.mlp\.gate_proj\.weight" has shape \[20, 16\].*\[24, 16\]/],
    ['missing tensor', (d) => patchConfig(d, { num_hidden_layers: 3 }), /tensor "model\.layers\.2\.input_layernorm\.weight" is missing/],
    ['extra tensor', (d) => patchConfig(d, { architectures: ['LlamaForCausalLM'] }), /unexpected tensor "model\.layers\.0\.self_attn\.q_norm\.weight"/],
    ['heads', (d) => patchConfig(d, { num_key_value_heads: 3 }), /numKVHeads/],
  ];
  for (const [what, edit, pattern] of cases) {
    const dir = variant(edit);
    assert.throws(() => loadModelFolder(dir, new RefBackend()), (err: unknown) => err instanceof UserError && pattern.test(err.message), what);
  }
});

function patchConfig(dir: string, patch: Record<string, unknown>): void {
  const p = join(dir, 'config.json');
  writeFileSync(p, JSON.stringify({ ...JSON.parse(readFileSync(p, 'utf8')), ...patch }));
}

test('safetensors: F16 / BF16 / F64 read as float32; corrupt files are UserErrors naming the file', () => {
  const dir = freshDir('st');
  mkdirSync(dir);
  // 1.0, -2.5, 65504 (max half), 2^-24 (smallest subnormal)
  const f16 = Uint16Array.from([0x3c00, 0xc100, 0x7bff, 0x0001]);
  const bf16 = Uint16Array.from([0x3f80, 0xc020, 0x4049, 0x0000]); // 1, -2.5, 3.140625, 0
  const f64 = Float64Array.from([0.1, -7]);
  const data = new Uint8Array([...new Uint8Array(f16.buffer), ...new Uint8Array(bf16.buffer), ...new Uint8Array(f64.buffer)]);
  const path = join(dir, 'mixed.safetensors');
  rawSafetensors(path, {
    a: { dtype: 'F16', shape: [4], data_offsets: [0, 8] },
    b: { dtype: 'BF16', shape: [2, 2], data_offsets: [8, 16] },
    c: { dtype: 'F64', shape: [2], data_offsets: [16, 32] },
  }, data);
  const f = SafetensorsFile.open(path);
  assert.deepEqual([...f.read('a')], [1, -2.5, 65504, 2 ** -24]);
  assert.deepEqual([...f.read('b')], [1, -2.5, 3.140625, 0]);
  assert.deepEqual([...f.read('c')], [Math.fround(0.1), -7]);
  assert.deepEqual(f.tensors.get('b')!.shape, [2, 2]);
  f.close();
  assert.equal(halfToFloat(0x7c00), Infinity);
  assert.ok(Number.isNaN(halfToFloat(0x7e00)));

  const bad: Array<[string, () => void, RegExp]> = [
    ['short', () => writeFileSync(join(dir, 'x.safetensors'), Buffer.alloc(4)), /shorter than the 8-byte header/],
    ['truncated', () => rawSafetensors(join(dir, 'x.safetensors'), { a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, new Uint8Array(8)), /truncated/],
    ['size', () => rawSafetensors(join(dir, 'x.safetensors'), { a: { dtype: 'F32', shape: [3], data_offsets: [0, 16] } }, new Uint8Array(16)), /needs 12 bytes/],
    ['dtype', () => rawSafetensors(join(dir, 'x.safetensors'), { a: { dtype: 'I64', shape: [2], data_offsets: [0, 16] } }, new Uint8Array(16)), /dtype "I64"/],
    ['overlap', () => rawSafetensors(join(dir, 'x.safetensors'), { a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, new Uint8Array(12)), /overlap/],
    ['json', () => { const len = Buffer.alloc(8); len.writeBigUInt64LE(3n); writeFileSync(join(dir, 'x.safetensors'), Buffer.concat([len, Buffer.from('{x}')])); }, /not JSON/],
  ];
  for (const [what, make, pattern] of bad) {
    make();
    assert.throws(() => SafetensorsFile.open(join(dir, 'x.safetensors')), (err: unknown) => err instanceof UserError && err.message.includes('x.safetensors') && pattern.test(err.message), what);
  }
  rawSafetensors(join(dir, 'empty.safetensors'), {}, new Uint8Array(0)); // no tensors is still valid
  const empty = SafetensorsFile.open(join(dir, 'empty.safetensors'));
  assert.equal(empty.tensors.size, 0);
  empty.close();
  // the writer's output is 8-byte aligned and reads back exactly
  const out = join(dir, 'w.safetensors');
  const t = Float32Array.from([1.5, -0, 3e-38, 7]);
  writeSafetensors(out, [{ name: 'x', shape: [2, 2], data: t }], { format: 'pt' });
  const len = Number(readFileSync(out).readBigUInt64LE(0));
  assert.equal(len % 8, 0);
  const r = SafetensorsFile.open(out);
  assert.deepEqual(r.read('x'), t);
  r.close();
});

test('model config: presets validate, parameter counts and FLOPs are consistent, HF config round-trips', () => {
  const tiny = countParams(MODEL_PRESETS.tiny);
  assert.ok(tiny.nonEmbedding > 0.5e6 && tiny.nonEmbedding < 1.5e6, `tiny ${tiny.nonEmbedding}`);
  const large = countParams(MODEL_PRESETS.large);
  assert.ok(large.total > 0.8e9 && large.total < 1.2e9, `large ${large.total}`);
  for (const [name, cfg] of Object.entries(MODEL_PRESETS)) {
    assert.deepEqual(resolveModelConfig({ preset: name as keyof typeof MODEL_PRESETS }), cfg);
    assert.deepEqual(fromHfConfig(JSON.parse(JSON.stringify(toHfConfig(cfg))), 'config.json'), cfg, name);
    // 6N dominates; the attention term grows with T
    const n = countParams(cfg);
    assert.ok(trainFlopsPerToken(cfg, 1) >= 6 * (n.nonEmbedding - cfg.hiddenSize * (2 * cfg.numLayers + 1)));
    assert.equal(trainFlopsPerToken(cfg, 2048) - trainFlopsPerToken(cfg, 1024), 12 * cfg.numLayers * cfg.numHeads * cfg.headDim * 1024);
  }
  assert.equal(resolveModelConfig({ preset: 'small', numLayers: 2 }, { vocabSize: 1000 }).vocabSize, 1000);
  assert.throws(() => resolveModelConfig({ numKVHeads: 3 }, { source: 'run.yaml' }), /run\.yaml: model\.numKVHeads: numHeads \(4\) must be a multiple/);
  assert.throws(() => resolveModelConfig({ eosTokenId: 99 }, { vocabSize: 50 }), /eosTokenId 99 is outside the vocabulary/);
  // HF defaults: missing head_dim and num_key_value_heads, eos as a list, null pad
  const hf = fromHfConfig({ architectures: ['LlamaForCausalLM'], vocab_size: 100, hidden_size: 64, intermediate_size: 128, num_hidden_layers: 2, num_attention_heads: 8, eos_token_id: [5, 6], pad_token_id: null }, 'c.json');
  assert.equal(hf.headDim, 8);
  assert.equal(hf.numKVHeads, 8);
  assert.equal(hf.eosTokenId, 5);
  assert.equal(hf.padTokenId, 5);
  assert.equal(hf.qkNorm, false);
});

test('the PyTorch reference loads an sbp-written folder and reproduces its logits (needs /usr/bin/python3 with torch)', (t) => {
  const python = '/usr/bin/python3';
  const probe = spawnSync(python, ['-c', 'import torch, numpy'], { encoding: 'utf8' });
  if (probe.status !== 0) {
    t.skip('python3 with torch and numpy is not installed; the golden tests still check sbp against PyTorch');
    return;
  }
  for (const cfg of [CFG, { ...CFG, qkNorm: false, tieEmbeddings: true }]) {
    const dir = freshDir('model');
    const model = new LlamaModel(cfg, new RefBackend(), { seed: 9 });
    saveModelFolder(dir, model);
    const logits = model.logits(TOKENS, 2, 4);
    writeFileSync(join(dir, 'sbp-logits.json'), JSON.stringify({ B: 2, T: 4, tokens: [...TOKENS], logits: [...logits] }));
    const r = spawnSync(python, [join(repoRoot, 'scripts/reference/llama_reference.py'), '--check-checkpoint', dir, '--tolerance', '1e-5'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    const report = JSON.parse(r.stdout.trim().split('\n').pop()!);
    console.log(`# PyTorch reloaded ${report.architecture}: max |Δlogits| ${report.maxAbsLogitDiff.toExponential(2)}`);
    assert.ok(report.maxAbsLogitDiff <= 1e-5);
  }
});
