import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, existsSync, openSync, readFileSync, readSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { UserError } from '../../src/common/errors.js';
import { CHECKSUMS_FILE, checksumFile, recordChecksums, verifyChecksums } from '../../src/common/file-checksums.js';
import { RefBackend } from '../../src/engine/ref-backend.js';
import { loadModelFolder, saveModelFolder } from '../../src/model/hf-folder.js';
import { LlamaModel } from '../../src/model/llama.js';
import { SafetensorsFile } from '../../src/model/safetensors.js';
import type { ModelConfig } from '../../src/model/types.js';
import { AdamW, decayMask } from '../../src/train/adamw.js';
import { CheckpointStore, type TrainerState } from '../../src/train/checkpoint-store.js';
import { hfModelStore } from '../../src/train/hf-model-store.js';
import { tempDir } from '../helpers.js';
import { tokenizerFiles } from '../../src/tokenizer/tokenizer.js';

const CFG: ModelConfig = {
  vocabSize: 40, hiddenSize: 16, numLayers: 1, numHeads: 4, numKVHeads: 2, headDim: 4, intermediateSize: 20,
  maxSeqLen: 16, ropeTheta: 10_000, rmsNormEps: 1e-5, qkNorm: true, tieEmbeddings: false, bosTokenId: 1, eosTokenId: 2, padTokenId: 0,
};

/** XORs one byte of a file at `offset` (a bit flip on disk). */
function flipByte(path: string, offset: number): void {
  const fd = openSync(path, 'r+');
  try {
    const b = Buffer.alloc(1);
    readSync(fd, b, 0, 1, offset);
    b[0]! ^= 0x10;
    writeSync(fd, b, 0, 1, offset);
  } finally {
    closeSync(fd);
  }
}

/** Byte offset of a tensor's data inside a safetensors file (so the flip lands inside the weights). */
function tensorOffset(path: string, name: string): number {
  const f = SafetensorsFile.open(path);
  try {
    const info = f.tensors.get(name)!;
    const headerLen = Number(readFileSync(path).readBigUInt64LE(0));
    return 8 + headerLen + info.begin;
  } finally {
    f.close();
  }
}

test('checksumFile equals zlib crc32 of the whole file, across 8 MiB chunk boundaries', () => {
  const dir = tempDir();
  const path = join(dir, 'blob.bin');
  const data = Buffer.alloc((8 << 20) + 12345);
  for (let i = 0; i < data.length; i++) data[i] = (i * 2654435761) >>> 24;
  writeFileSync(path, data);
  assert.deepEqual(checksumFile(path), { bytes: data.length, crc32: crc32(data) >>> 0 });
});

test('a flipped byte inside model.safetensors is refused on load, naming the file; a folder without checksums.json still loads', () => {
  const dir = join(tempDir(), 'model');
  const model = new LlamaModel(CFG, new RefBackend(), { seed: 3 });
  saveModelFolder(dir, model);
  const m = JSON.parse(readFileSync(join(dir, CHECKSUMS_FILE), 'utf8'));
  assert.deepEqual(Object.keys(m.files).sort(), ['config.json', 'generation_config.json', 'model.safetensors']);
  loadModelFolder(dir, new RefBackend()); // intact: loads
  // A flip in a mantissa bit keeps the weight finite: only the checksum can notice it.
  flipByte(join(dir, 'model.safetensors'), tensorOffset(join(dir, 'model.safetensors'), 'model.layers.0.mlp.up_proj.weight') + 1);
  assert.throws(
    () => loadModelFolder(dir, new RefBackend()),
    (err: unknown) => err instanceof UserError && /model\.safetensors: checksum mismatch \(CRC-32 [0-9a-f]{8}, checksums\.json recorded [0-9a-f]{8}\): the file was damaged or changed after sbp wrote it; retrain or restore the model/.test(err.message),
  );
  rmSync(join(dir, CHECKSUMS_FILE)); // as a folder made by another tool
  loadModelFolder(dir, new RefBackend());
});

test('NaN or Infinity in the weights is refused on load with the tensor name (no garbage samples with exit 0)', () => {
  for (const [bad, word] of [[Number.NaN, 'NaN'], [Number.POSITIVE_INFINITY, '\\+Infinity']] as const) {
    const dir = join(tempDir(), 'model');
    const model = new LlamaModel(CFG, new RefBackend(), { seed: 3 });
    const w = model.readParam('model.layers.0.self_attn.k_proj.weight');
    w[5] = bad;
    model.writeParam('model.layers.0.self_attn.k_proj.weight', w);
    saveModelFolder(dir, model); // the checksum is of the NaN weights: only the finiteness check catches them
    assert.throws(
      () => loadModelFolder(dir, new RefBackend()),
      (err: unknown) =>
        err instanceof UserError &&
        new RegExp(`model\\.safetensors: tensor "model\\.layers\\.0\\.self_attn\\.k_proj\\.weight" holds ${word} at element 5 \\(1 non-finite of \\d+\\); the weights are unusable`).test(err.message),
      word,
    );
  }
});

