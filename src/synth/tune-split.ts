import { hashText } from '../data/text-hash.js';
import type { PairList } from '../pairs/pair-list.js';
import type { PairIndex } from './pair-rows.js';

export interface TuneSplit {
  train: PairIndex; // neither d1 nor d2 is a held-out document
  heldout: PairIndex; // d1 is a held-out document (pair order kept)
  heldoutDocs: number;
  /** Pairs used by neither side: d1 is a training document but d2 a held-out one. */
  straddling: number;
  /** Held-out pairs whose d2 is also held out (their d2 was never a tuning target either). */
  heldoutBothSides: number;
}

/**
 * Splits the mined pairs for synthesizer tuning. A document is held out when the hash of its id
 * (salted) falls below `fraction` — stable across reruns and independent of pair order. Held-out
 * pairs are those whose d1 is held out: the synthesizer never sees that d1 in tuning, so its loss on
 * them measures p(d2 | a new d1). Training pairs touch no held-out document at all; pairs from a
 * training d1 to a held-out d2 are used by neither side (counted as straddling).
 */
export function splitTunePairs(pairs: PairList, docIds: readonly string[], fraction: number, salt: string): TuneSplit {
  const held = new Uint8Array(docIds.length);
  let heldoutDocs = 0;
  for (let i = 0; i < docIds.length; i++) {
    if (hashText(docIds[i]!, salt).draw < fraction) {
      held[i] = 1;
      heldoutDocs++;
    }
  }
  const tr1: number[] = [];
  const tr2: number[] = [];
  const ho1: number[] = [];
  const ho2: number[] = [];
  let straddling = 0;
  let both = 0;
  for (let p = 0; p < pairs.d1.length; p++) {
    const a = pairs.d1[p]!;
    const b = pairs.d2[p]!;
    if (held[a]) {
      ho1.push(a);
      ho2.push(b);
      if (held[b]) both++;
    } else if (held[b]) straddling++;
    else {
      tr1.push(a);
      tr2.push(b);
    }
  }
  return {
    train: { d1: Uint32Array.from(tr1), d2: Uint32Array.from(tr2) },
    heldout: { d1: Uint32Array.from(ho1), d2: Uint32Array.from(ho2) },
    heldoutDocs,
    straddling,
    heldoutBothSides: both,
  };
}
