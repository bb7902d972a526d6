/**
 * mulberry32: the smallest seeded generator (one 32-bit word of state), with Box–Muller normals.
 * Used where a draw is made once from a seed and never resumed: weight init, the pair miner's
 * seeded samples (recall queries, report examples), tests. `Math.random` cannot be seeded.
 * The project's other two generators have their own reasons: `Rng` (sample/rng.ts, xoshiro128**)
 * has a four-word state that a checkpoint saves and resumes; `KeyedRandom` (tokens/keyed-random.ts)
 * is named by a key (seed, stream, epoch) so a data order is rebuilt without any saved state.
 */
export class Mulberry32 {
  private state: number;
  private spare: number | null = null;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** Uniform in [0, 1). */
  uniform(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }

  /** Standard normal draw. */
  normal(): number {
    if (this.spare !== null) {
      const s = this.spare;
      this.spare = null;
      return s;
    }
    let u = 0;
    while (u === 0) u = this.uniform();
    const v = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** A Float32Array of normal draws with standard deviation `std`. */
  normalArray(n: number, std = 1): Float32Array {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = this.normal() * std;
    return a;
  }
}
