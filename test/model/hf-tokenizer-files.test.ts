// The tokenizer files of a model folder: what transformers' AutoTokenizer reads. The Python check
// (test/python/check_hf_folder.py) loads them with transformers itself; this one checks their content.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../helpers.js';
import { UserError } from '../../src/common/errors.js';
import { RefBackend } from '../../src/engine/ref-backend.js';
import { LlamaModel } from '../../src/model/llama.js';
import { saveModelFolder } from '../../src/model/hf-folder.js';
import { Tokenizer, tokenizerFiles } from '../../src/tokenizer/tokenizer.js';
import type { ModelConfig } from '../../src/model/types.js';

// 256 bytes, then bos 256, eos 257, sep 258, pad 259, reserved 260, 261.
const tokenizer = Tokenizer.fromMerges({ tokens: Array.from({ length: 256 }, (_, b) => Uint8Array.of(b)), left: new Int32Array(0), right: new Int32Array(0), result: new Int32Array(0) }, 2);
const CFG: ModelConfig = {
  vocabSize: 264, hiddenSize: 8, numLayers: 1, numHeads: 2, numKVHeads: 1, headDim: 4, intermediateSize: 12,
  maxSeqLen: 32, ropeTheta: 10_000, rmsNormEps: 1e-5, qkNorm: false, tieEmbeddings: true, bosTokenId: 256, eosTokenId: 257, padTokenId: 259,
};
const json = (dir: string, f: string) => JSON.parse(readFileSync(join(dir, f), 'utf8'));

test('a model folder holds tokenizer_config.json, special_tokens_map.json and special added tokens with unchanged ids', () => {
  const root = tempDir();
  const tokPath = join(root, 'tokenizer.json');
  tokenizer.save(tokPath);
  const dir = join(root, 'model');
  mkdirSync(dir);
  saveModelFolder(dir, new LlamaModel(CFG, new RefBackend(), { seed: 1 }), { tokenizer: tokenizerFiles(tokPath) });

  const tj = json(dir, 'tokenizer.json');
  assert.deepEqual(tj.added_tokens.map((t: { id: number; content: string; special: boolean }) => [t.id, t.content, t.special]), [
    [256, '<|bos|>', true], [257, '<|eos|>', true], [258, '<|sep|>', true], [259, '<|pad|>', true], [260, '<|reserved_0|>', true], [261, '<|reserved_1|>', true],
  ]);
  assert.equal(tj.model.vocab['<|eos|>'], 257, 'the special tokens stay in the vocabulary at their ids');
  assert.deepEqual(tj.post_processor.special_tokens['<|bos|>'].ids, [256]);
  // sbp reads the file back to the same tokenizer.
  const back = Tokenizer.load(join(dir, 'tokenizer.json'));
  assert.deepEqual(back.special, tokenizer.special);
  assert.deepEqual(Array.from(back.encode('a <|eos|> b')), Array.from(tokenizer.encode('a <|eos|> b')));

  const tc = json(dir, 'tokenizer_config.json');
  assert.equal(tc.tokenizer_class, 'PreTrainedTokenizerFast');
  assert.deepEqual([tc.bos_token, tc.eos_token, tc.pad_token, tc.sep_token], ['<|bos|>', '<|eos|>', '<|pad|>', '<|sep|>']);
  assert.deepEqual(tc.additional_special_tokens, ['<|reserved_0|>', '<|reserved_1|>']);
  assert.equal(tc.add_bos_token, true);
  assert.equal(tc.add_eos_token, false);
  assert.equal(tc.model_max_length, 32);
  assert.deepEqual(Object.keys(tc.added_tokens_decoder), ['256', '257', '258', '259', '260', '261']);
  const sm = json(dir, 'special_tokens_map.json');
  assert.equal(sm.eos_token, '<|eos|>');
  assert.deepEqual(json(dir, 'generation_config.json'), { bos_token_id: 256, eos_token_id: 257, pad_token_id: 259 });
});

test('a tokenizer larger than the model vocabulary is a UserError naming the file', () => {
  const root = tempDir();
  const tokPath = join(root, 'tokenizer.json');
  tokenizer.save(tokPath);
  assert.throws(() => saveModelFolder(join(root, 'm'), new LlamaModel({ ...CFG, vocabSize: 200, bosTokenId: 1, eosTokenId: 2, padTokenId: 0 }, new RefBackend(), { seed: 1 }), { tokenizer: tokenizerFiles(tokPath) }),
    (e: unknown) => e instanceof UserError && /tokenizer\.json: the tokenizer has 262 tokens, more than the model's vocabulary of 200/.test(e.message));
});
