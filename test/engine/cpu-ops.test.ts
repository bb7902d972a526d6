// Every op of the cpu backend against the ref backend (float64 oracle), on each instruction set this
// machine supports, with awkward sizes: not multiples of the register tiles, T = 1, H ≠ KVH, D = 16/24/32/64.
// Tolerances are stated per op; the max abs / rel differences are printed as test diagnostics.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Backend, Tensor } from '../../src/engine/backend.js';
import { CpuBackend } from '../../src/engine/cpu-backend.js';
import { loadNativeAddon } from '../../src/engine/native-addon.js';
import { RefBackend } from '../../src/engine/ref-backend.js';
import { expectClose, fmtDiff, randint, randn, rng, twin } from './cpu-parity.js';

const ref = new RefBackend();
const isas = loadNativeAddon().availableIsas();

type Ctx = { diagnostic: (msg: string) => void };

/** Runs `op` on both backends with twins of `inputs`; compares every tensor named in `outputs`. */
function parity(
  t: Ctx,
  cpu: Backend,
  label: string,
  inputs: Record<string, [number[], Float32Array | Int32Array]>,
  op: (be: Backend, x: Record<string, Tensor>) => void,
  outputs: Record<string, [number, number]>, // name -> [atol, rtol]
): void {
  const onCpu: Record<string, Tensor> = {};
  const onRef: Record<string, Tensor> = {};
  for (const [name, [shape, data]] of Object.entries(inputs)) {
    const [a, b] = twin([cpu, ref], shape, data);
    onCpu[name] = a!;
    onRef[name] = b!;
  }
  op(cpu, onCpu);
  op(ref, onRef);
  for (const [name, [atol, rtol]] of Object.entries(outputs)) {
    const d = expectClose(cpu.download(onCpu[name]!), ref.download(onRef[name]!), atol, rtol, `${label} ${name}`);
    t.diagnostic(fmtDiff(`${label} ${name}`, d));
  }
}

