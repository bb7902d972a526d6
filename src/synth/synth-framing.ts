import { UserError } from '../common/errors.js';

/**
 * How a synthesizer row `[bos] d1 [sep] d2 [eos]` is cut to fit a context of T input tokens (T + 1
 * tokens with the last target). Decided once here and used both when tuning and when synthesizing,
 * so the prompt the synthesizer sees at synthesis time is exactly the one it was trained on:
 *
 *   room     = T + 1 - 3                      tokens for d1 + d2 (bos, sep and eos take 3)
 *   d1Budget = max(1, floor(room · d1Fraction))
 *   d1       keeps its first min(|d1|, d1Budget) tokens (the start names the topic, and it is what the
 *            embedder saw when the pair was mined)
 *   d2       keeps its first min(|d2|, room - |d1 kept|) tokens; the eos is a target only when all of
 *            d2 fit, so a cut d2 never teaches the model to stop there.
 *
 * d1 never grows past its budget, even when d2 is short: at synthesis time d2's length is unknown, so
 * a longer d1 in training would be a prompt the model never sees later.
 */
export interface SynthFraming {
  T: number; // input tokens per row
  room: number; // tokens for d1 + d2
  d1Budget: number; // most d1 tokens kept
}

export function synthFraming(T: number, d1Fraction: number): SynthFraming {
  if (!Number.isInteger(T) || T < 4) throw new UserError(`the synthesizer context must be a whole number of at least 4 tokens, got ${T}`);
  if (!(d1Fraction > 0 && d1Fraction < 1)) throw new UserError(`d1Fraction must be in (0, 1), got ${d1Fraction}`);
  const room = T + 1 - 3;
  const d1Budget = Math.max(1, Math.min(room - 1, Math.floor(room * d1Fraction)));
  return { T, room, d1Budget };
}

export interface FramedPair {
  d1Len: number; // d1 tokens kept (its first ones)
  d2Len: number; // d2 tokens kept (its first ones)
  d2Complete: boolean; // all of d2 fit: the eos follows it and is a target
}

export function framePair(f: SynthFraming, d1Length: number, d2Length: number): FramedPair {
  const d1Len = Math.min(d1Length, f.d1Budget);
  const d2Len = Math.min(d2Length, f.room - d1Len);
  return { d1Len, d2Len, d2Complete: d2Len === d2Length };
}

/** The synthesis prompt `[bos] d1[:d1Budget] [sep]` and how many d2 tokens may follow it in the context. */
export function synthPrompt(f: SynthFraming, d1: ArrayLike<number>, bos: number, sep: number): { prompt: Int32Array; maxD2Tokens: number } {
  const d1Len = Math.min(d1.length, f.d1Budget);
  const prompt = new Int32Array(d1Len + 2);
  prompt[0] = bos;
  for (let i = 0; i < d1Len; i++) prompt[i + 1] = d1[i]!;
  prompt[d1Len + 1] = sep;
  // The row holds prompt + d2 + eos = T + 1 tokens at most.
  return { prompt, maxD2Tokens: f.room - d1Len };
}

/**
 * The prompt without a seed document, `[bos]` alone (synthesize.conditioning = none: the experiment's
 * selfdistill control samples the baseline LM this way). Its length limit is that of an SBP sample
 * whose seed fills the d1 budget, so both corpora have documents of the same maximum length.
 */
export function unconditionedPrompt(f: SynthFraming, bos: number): { prompt: Int32Array; maxD2Tokens: number } {
  return { prompt: Int32Array.of(bos), maxD2Tokens: f.room - f.d1Budget };
}
