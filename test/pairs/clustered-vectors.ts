/**
 * Synthetic document vectors with the structure of real embeddings: documents fall into topics
 * (cluster centres), and inside a topic they vary along a few topic-specific directions plus a little
 * isotropic noise, so the data has a low intrinsic dimension like sentence embeddings do. Seeded and
 * deterministic, for tests and benchmarks.
 */
export interface ClusteredVectorsOptions {
  count: number;
  dim: number;
  clusters: number;
  /** Topic-specific directions each document varies along. */
  latentDim?: number;
  /** Weight of the topic-specific variation relative to the centre (unit length each). */
  spread?: number;
  /** Weight of the isotropic noise. */
  noise?: number;
  seed?: number;
}

export function clusteredVectors(opts: ClusteredVectorsOptions): { vectors: Float32Array; cluster: Int32Array } {
  const { count, dim, clusters } = opts;
  const latentDim = opts.latentDim ?? 8;
  const spread = opts.spread ?? 0.8;
  const noise = opts.noise ?? 0.15;
  const rand = gaussian(opts.seed ?? 1);
  const centres = unitRows(clusters, dim, rand);
  const bases = unitRows(clusters * latentDim, dim, rand); // (clusters·latentDim, dim)
  const vectors = new Float32Array(count * dim);
  const cluster = new Int32Array(count);
  const z = new Float64Array(latentDim);
  const noiseScale = noise / Math.sqrt(dim);
  const latentScale = spread / Math.sqrt(latentDim);
  for (let i = 0; i < count; i++) {
    const c = Math.floor(Math.abs(rand()) * 1e9) % clusters;
    cluster[i] = c;
    for (let l = 0; l < latentDim; l++) z[l] = rand() * latentScale;
    const o = i * dim;
    for (let j = 0; j < dim; j++) {
      let v = centres[c * dim + j]! + rand() * noiseScale;
      for (let l = 0; l < latentDim; l++) v += z[l]! * bases[(c * latentDim + l) * dim + j]!;
      vectors[o + j] = v;
    }
  }
  return { vectors, cluster };
}

function unitRows(n: number, dim: number, rand: () => number): Float32Array {
  const out = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    let ss = 0;
    for (let j = 0; j < dim; j++) {
      const v = rand();
      out[i * dim + j] = v;
      ss += v * v;
    }
    const inv = 1 / Math.sqrt(ss);
    for (let j = 0; j < dim; j++) out[i * dim + j]! *= inv;
  }
  return out;
}

/** Standard normal draws from a seeded xorshift generator (Box–Muller). */
export function gaussian(seed: number): () => number {
  let s = (seed >>> 0) || 0x9e3779b9;
  const uniform = (): number => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return (s + 0.5) / 4294967296;
  };
  let spare: number | undefined;
  return () => {
    if (spare !== undefined) {
      const v = spare;
      spare = undefined;
      return v;
    }
    const u = uniform();
    const v = uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  };
}
