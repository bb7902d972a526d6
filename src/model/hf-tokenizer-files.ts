import { join } from 'node:path';
import { UserError } from '../common/errors.js';
import { writeJsonAtomic } from '../common/fs-atomic.js';
import type { ModelConfig } from './types.js';

/**
 * What a model folder needs of its tokenizer. sbp's `Tokenizer` has this shape; the model module takes
 * it as a value (`tokenizerFiles(path)` in the tokenizer module loads one) instead of importing the
 * tokenizer module, which sits beside it and reads the config that reads the model.
 */
export interface ModelTokenizer {
  readonly vocabSize: number;
  readonly special: { bos: number; eos: number; sep: number; pad: number; reserved: readonly number[] };
  decode(ids: ArrayLike<number>): string;
  toHFJson(): unknown;
}

/** A tokenizer and the file it came from (named in errors). */
export interface TokenizerFiles {
  tokenizer: ModelTokenizer;
  source: string;
}

/**
 * The tokenizer files of a model folder, as `transformers.AutoTokenizer` (and vLLM, SGLang and
 * lm-evaluation-harness through it) reads them:
 *
 *   tokenizer.json           sbp's byte-level BPE; bos, eos, sep, pad and the reserved tokens also
 *                            listed as special added tokens (same ids), bos put in front of each text
 *   tokenizer_config.json    the generic fast-tokenizer class, the special tokens by text, add_bos_token
 *                            true, add_eos_token false, model_max_length = the model's context
 *   special_tokens_map.json  the same special tokens, for tools that read only this file
 *
 * Without tokenizer_config.json transformers guesses a tokenizer class from config.json and invents
 * tokens of its own (e.g. `<|endoftext|>` past the model's vocabulary), so all three are written.
 */
export function writeTokenizerFiles(dir: string, files: TokenizerFiles, config: ModelConfig): void {
  const { tokenizer, source: tokenizerJsonPath } = files;
  if (tokenizer.vocabSize > config.vocabSize) {
    throw new UserError(`${tokenizerJsonPath}: the tokenizer has ${tokenizer.vocabSize} tokens, more than the model's vocabulary of ${config.vocabSize}`);
  }
  const s = tokenizer.special;
  const text = (id: number) => tokenizer.decode([id]);
  const specialIds = [...new Set([config.bosTokenId, config.eosTokenId, config.padTokenId, s.bos, s.eos, s.sep, s.pad, ...s.reserved])];
  for (const id of specialIds) {
    if (id >= tokenizer.vocabSize) throw new UserError(`${tokenizerJsonPath}: special token id ${id} (config.json) is outside the tokenizer's ${tokenizer.vocabSize} tokens`);
  }
  writeJsonAtomic(join(dir, 'tokenizer.json'), tokenizer.toHFJson());

  const named = {
    bos_token: text(config.bosTokenId),
    eos_token: text(config.eosTokenId),
    pad_token: text(config.padTokenId),
    sep_token: text(s.sep),
  };
  const reserved = s.reserved.map(text);
  const addedTokensDecoder: Record<string, unknown> = {};
  for (const id of specialIds.sort((a, b) => a - b)) {
    addedTokensDecoder[String(id)] = { content: text(id), lstrip: false, normalized: false, rstrip: false, single_word: false, special: true };
  }
  writeJsonAtomic(join(dir, 'tokenizer_config.json'), {
    tokenizer_class: 'PreTrainedTokenizerFast',
    ...named,
    unk_token: null, // byte-level BPE: every text has tokens, none is unknown
    additional_special_tokens: reserved,
    add_bos_token: true, // documents are trained as [bos] text [eos]; the post-processor adds the bos
    add_eos_token: false,
    model_max_length: config.maxSeqLen,
    clean_up_tokenization_spaces: false, // decode gives the bytes back exactly
    added_tokens_decoder: addedTokensDecoder,
  });
  writeJsonAtomic(join(dir, 'special_tokens_map.json'), { ...named, additional_special_tokens: reserved });
}
