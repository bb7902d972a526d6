import type { SynthesizeConfig } from '../config/schema.js';
import { HashSet64 } from '../data/hash-set-64.js';
import { hashText } from '../data/text-hash.js';
import { repetitionStats, repetitionViolation } from './gopher-repetition.js';
import { seedCopying } from './seed-copying.js';

/** Why a synthetic document was dropped (the first rule it broke, in this order). */
export const SYNTH_DROP_REASONS = ['cut_off', 'too_short', 'repetition', 'copying', 'duplicate', 'perplexity'] as const;
export type SynthDropReason = (typeof SYNTH_DROP_REASONS)[number];

export type SynthFilterConfig = SynthesizeConfig['filters'];

export interface SynthCandidate {
  text: string;
  tokens: number; // tokens of `text`
  finishReason: 'stop' | 'length';
}

export type SynthVerdict =
  | { keep: true; text: string; tokens: number; trimmed: boolean }
  | { keep: false; reason: SynthDropReason; detail?: string };

const DEDUP_SALT = 'sbp-synth';

/**
 * The rule-based output filter. Rules in order:
 *   cut_off     the sample hit the length limit without an end-of-document: per `cutOff`, kept as is,
 *               trimmed back to its last sentence or line end (dropped when it has none), or dropped
 *   too_short   fewer than `minTokens` tokens (after trimming)
 *   repetition  breaks a Gopher repetition limit (the detail names which)
 *   copying     shares a run of `copyNgramWords` words with its seed
 *   duplicate   the same text as an earlier kept synthetic document (exact, after trimming)
 *   perplexity  (applied per shard after these rules, see perplexity-filter.ts) the scoring model's
 *               loss per token is above the shard's `maxLossQuantile`
 * Only kept documents enter the duplicate set, so dropping never depends on dropped text.
 */
export class SynthFilter {
  private readonly seen = new HashSet64(1 << 12);

  constructor(
    private readonly cfg: SynthFilterConfig,
    private readonly countTokens: (text: string) => number,
  ) {}

  /** Marks a text as already kept (when a resumed run reloads finished shards). */
  remember(text: string): void {
    const h = hashText(text, DEDUP_SALT);
    this.seen.add(h.hi, h.lo);
  }

  get remembered(): number {
    return this.seen.size;
  }

  check(c: SynthCandidate, seedText: string): SynthVerdict {
    const cfg = this.cfg;
    let text = c.text;
    let tokens = c.tokens;
    let trimmed = false;
    if (c.finishReason === 'length' && cfg.cutOff !== 'keep') {
      const t = cfg.cutOff === 'trim' ? trimToLastSentence(text) : null;
      if (t === null) return { keep: false, reason: 'cut_off', detail: cfg.cutOff === 'trim' ? 'no sentence end to trim back to' : undefined };
      if (t !== text) {
        text = t;
        tokens = this.countTokens(t);
        trimmed = true;
      }
    }
    if (tokens < cfg.minTokens || text.trim().length === 0) return { keep: false, reason: 'too_short', detail: `${tokens} tokens` };
    if (cfg.repetition) {
      const v = repetitionViolation(repetitionStats(text), cfg);
      if (v !== null) return { keep: false, reason: 'repetition', detail: v };
    }
    const copy = seedCopying(text, seedText, cfg.copyNgramWords);
    if (copy.copied) return { keep: false, reason: 'copying', detail: `${copy.sharedNgrams} shared ${cfg.copyNgramWords}-word runs` };
    if (cfg.dedup) {
      const h = hashText(text, DEDUP_SALT);
      if (!this.seen.add(h.hi, h.lo)) return { keep: false, reason: 'duplicate' };
    }
    return { keep: true, text, tokens, trimmed };
  }
}

/**
 * The text up to and including its last sentence end (., !, ? or …, with closing quotes or brackets)
 * or its last line break, whichever is later; null when it has neither.
 */
export function trimToLastSentence(text: string): string | null {
  const re = /[.!?…]["'”’)\]]*(?=\s|$)|\n/gu;
  let end = -1;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) end = m.index + m[0].length;
  if (end <= 0) return null;
  const out = text.slice(0, end).trimEnd();
  return out.length > 0 ? out : null;
}

export function emptyDropCounts(): Record<SynthDropReason, number> {
  return { cut_off: 0, too_short: 0, repetition: 0, copying: 0, duplicate: 0, perplexity: 0 };
}