test('a checkpoint: a flipped byte in optimizer.bin or a truncated trainer-state.json is a UserError, not a silent resume or a stack trace', () => {
  const dir = tempDir();
  const be = new RefBackend();
  const model = new LlamaModel(CFG, be, { seed: 3 });
  const adam = { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 };
  const optimizer = new AdamW(model, adam, decayMask(model.paramTable, { decayEmbeddings: false, noDecay: [] }));
  const store = new CheckpointStore(dir, hfModelStore());
  const state: TrainerState = {
    formatVersion: 1, step: 3, tokens: 96, totalSteps: 10, optimizerStep: 0, skippedSteps: 0, consecutiveBad: 0,
    data: { kind: 'test' }, lastLoss: 1, lastHeldout: null, savedAt: 'now',
  };
  store.save(model, optimizer, state);
  const ckpt = store.latest()!;
  const files = Object.keys(JSON.parse(readFileSync(join(ckpt, CHECKSUMS_FILE), 'utf8')).files).sort();
  assert.deepEqual(files, ['config.json', 'generation_config.json', 'model.safetensors', 'optimizer.bin', 'trainer-state.json']);
  const fresh = () => {
    const m = new LlamaModel(CFG, be, { seed: 9 });
    return { m, o: new AdamW(m, adam, decayMask(m.paramTable, { decayEmbeddings: false, noDecay: [] })) };
  };
  const a = fresh();
  assert.equal(store.load(ckpt, a.m, a.o).step, 3);

  const opt = join(ckpt, 'optimizer.bin');
  flipByte(opt, readFileSync(opt).length - 3);
  const b = fresh();
  assert.throws(() => store.load(ckpt, b.m, b.o), (err: unknown) => err instanceof UserError && /optimizer\.bin: checksum mismatch .*delete .* to restart training/.test(err.message));

  // Truncated trainer-state.json in a folder without checksums (e.g. from an older sbp).
  rmSync(join(ckpt, CHECKSUMS_FILE));
  flipByte(opt, readFileSync(opt).length - 3); // undo the flip
  const statePath = join(ckpt, 'trainer-state.json');
  writeFileSync(statePath, readFileSync(statePath, 'utf8').slice(0, 40));
  const c = fresh();
  assert.throws(() => store.load(ckpt, c.m, c.o), (err: unknown) => err instanceof UserError && /trainer-state\.json: not valid JSON/.test(err.message));
});

test('recordChecksums merges into one manifest and verifyChecksums names a missing or resized file', () => {
  const dir = tempDir();
  writeFileSync(join(dir, 'a.bin'), 'aaaa');
  writeFileSync(join(dir, 'b.bin'), 'bbbb');
  recordChecksums(dir, ['a.bin']);
  recordChecksums(dir, ['b.bin']);
  assert.equal(verifyChecksums(dir, 'fix it'), 2);
  writeFileSync(join(dir, 'b.bin'), 'bbb');
  assert.throws(() => verifyChecksums(dir, 'fix it'), /b\.bin: 3 bytes, checksums\.json recorded 4: the file is truncated or was replaced; fix it/);
  rmSync(join(dir, 'a.bin'));
  assert.throws(() => verifyChecksums(dir, 'fix it', ['a.bin']), /a\.bin: missing, but checksums\.json lists it; fix it/);
  assert.equal(existsSync(join(dir, CHECKSUMS_FILE)), true);
});

test('sbp sample on a model with a NaN weight exits 2 naming the tensor (it used to print NUL characters and exit 0)', async () => {
  const { serveFixture } = await import('../serve/fixture.js');
  const { runCli } = await import('../helpers.js');
  const fx = await serveFixture();
  const w = fx.model.readParam('model.layers.1.mlp.down_proj.weight');
  w[0] = Number.NaN;
  fx.model.writeParam('model.layers.1.mlp.down_proj.weight', w);
  saveModelFolder(fx.dir, fx.model, { tokenizer: tokenizerFiles(join(fx.dir, 'tokenizer.json')) });
  const r = runCli(['sample', '--model', fx.dir, '--max-tokens', '12', '--temperature', '0', '--backend', 'ref'], { cwd: tempDir() });
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /^sbp: .*model\.safetensors: tensor "model\.layers\.1\.mlp\.down_proj\.weight" holds NaN at element 0 \(1 non-finite of \d+\); the weights are unusable — load an earlier checkpoint or retrain the model\n$/);
  assert.equal(r.stdout, '');
});
