/** A uniform random permutation of 0..n-1 (Fisher–Yates), drawing from `below(k)`, uniform on [0, k). */
export function permutation(n: number, below: (k: number) => number): Uint32Array {
  const p = new Uint32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = below(i + 1);
    const t = p[i]!;
    p[i] = p[j]!;
    p[j] = t;
  }
  return p;
}
