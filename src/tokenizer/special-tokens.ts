/** Ids of the special tokens sbp's pipeline uses. */
export interface SpecialTokens {
  bos: number; // begins every document
  eos: number; // ends every document; sampling stops on it
  sep: number; // between d1 and d2 in synthesizer training sequences
  pad: number; // fills batches; never trained on
  reserved: number[]; // kept free for later uses without changing the vocabulary size
}

export const SPECIAL_TEXT = { bos: '<|bos|>', eos: '<|eos|>', sep: '<|sep|>', pad: '<|pad|>' } as const;

export function reservedText(i: number): string {
  return `<|reserved_${i}|>`;
}

/**
 * Texts that play the same role in other byte-level BPE files, tried in order after sbp's own when
 * a foreign `tokenizer.json` is loaded (GPT-2 uses `<|endoftext|>` as both bos and eos).
 */
export const SPECIAL_ALIASES: Record<keyof typeof SPECIAL_TEXT, readonly string[]> = {
  bos: ['<|begin_of_text|>', '<s>', '<|startoftext|>', '<|endoftext|>'],
  eos: ['<|end_of_text|>', '</s>', '<|endoftext|>'],
  sep: ['<sep>', '[SEP]'],
  pad: ['<pad>', '<|padding|>', '[PAD]'],
};
