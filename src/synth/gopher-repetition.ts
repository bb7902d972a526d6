/**
 * The repetition measures of the Gopher quality rules (Rae et al. 2021, Table A1), on whitespace
 * words. Each is a fraction in [0, 1]; a document repeats itself when any exceeds its limit.
 *   duplicateLineFraction       lines that repeat an earlier line / non-empty lines
 *   duplicateLineCharFraction   characters of those repeated lines / characters of non-empty lines
 *   topNgramCharFraction[n]     for n = 2, 3, 4: characters of the most frequent word n-gram times its
 *                               count / characters of all words (0 when no n-gram occurs twice)
 *   duplicateNgramCharFraction[n] for n = 5..10: characters of the words covered by a repeated
 *                               occurrence of an n-gram (every occurrence after the first) / characters of all words
 */
export interface RepetitionStats {
  duplicateLineFraction: number;
  duplicateLineCharFraction: number;
  topNgramCharFraction: [number, number, number]; // n = 2, 3, 4
  duplicateNgramCharFraction: [number, number, number, number, number, number]; // n = 5..10
}

export interface RepetitionLimits {
  maxDuplicateLineFraction: number;
  maxDuplicateLineCharFraction: number;
  maxTopNgramCharFraction: readonly number[]; // 3 values, n = 2, 3, 4
  maxDuplicateNgramCharFraction: readonly number[]; // 6 values, n = 5..10
}

/** Gopher's published limits. */
export const GOPHER_LIMITS: RepetitionLimits = {
  maxDuplicateLineFraction: 0.3,
  maxDuplicateLineCharFraction: 0.2,
  maxTopNgramCharFraction: [0.2, 0.18, 0.16],
  maxDuplicateNgramCharFraction: [0.15, 0.14, 0.13, 0.12, 0.11, 0.1],
};

export function words(text: string): string[] {
  return text.split(/\s+/u).filter((w) => w.length > 0);
}

export function repetitionStats(text: string): RepetitionStats {
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l.length > 0);
  const seenLines = new Set<string>();
  let dupLines = 0;
  let dupLineChars = 0;
  let lineChars = 0;
  for (const l of lines) {
    lineChars += l.length;
    if (seenLines.has(l)) {
      dupLines++;
      dupLineChars += l.length;
    } else seenLines.add(l);
  }
  const w = words(text);
  let wordChars = 0;
  for (const x of w) wordChars += x.length;
  const top = [2, 3, 4].map((n) => topNgramChars(w, n) / (wordChars || 1)) as RepetitionStats['topNgramCharFraction'];
  const dup = [5, 6, 7, 8, 9, 10].map((n) => duplicateNgramChars(w, n) / (wordChars || 1)) as RepetitionStats['duplicateNgramCharFraction'];
  return {
    duplicateLineFraction: lines.length > 0 ? dupLines / lines.length : 0,
    duplicateLineCharFraction: lineChars > 0 ? dupLineChars / lineChars : 0,
    topNgramCharFraction: top,
    duplicateNgramCharFraction: dup,
  };
}

/** The first limit a document breaks, named (e.g. "top_3gram"), or null when it passes all. */
export function repetitionViolation(s: RepetitionStats, limits: RepetitionLimits): string | null {
  if (s.duplicateLineFraction > limits.maxDuplicateLineFraction) return 'duplicate_lines';
  if (s.duplicateLineCharFraction > limits.maxDuplicateLineCharFraction) return 'duplicate_line_chars';
  for (let i = 0; i < 3; i++) if (s.topNgramCharFraction[i]! > limits.maxTopNgramCharFraction[i]!) return `top_${i + 2}gram`;
  for (let i = 0; i < 6; i++) if (s.duplicateNgramCharFraction[i]! > limits.maxDuplicateNgramCharFraction[i]!) return `duplicate_${i + 5}gram`;
  return null;
}

const SEP = '\u0001'; // joins words of an n-gram key; never inside a whitespace-split word of normal text

function topNgramChars(w: readonly string[], n: number): number {
  const counts = new Map<string, number>();
  let best = 0;
  let bestChars = 0;
  for (let i = 0; i + n <= w.length; i++) {
    const key = w.slice(i, i + n).join(SEP);
    const c = (counts.get(key) ?? 0) + 1;
    counts.set(key, c);
    const chars = key.length - (n - 1); // the words' characters, without the separators
    if (c > best || (c === best && chars > bestChars)) {
      best = c;
      bestChars = chars;
    }
  }
  return best > 1 ? best * bestChars : 0;
}

function duplicateNgramChars(w: readonly string[], n: number): number {
  const seen = new Set<string>();
  const covered = new Uint8Array(w.length);
  for (let i = 0; i + n <= w.length; i++) {
    const key = w.slice(i, i + n).join(SEP);
    if (seen.has(key)) covered.fill(1, i, i + n);
    else seen.add(key);
  }
  let chars = 0;
  for (let i = 0; i < w.length; i++) if (covered[i]) chars += w[i]!.length;
  return chars;
}
