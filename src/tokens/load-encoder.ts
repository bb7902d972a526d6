import { Tokenizer } from '../tokenizer/tokenizer.js';
import type { TokenEncoder } from './tokenize-shard.js';

/** Loads `tokenizer.json` (the project's BPE tokenizer) as the encoder token shards are written with. */
export async function loadTokenEncoder(tokenizerPath: string): Promise<TokenEncoder> {
  return await Tokenizer.load(tokenizerPath);
}
