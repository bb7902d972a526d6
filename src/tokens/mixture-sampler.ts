import { UserError } from '../common/errors.js';
import { DocumentOrder, type DocumentOrderState } from './document-order.js';
import { hashName } from './keyed-random.js';
import type { TokenizedDocuments } from './token-dataset.js';

export interface MixtureComponent {
  name: string; // e.g. 'real', 'synthetic'; also keys the component's shuffle stream
  source: TokenizedDocuments;
  weight: number; // share of TOKENS drawn, relative to the other live components
  epochs?: number; // passes over the source before it is used up (default Infinity: repeat forever)
}

export interface MixtureDraw {
  component: number; // index into the components
  name: string;
  doc: number; // document number inside that component's source
  epoch: number; // which pass over that source this draw belongs to
  tokens: number; // the document's length
}

export interface MixtureState {
  seed: number;
  components: Array<{ name: string; tokens: number; docs: number; order: DocumentOrderState }>;
}

/**
 * Draws documents from several sources so that each one's share of drawn tokens follows its weight
 * (the SBP run mixes real text, repeated, with synthetic text, used once). Deterministic
 * interleaving: the next draw comes from the live component furthest behind its share
 * (smallest tokens/weight, ties to the lower index), so shares hold to within one document at any
 * point instead of drifting like random picks; randomness is in each component's document order
 * (seeded per component). A component whose `epochs` are used up drops out and the others share its
 * weight; `next()` returns undefined once every component is used up.
 */
export class MixtureSampler {
  readonly components: readonly MixtureComponent[];
  readonly seed: number;
  private readonly orders: DocumentOrder[];
  private readonly tokensDrawn: number[];
  private readonly docsDrawn: number[];

  constructor(components: MixtureComponent[], opts: { seed: number }) {
    if (components.length === 0) throw new UserError('a data mixture needs at least one component');
    const names = new Set<string>();
    for (const c of components) {
      if (names.has(c.name)) throw new UserError(`data mixture: component name "${c.name}" is used twice; give each component its own name`);
      names.add(c.name);
      if (!(Number.isFinite(c.weight) && c.weight > 0)) throw new UserError(`data mixture: component "${c.name}" has weight ${c.weight}; weights must be positive numbers`);
      const e = c.epochs ?? Infinity;
      if (!(e === Infinity || (Number.isInteger(e) && e >= 1))) throw new UserError(`data mixture: component "${c.name}" has epochs ${c.epochs}; use a whole number ≥ 1, or leave it out to repeat forever`);
    }
    this.components = components;
    this.seed = opts.seed;
    this.orders = components.map((c) => new DocumentOrder(c.source.numDocs, { seed: opts.seed, stream: hashName(c.name) }));
    this.tokensDrawn = components.map(() => 0);
    this.docsDrawn = components.map(() => 0);
  }

  /** Tokens drawn so far from each component (by name). */
  drawnTokens(): Record<string, number> {
    return Object.fromEntries(this.components.map((c, k) => [c.name, this.tokensDrawn[k]!]));
  }

  next(): MixtureDraw | undefined {
    let best = -1;
    let bestRatio = Infinity;
    for (let k = 0; k < this.components.length; k++) {
      if (!this.isLive(k)) continue;
      const ratio = this.tokensDrawn[k]! / this.components[k]!.weight;
      if (ratio < bestRatio) {
        best = k;
        bestRatio = ratio;
      }
    }
    if (best < 0) return undefined;
    const c = this.components[best]!;
    const order = this.orders[best]!;
    const doc = order.next();
    const tokens = c.source.docLength(doc);
    // An empty document still counts as one token, so a source of empty documents cannot stall the others forever.
    this.tokensDrawn[best]! += Math.max(tokens, 1);
    this.docsDrawn[best]!++;
    return { component: best, name: c.name, doc, epoch: order.epoch, tokens };
  }

  state(): MixtureState {
    return {
      seed: this.seed,
      components: this.components.map((c, k) => ({ name: c.name, tokens: this.tokensDrawn[k]!, docs: this.docsDrawn[k]!, order: this.orders[k]!.state() })),
    };
  }

  restore(s: MixtureState): void {
    const saved = s.components.map((c) => c.name).join(', ');
    const mine = this.components.map((c) => c.name).join(', ');
    if (s.seed !== this.seed || saved !== mine) {
      throw new UserError(`cannot resume the data mixture: saved seed ${s.seed} with components [${saved}], but this one has seed ${this.seed} with [${mine}]; resume with the same mixture or start over`);
    }
    s.components.forEach((c, k) => {
      this.orders[k]!.restore(c.order);
      this.tokensDrawn[k] = c.tokens;
      this.docsDrawn[k] = c.docs;
    });
  }

  private isLive(k: number): boolean {
    const c = this.components[k]!;
    if (c.source.numDocs === 0) return false;
    const o = this.orders[k]!;
    // The order rolls into epoch e+1 lazily, so "used up" is: all `epochs` passes fully drawn.
    const passesDone = o.epoch + (o.position === c.source.numDocs ? 1 : 0);
    return passesDone < (c.epochs ?? Infinity);
  }
}
