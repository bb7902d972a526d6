import { UserError } from '../common/errors.js';
import { MixtureSampler, type MixtureComponent, type MixtureDraw, type MixtureState } from '../tokens/mixture-sampler.js';

interface PhasedState {
  kind: 'phased';
  phase: number;
  phases: MixtureState[];
}

/**
 * Draws the components one after the other instead of mixed: every document of the first (for the
 * SBP run: the synthetic ones, each once), then the next (the real data, repeated to the end of
 * training). Each phase is a MixtureSampler of one component, so document orders and their resume
 * state are the mixture's; component numbers are the positions in `components`.
 */
export class PhasedSampler {
  readonly components: readonly MixtureComponent[];
  private readonly phases: MixtureSampler[];
  private phase = 0;

  constructor(components: MixtureComponent[], opts: { seed: number }) {
    this.components = components;
    this.phases = components.map((c) => new MixtureSampler([c], opts));
  }

  next(): MixtureDraw | undefined {
    while (this.phase < this.phases.length) {
      const draw = this.phases[this.phase]!.next();
      if (draw) return { ...draw, component: this.phase };
      this.phase++;
    }
    return undefined;
  }

  drawnTokens(): Record<string, number> {
    return Object.assign({}, ...this.phases.map((p) => p.drawnTokens())) as Record<string, number>;
  }

  state(): MixtureState {
    // Typed as the mixture's state for MixtureBatchSource, which stores it without looking inside.
    return { kind: 'phased', phase: this.phase, phases: this.phases.map((p) => p.state()) } satisfies PhasedState as unknown as MixtureState;
  }

  restore(s: MixtureState): void {
    const st = s as unknown as PhasedState;
    if (st.kind !== 'phased' || st.phases.length !== this.phases.length) throw new UserError('cannot resume: the checkpoint holds a mixed data order, this run draws its data in phases; resume with the same experiment.dataOrder or start over');
    this.phase = st.phase;
    st.phases.forEach((p, k) => this.phases[k]!.restore(p));
  }
}