for (const isa of isas) {
  describe(`cpu backend (${isa}) vs ref`, () => {
    const cpu = new CpuBackend({ isa, threads: 2 });
    const r = rng(7);

    it('matmul: transA × transB × (alpha, beta), awkward sizes', (t) => {
      const sizes: [number, number, number][] = [[1, 1, 1], [13, 17, 29], [37, 70, 300], [100, 33, 513], [7, 1, 40]];
      const scalars: [number, number][] = [[1, 0], [1, 1], [2, 0.5], [-0.5, 0]];
      for (const [M, N, K] of sizes) {
        for (const transA of [false, true]) {
          for (const transB of [false, true]) {
            for (const [alpha, beta] of scalars) {
              const label = `matmul ${M}x${N}x${K} tA=${transA} tB=${transB} α=${alpha} β=${beta}`;
              // fp32 accumulation of K products of N(0,1) values: error grows ~ sqrt(K) ulp of the sum
              const atol = 2e-6 * Math.sqrt(K) * 4;
              parity(t, cpu, label, {
                a: [transA ? [K, M] : [M, K], randn(M * K, r)],
                b: [transB ? [N, K] : [K, N], randn(N * K, r)],
                out: [[M, N], randn(M * N, r)],
              }, (be, x) => be.matmul(x.out!, x.a!, x.b!, { transA, transB, alpha, beta }), { out: [atol, 1e-4] });
            }
          }
        }
      }
    });

    it('matmul: several cache blocks (K > KC, N > NC, M > MC) and 3-D operands', (t) => {
      const [M, N, K] = [200, 1100, 530];
      parity(t, cpu, `matmul ${M}x${N}x${K} tB`, {
        a: [[2, M / 2, K], randn(M * K, r)],
        b: [[N, K], randn(N * K, r)],
        out: [[M, N], new Float32Array(M * N)],
      }, (be, x) => be.matmul(x.out!, x.a!, x.b!, { transB: true }), { out: [2e-4, 1e-4] });
    });

    it('matmul: beta = 0 ignores NaN already in out', () => {
      const a = cpu.alloc([5, 3]), b = cpu.alloc([3, 20]), out = cpu.alloc([5, 20]);
      cpu.fill(a, 1);
      cpu.fill(b, 2);
      cpu.fill(out, NaN);
      cpu.matmul(out, a, b);
      assert.ok((cpu.download(out) as Float32Array).every((v) => v === 6));
    });

    it('embedding forward and backward (repeated tokens accumulate)', (t) => {
      const [V, C, N] = [50, 37, 29];
      const tokens = randint(N, 0, V, r);
      tokens[3] = tokens[7]!;
      parity(t, cpu, 'embedding', {
        wte: [[V, C], randn(V * C, r)], tokens: [[N], tokens], out: [[N, C], new Float32Array(N * C)],
        dwte: [[V, C], randn(V * C, r)], dout: [[N, C], randn(N * C, r)],
      }, (be, x) => {
        be.embeddingForward(x.out!, x.tokens!, x.wte!);
        be.embeddingBackward(x.dwte!, x.dout!, x.tokens!);
      }, { out: [0, 0], dwte: [1e-6, 1e-6] });
    });

    it('rmsnorm forward and backward', (t) => {
      for (const C of [1, 37, 256]) {
        const N = 23;
        parity(t, cpu, `rmsnorm C=${C}`, {
          x: [[N, C], randn(N * C, r, 2)], w: [[C], randn(C, r)], out: [[N, C], new Float32Array(N * C)], rstd: [[N], new Float32Array(N)],
          dout: [[N, C], randn(N * C, r)], dx: [[N, C], randn(N * C, r)], dw: [[C], randn(C, r)],
        }, (be, x) => {
          be.rmsnormForward(x.out!, x.rstd!, x.x!, x.w!, 1e-5);
          be.rmsnormBackward(x.dx!, x.dw!, x.dout!, x.x!, x.w!, x.rstd!);
        }, { out: [1e-5, 1e-5], rstd: [1e-6, 1e-5], dx: [2e-5, 1e-4], dw: [1e-4, 1e-4] });
      }
    });

    it('rope forward (also in place) and backward', (t) => {
      for (const D of [2, 16, 34, 64]) {
        const [N, NH, maxPos] = [11, 3, 40];
        const half = D / 2;
        const cos = new Float32Array(maxPos * half), sin = new Float32Array(maxPos * half);
        for (let p = 0; p < maxPos; p++) for (let i = 0; i < half; i++) {
          const a = p / Math.pow(10000, (2 * i) / D);
          cos[p * half + i] = Math.cos(a);
          sin[p * half + i] = Math.sin(a);
        }
        parity(t, cpu, `rope D=${D}`, {
          x: [[N, NH, D], randn(N * NH * D, r)], y: [[N, NH, D], randn(N * NH * D, r)], out: [[N, NH, D], new Float32Array(N * NH * D)],
          pos: [[N], randint(N, 0, maxPos, r)], cos: [[maxPos, half], cos], sin: [[maxPos, half], sin],
          dout: [[N, NH, D], randn(N * NH * D, r)], dx: [[N, NH, D], randn(N * NH * D, r)],
        }, (be, x) => {
          be.ropeForward(x.out!, x.x!, x.pos!, x.cos!, x.sin!);
          be.ropeForward(x.y!, x.y!, x.pos!, x.cos!, x.sin!);
          be.ropeBackward(x.dx!, x.dout!, x.pos!, x.cos!, x.sin!);
        }, { out: [1e-6, 1e-5], y: [1e-6, 1e-5], dx: [1e-6, 1e-5] });
      }
    });

    it('flash attention forward and backward (T = 1, H ≠ KVH, several key blocks, D = 16/24/32/64)', (t) => {
      const cases: [number, number, number, number, number][] = [
        [1, 1, 1, 1, 16], [2, 70, 4, 2, 32], [1, 33, 3, 1, 64], [2, 17, 2, 2, 16], [1, 130, 2, 1, 24], [1, 5, 6, 3, 8],
      ];
      for (const [B, T, H, KVH, D] of cases) {
        const nq = B * T * H * D, nk = B * T * KVH * D;
        parity(t, cpu, `attention B${B} T${T} H${H} KVH${KVH} D${D}`, {
          q: [[B, T, H, D], randn(nq, r)], k: [[B, T, KVH, D], randn(nk, r)], v: [[B, T, KVH, D], randn(nk, r)],
          out: [[B, T, H, D], new Float32Array(nq)], lse: [[B, H, T], new Float32Array(B * H * T)],
          dout: [[B, T, H, D], randn(nq, r)],
          dq: [[B, T, H, D], randn(nq, r)], dk: [[B, T, KVH, D], randn(nk, r)], dv: [[B, T, KVH, D], randn(nk, r)],
        }, (be, x) => {
          be.attentionForward(x.out!, x.lse!, x.q!, x.k!, x.v!);
          be.attentionBackward(x.dq!, x.dk!, x.dv!, x.dout!, x.out!, x.lse!, x.q!, x.k!, x.v!);
        }, { out: [1e-5, 1e-4], lse: [1e-5, 1e-5], dq: [5e-5, 1e-4], dk: [5e-5, 1e-4], dv: [5e-5, 1e-4] });
      }
    });

    it('attentionDecode and kvCacheWrite (empty, partial and full caches)', (t) => {
      for (const [B, H, KVH, D, Tcap] of [[3, 4, 2, 32, 20], [2, 3, 3, 24, 37], [1, 8, 1, 64, 5]] as const) {
        const T = 2;
        const lens = Int32Array.from({ length: B }, (_, b) => (b === 0 ? 0 : b === 1 ? Tcap : 1 + (b % Tcap)));
        const pos = Int32Array.from({ length: B }, (_, b) => (b * 3) % (Tcap - T + 1));
        parity(t, cpu, `decode B${B} H${H} KVH${KVH} D${D} Tcap${Tcap}`, {
          q: [[B, H, D], randn(B * H * D, r)], kc: [[B, Tcap, KVH, D], randn(B * Tcap * KVH * D, r)],
          vc: [[B, Tcap, KVH, D], randn(B * Tcap * KVH * D, r)], lens: [[B], lens], out: [[B, H, D], randn(B * H * D, r)],
          x: [[B, T, KVH, D], randn(B * T * KVH * D, r)], pos: [[B], pos],
        }, (be, x) => {
          be.kvCacheWrite(x.kc!, x.x!, x.pos!);
          be.attentionDecode(x.out!, x.q!, x.kc!, x.vc!, x.lens!);
        }, { kc: [0, 0], out: [1e-5, 1e-4] });
      }
    });

    it('swiglu forward and backward (including |gate| up to 40)', (t) => {
      const n = 1001;
      const gate = randn(n, r, 3);
      gate[0] = 40;
      gate[1] = -40;
      gate[2] = 0;
      parity(t, cpu, 'swiglu', {
        gate: [[n], gate], up: [[n], randn(n, r)], out: [[n], new Float32Array(n)],
        dout: [[n], randn(n, r)], dgate: [[n], randn(n, r)], dup: [[n], randn(n, r)],
      }, (be, x) => {
        be.swigluForward(x.out!, x.gate!, x.up!);
        be.swigluBackward(x.dgate!, x.dup!, x.dout!, x.gate!, x.up!);
      }, { out: [1e-6, 1e-5], dgate: [1e-5, 1e-5], dup: [1e-6, 1e-5] });
    });

    it('cross-entropy forward and backward, with and without a mask', (t) => {
      for (const V of [1, 37, 1000]) {
        for (const masked of [false, true]) {
          const N = 13;
          const mask = Float32Array.from({ length: N }, (_, i) => (i % 3 === 0 ? 0 : 1));
          parity(t, cpu, `cross-entropy V=${V} mask=${masked}`, {
            logits: [[N, V], randn(N * V, r, 3)], targets: [[N], randint(N, 0, V, r)], mask: [[N], mask],
            losses: [[N], new Float32Array(N)], dlogits: [[N, V], randn(N * V, r)],
          }, (be, x) => {
            be.crossEntropyForward(x.losses!, x.logits!, x.targets!, masked ? x.mask! : null);
            be.crossEntropyBackward(x.dlogits!, x.logits!, x.targets!, masked ? x.mask! : null, 0.5);
          }, { losses: [2e-5, 1e-5], dlogits: [1e-6, 1e-4] });
        }
      }
    });

    it('adamw at steps 1 and 7', (t) => {
      const n = 1003;
      for (const step of [1, 7]) {
        parity(t, cpu, `adamw step ${step}`, {
          p: [[n], randn(n, r)], g: [[n], randn(n, r)], m: [[n], randn(n, r, 0.1)], v: [[n], Float32Array.from(randn(n, r, 0.1), Math.abs)],
        }, (be, x) => be.adamw(x.p!, x.g!, x.m!, x.v!, { lr: 1e-2, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, step }),
        { p: [1e-6, 1e-5], m: [1e-7, 1e-6], v: [1e-7, 1e-6] });
      }
    });

    it('add, scale, sumSquares, fill, copy on views', (t) => {
      const n = 100_003;
      parity(t, cpu, 'elementwise', {
        a: [[n], randn(n, r)], b: [[n], randn(n, r)], out: [[n], new Float32Array(n)], big: [[2 * n], randn(2 * n, r)],
      }, (be, x) => {
        be.add(x.out!, x.a!, x.b!);
        be.scale(x.a!, -1.5);
        be.fill(be.view(x.big!, 3, [10]), 0.25);
        be.copy(be.view(x.big!, n, [n]), x.out!);
      }, { out: [0, 0], a: [0, 0], big: [0, 0] });
      const x = randn(n, r);
      const [xc, xr] = twin([cpu, ref], [n], x);
      const got = cpu.sumSquares(xc!), want = ref.sumSquares(xr!);
      t.diagnostic(`sumSquares rel diff ${Math.abs(got - want) / want}`);
      assert.ok(Math.abs(got - want) <= 1e-12 * want, `sumSquares ${got} vs ${want}`);
      const ints = cpu.alloc([7], 'i32');
      cpu.fill(ints, 3);
      assert.deepEqual([...cpu.download(ints)], [3, 3, 3, 3, 3, 3, 3]);
    });
  });
}
