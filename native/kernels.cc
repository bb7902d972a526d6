// Op kernels written once against GCC/Clang vector extensions and compiled per instruction set
// (binding.gyp builds this file three times with different -m flags and SBP_ISA_* defines).
// Everything here has internal linkage (anonymous namespace) so no function compiled for AVX-512
// can be picked by the linker for a caller on a machine without it; only the table is exported.
//
// Determinism: every reduction runs in an order fixed by the data sizes, never by the thread count
// or by which thread claims a task, so 1 and N threads give bit-identical results.
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <cstdint>

#include "kernels.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

#if defined(SBP_ISA_AVX512)
#define SBP_NS avx512
#define SBP_ISA_NAME "avx512"
#define SBP_VBYTES 64
#define SBP_NREG 32
#elif defined(SBP_ISA_AVX2)
#define SBP_NS avx2
#define SBP_ISA_NAME "avx2"
#define SBP_VBYTES 32
#define SBP_NREG 16
#else
#define SBP_NS portable
#define SBP_ISA_NAME "portable"
#define SBP_VBYTES 16
#define SBP_NREG 16
#endif

namespace sbp {
namespace SBP_NS {
namespace {

constexpr int VL = SBP_VBYTES / 4;  // floats per vector register
typedef float vf __attribute__((vector_size(SBP_VBYTES)));
typedef int32_t vi __attribute__((vector_size(SBP_VBYTES)));

inline vf ld(const float* p) { vf v; std::memcpy(&v, p, sizeof v); return v; }
inline void st(float* p, vf v) { std::memcpy(p, &v, sizeof v); }
inline vf bc(float x) {
#if defined(SBP_ISA_AVX512)
  return (vf)_mm512_set1_ps(x);  // one vbroadcastss, folded into the FMA's memory operand
#elif defined(SBP_ISA_AVX2)
  return (vf)_mm256_set1_ps(x);
#elif defined(__SSE2__)
  return (vf)_mm_set1_ps(x);
#else
  return vf{} + x;
#endif
}
inline int imin(int a, int b) { return a < b ? a : b; }
inline int imax(int a, int b) { return a > b ? a : b; }
inline size_t zmin(size_t a, size_t b) { return a < b ? a : b; }
inline float hsum(vf v) { float s = 0; for (int l = 0; l < VL; l++) s += v[l]; return s; }
inline float hmax(vf v) { float m = v[0]; for (int l = 1; l < VL; l++) m = v[l] > m ? v[l] : m; return m; }
inline vf vmax(vf a, vf b) { return a > b ? a : b; }

// e^x to ~2 ulp: x = n ln2 + r, |r| <= ln2/2, degree-6 Taylor in r, 2^n built in the exponent bits.
// Below -87.3 (where e^x leaves the normal range) returns exactly 0, so -inf masks give 0.
inline vf vexp(vf x) {
  const vf lo = bc(-87.3f), hi = bc(88.7f);
  vi under = x < lo;
  x = x > hi ? hi : x;
  x = x < lo ? lo : x;
  vf t = x * 1.44269504088896341f;
  vf n = (t + 12582912.f) - 12582912.f;  // round to nearest (1.5 * 2^23 trick)
  vf r = x - n * 0.693145751953125f;
  r = r - n * 1.428606765330187045e-06f;
  vf p = bc(1.f / 720.f);
  p = p * r + 1.f / 120.f;
  p = p * r + 1.f / 24.f;
  p = p * r + 1.f / 6.f;
  p = p * r + 0.5f;
  p = p * r + 1.f;
  p = p * r + 1.f;
  vi e = (__builtin_convertvector(n, vi) + 127) << 23;
  vf y = p * (vf)e;
  return under ? bc(0.f) : y;
}

inline float sexp(float x) { return vexp(bc(x))[0]; }

// ---- per-thread scratch ----
struct Scratch {
  float* p = nullptr;
  size_t n = 0;
  ~Scratch() { std::free(p); }
  float* get(size_t want) {
    if (want > n) {
      std::free(p);
      n = (want + 1023) & ~size_t(1023);
      p = static_cast<float*>(std::aligned_alloc(64, n * sizeof(float)));
      if (!p) std::abort();
    }
    return p;
  }
};
thread_local Scratch tl_scratch[3];

// Splits [0, n) into at most 4 chunks per thread of at least `grain` items; f(lo, hi).
template <class F>
void par_range(ThreadPool& pool, size_t n, size_t grain, F&& f) {
  if (n == 0) return;
  size_t chunks = n / (grain ? grain : 1);
  size_t most = size_t(pool.size()) * 4;
  if (chunks > most) chunks = most;
  if (chunks <= 1 || pool.size() == 1) {
    f(size_t(0), n);
    return;
  }
  pool.parallel_for(int(chunks), [&](int t, int) { f(n * t / chunks, n * (t + 1) / chunks); });
}

// =====================================================================================================
// GEMM: C (M, N) = alpha * op(A) (M, K) · op(B) (K, N) + beta * C.
// Packed panels: A in MR-row micro-panels (k-major), B in NR-column micro-panels (k-major); the
// micro-kernel keeps an MR × NR tile of C in registers, broadcasting A and loading NR/VL vectors of B.
// Loop order jc (NC) > pc (KC) > ic (MC) > ir (MR) > jr (NR): one A micro-panel (KC·MR floats) stays
// in L1 while the packed B block (KC·NC floats, 1 MiB) streams from L2.
// =====================================================================================================
#if SBP_NREG == 32
constexpr int MR = 12;  // 24 accumulators + 2 B vectors + 1 broadcast of 32 zmm
#else
constexpr int MR = 6;  // 12 accumulators + 2 B vectors + 1 broadcast of 16 registers
#endif
constexpr int NV = 2;
constexpr int NR = NV * VL;
constexpr int KC = 256;
constexpr int MC = MR * 16;
constexpr int NC = 1024;

#if defined(SBP_ISA_AVX512)
// dst[c * dstride + r] = src[r * sstride + c] for a 16 × 16 block: three shuffle stages (pairs of
// floats, pairs of float pairs, 128-bit lanes). GCC 12's intrinsic headers trip -Wuninitialized on
// the unpack/shuffle wrappers (their _mm512_undefined_* placeholders); the operands here are all set.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
inline void transpose16_regs(__m512* r, float* dst, int dstride) {
  __m512 t[16], u[16];
  for (int i = 0; i < 8; i++) {
    t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  for (int i = 0; i < 4; i++) {
    const __m512d a = _mm512_castps_pd(t[4 * i]), b = _mm512_castps_pd(t[4 * i + 1]);
    const __m512d c = _mm512_castps_pd(t[4 * i + 2]), d = _mm512_castps_pd(t[4 * i + 3]);
    u[4 * i + 0] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
    u[4 * i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
    u[4 * i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
    u[4 * i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
  }
  // u[4g + m], 128-bit lane L: column 4L + m of rows 4g .. 4g + 3
  for (int m = 0; m < 4; m++) {
    const __m512 v0 = _mm512_shuffle_f32x4(u[m], u[4 + m], 0x44), v1 = _mm512_shuffle_f32x4(u[m], u[4 + m], 0xEE);
    const __m512 v2 = _mm512_shuffle_f32x4(u[8 + m], u[12 + m], 0x44), v3 = _mm512_shuffle_f32x4(u[8 + m], u[12 + m], 0xEE);
    _mm512_storeu_ps(dst + size_t(m) * dstride, _mm512_shuffle_f32x4(v0, v2, 0x88));
    _mm512_storeu_ps(dst + size_t(4 + m) * dstride, _mm512_shuffle_f32x4(v0, v2, 0xDD));
    _mm512_storeu_ps(dst + size_t(8 + m) * dstride, _mm512_shuffle_f32x4(v1, v3, 0x88));
    _mm512_storeu_ps(dst + size_t(12 + m) * dstride, _mm512_shuffle_f32x4(v1, v3, 0xDD));
  }
}

inline void transpose16(const float* src, int sstride, float* dst, int dstride) {
  __m512 r[16];
  for (int i = 0; i < 16; i++) r[i] = _mm512_loadu_ps(src + size_t(i) * sstride);
  transpose16_regs(r, dst, dstride);
}

// dst (16 × 16, row stride 16)[c][i] = rows[i][k0 + c]
inline void transpose16_rows(const float* const* rows, int k0, float* dst) {
  __m512 r[16];
  for (int i = 0; i < 16; i++) r[i] = _mm512_loadu_ps(rows[i] + k0);
  transpose16_regs(r, dst, 16);
}
#pragma GCC diagnostic pop
#endif

#if defined(SBP_ISA_AVX2)
// dst[c * dstride + r] = src[r * sstride + c] for an 8 × 8 block: pairs of floats (unpack), pairs of
// pairs (shuffle), then the two 128-bit halves (permute2f128).
inline void transpose8_regs(const __m256* r, float* dst, int dstride) {
  __m256 t[8], u[8];
  for (int i = 0; i < 4; i++) {
    t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);      // rows 2i, 2i+1: columns 0 1 | 4 5
    t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);  // columns 2 3 | 6 7
  }
  for (int h = 0; h < 2; h++) {  // rows 4h .. 4h + 3
    const __m256 *lo = t + 4 * h, *hi = t + 4 * h + 2;
    u[4 * h + 0] = _mm256_shuffle_ps(lo[0], hi[0], 0x44);  // column 0 | 4
    u[4 * h + 1] = _mm256_shuffle_ps(lo[0], hi[0], 0xEE);  // column 1 | 5
    u[4 * h + 2] = _mm256_shuffle_ps(lo[1], hi[1], 0x44);  // column 2 | 6
    u[4 * h + 3] = _mm256_shuffle_ps(lo[1], hi[1], 0xEE);  // column 3 | 7
  }
  for (int m = 0; m < 4; m++) {
    _mm256_storeu_ps(dst + size_t(m) * dstride, _mm256_permute2f128_ps(u[m], u[4 + m], 0x20));
    _mm256_storeu_ps(dst + size_t(4 + m) * dstride, _mm256_permute2f128_ps(u[m], u[4 + m], 0x31));
  }
}

inline void transpose8(const float* src, int sstride, float* dst, int dstride) {
  __m256 r[8];
  for (int i = 0; i < 8; i++) r[i] = _mm256_loadu_ps(src + size_t(i) * sstride);
  transpose8_regs(r, dst, dstride);
}

// dst (8 × 8, row stride 8)[c][i] = rows[i][k0 + c]
inline void transpose8_rows(const float* const* rows, int k0, float* dst) {
  __m256 r[8];
  for (int i = 0; i < 8; i++) r[i] = _mm256_loadu_ps(rows[i] + k0);
  transpose8_regs(r, dst, 8);
}
#endif

#if defined(SBP_ISA_AVX512) || defined(SBP_ISA_AVX2)
// Register transposes of VL × VL blocks (16 × 16 or 8 × 8) for the packs that transpose and the
// decode scores; the portable build keeps the scalar loops.
#define SBP_REGISTER_TRANSPOSE 1
inline void transpose_block(const float* src, int sstride, float* dst, int dstride) {
#if defined(SBP_ISA_AVX512)
  transpose16(src, sstride, dst, dstride);
#else
  transpose8(src, sstride, dst, dstride);
#endif
}
inline void transpose_block_rows(const float* const* rows, int k0, float* dst) {
#if defined(SBP_ISA_AVX512)
  transpose16_rows(rows, k0, dst);
#else
  transpose8_rows(rows, k0, dst);
#endif
}
#endif

void pack_a(float* Ap, const GemmArgs& g, int i0, int mc, int p0, int kc) {
  for (int ir = 0; ir < mc; ir += MR) {
    const int mr = imin(MR, mc - ir);
    float* dst = Ap + size_t(ir) * kc;
    if (!g.transA) {
      int kdone = 0;
#if defined(SBP_REGISTER_TRANSPOSE)
      // VL k at a time through a VL × VL register transpose (rows past mr repeat the first row and
      // are not copied out); a scalar scatter made packing A a third of the time for K = 8192
      static_assert(MR <= VL, "one transposed block covers a micro-panel's rows");
      if (mr == MR) {
        alignas(64) float tile[VL * VL];
        const float* rows[VL];
        for (int i = 0; i < VL; i++) rows[i] = g.A + size_t(i0 + ir + (i < MR ? i : 0)) * g.lda + p0;
        for (; kdone + VL <= kc; kdone += VL) {
          transpose_block_rows(rows, kdone, tile);
          for (int k = 0; k < VL; k++) std::memcpy(dst + size_t(kdone + k) * MR, tile + k * VL, sizeof(float) * MR);
        }
      }
#endif
      for (int i = 0; i < mr; i++) {
        const float* src = g.A + size_t(i0 + ir + i) * g.lda + p0;
        for (int k = kdone; k < kc; k++) dst[k * MR + i] = src[k];
      }
    } else {
      for (int k = 0; k < kc; k++) {
        const float* src = g.A + size_t(p0 + k) * g.lda + i0 + ir;
        for (int i = 0; i < mr; i++) dst[k * MR + i] = src[i];
      }
    }
    if (mr < MR)
      for (int k = 0; k < kc; k++)
        for (int i = mr; i < MR; i++) dst[k * MR + i] = 0.f;
  }
}

void pack_b(float* Bp, const GemmArgs& g, int j0, int nc, int p0, int kc) {
  for (int jr = 0; jr < nc; jr += NR) {
    const int nr = imin(NR, nc - jr);
    float* dst = Bp + size_t(jr) * kc;
    if (!g.transB) {
      for (int k = 0; k < kc; k++) {
        const float* src = g.B + size_t(p0 + k) * g.ldb + j0 + jr;
        if (nr == NR) {
          for (int v = 0; v < NV; v++) st(dst + k * NR + v * VL, ld(src + v * VL));
        } else {
          for (int j = 0; j < nr; j++) dst[k * NR + j] = src[j];
          for (int j = nr; j < NR; j++) dst[k * NR + j] = 0.f;
        }
      }
    } else {
      int kdone = 0;
#if defined(SBP_REGISTER_TRANSPOSE)
      // op(B) = Bᵀ: VL × VL blocks transposed in registers (a scalar scatter costs ~4× the kernel
      // time when M is small, as in decoding)
      if (nr == NR) {
        for (; kdone + VL <= kc; kdone += VL)
          for (int h = 0; h < NR; h += VL)
            transpose_block(g.B + size_t(j0 + jr + h) * g.ldb + p0 + kdone, g.ldb, dst + size_t(kdone) * NR + h, NR);
      }
#endif
      for (int j = 0; j < nr; j++) {
        const float* src = g.B + size_t(j0 + jr + j) * g.ldb + p0;
        for (int k = kdone; k < kc; k++) dst[k * NR + j] = src[k];
      }
      if (nr < NR)
        for (int k = 0; k < kc; k++)
          for (int j = nr; j < NR; j++) dst[k * NR + j] = 0.f;
    }
  }
}

// C tile (mr, nr) <- alpha * Ap·Bp + cbeta * C; cbeta == 0 means C is not read (BLAS semantics).
inline void micro_kernel(int kc, const float* __restrict Ap, const float* __restrict Bp, float* C, int ldc, int mr,
                         int nr, float alpha, float cbeta) {
  vf acc[MR][NV];
  for (int i = 0; i < MR; i++)
    for (int v = 0; v < NV; v++) acc[i][v] = vf{};
#pragma GCC unroll 2
  for (int k = 0; k < kc; k++) {
    vf b[NV];
    for (int v = 0; v < NV; v++) b[v] = *reinterpret_cast<const vf*>(Bp + k * NR + v * VL);
    for (int i = 0; i < MR; i++) {
      vf a = bc(Ap[k * MR + i]);
      for (int v = 0; v < NV; v++) acc[i][v] += a * b[v];
    }
  }
  if (mr == MR && nr == NR) {
    for (int i = 0; i < MR; i++)
      for (int v = 0; v < NV; v++) {
        float* c = C + size_t(i) * ldc + v * VL;
        vf r = acc[i][v] * alpha;
        if (cbeta != 0.f) r += ld(c) * cbeta;
        st(c, r);
      }
  } else {
    alignas(64) float tile[MR * NR];
    for (int i = 0; i < MR; i++)
      for (int v = 0; v < NV; v++) st(tile + i * NR + v * VL, acc[i][v]);
    for (int i = 0; i < mr; i++)
      for (int j = 0; j < nr; j++) {
        float* c = C + size_t(i) * ldc + j;
        float r = tile[i * NR + j] * alpha;
        *c = cbeta != 0.f ? r + *c * cbeta : r;
      }
  }
}

void gemm_block(const GemmArgs& g, int m0, int m1, int n0, int n1, float* Ap, float* Bp) {
  for (int jc = n0; jc < n1; jc += NC) {
    const int nc = imin(NC, n1 - jc);
    for (int pc = 0; pc < g.K; pc += KC) {
      const int kc = imin(KC, g.K - pc);
      const float cbeta = pc == 0 ? g.beta : 1.f;
      pack_b(Bp, g, jc, nc, pc, kc);
      for (int ic = m0; ic < m1; ic += MC) {
        const int mc = imin(MC, m1 - ic);
        pack_a(Ap, g, ic, mc, pc, kc);
        for (int ir = 0; ir < mc; ir += MR)
          for (int jr = 0; jr < nc; jr += NR)
            micro_kernel(kc, Ap + size_t(ir) * kc, Bp + size_t(jr) * kc, g.C + size_t(ic + ir) * g.ldc + jc + jr,
                         g.ldc, imin(MR, mc - ir), imin(NR, nc - jr), g.alpha, cbeta);
      }
    }
  }
}

void gemm(ThreadPool& pool, const GemmArgs& g) {
  if (g.M == 0 || g.N == 0) return;
  if (g.K == 0) {  // alpha * (empty sum) + beta * C
    for (int i = 0; i < g.M; i++)
      for (int j = 0; j < g.N; j++) {
        float* c = g.C + size_t(i) * g.ldc + j;
        *c = g.beta == 0.f ? 0.f : *c * g.beta;
      }
    return;
  }
  // Split C into tasks along its longer side (in whole tiles); each task packs its own panels.
  // Two tasks per thread so a thread slowed by another process is helped by the others.
  const double flops = 2.0 * g.M * g.N * g.K;
  const int mtiles = (g.M + MR - 1) / MR, ntiles = (g.N + NR - 1) / NR;
  const bool splitM = mtiles * MR >= ntiles * NR;
  const int tiles = splitM ? mtiles : ntiles;
  int tasks = flops < 4e6 || pool.size() == 1 ? 1 : imin(tiles, pool.size() * 2);
  auto body = [&](int t, int) {
    const int t0 = tiles * t / tasks, t1 = tiles * (t + 1) / tasks;
    float* Ap = tl_scratch[0].get(size_t(MC) * KC);
    float* Bp = tl_scratch[1].get(size_t(NC) * KC);
    if (splitM) gemm_block(g, t0 * MR, imin(g.M, t1 * MR), 0, g.N, Ap, Bp);
    else gemm_block(g, 0, g.M, t0 * NR, imin(g.N, t1 * NR), Ap, Bp);
  };
  pool.parallel_for(tasks, body);
}

// =====================================================================================================
// Elementwise, reductions
// =====================================================================================================
constexpr size_t kElemGrain = 1 << 15;

void add(ThreadPool& pool, float* out, const float* a, const float* b, size_t n) {
  par_range(pool, n, kElemGrain, [&](size_t lo, size_t hi) {
    for (size_t i = lo; i < hi; i++) out[i] = a[i] + b[i];
  });
}

void scale(ThreadPool& pool, float* x, float s, size_t n) {
  par_range(pool, n, kElemGrain, [&](size_t lo, size_t hi) {
    for (size_t i = lo; i < hi; i++) x[i] *= s;
  });
}

// Σ x² in float64: fixed 16 Ki-element chunks, 8 lanes each, chunks summed in index order.
double sum_squares(ThreadPool& pool, const float* x, size_t n) {
  constexpr size_t CH = 1 << 14;
  const size_t chunks = (n + CH - 1) / CH;
  double* part = static_cast<double*>(std::malloc((chunks + 1) * sizeof(double)));
  if (!part) std::abort();
  par_range(pool, chunks, 4, [&](size_t c0, size_t c1) {
    for (size_t c = c0; c < c1; c++) {
      const size_t lo = c * CH, hi = zmin(n, lo + CH);
      double lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
      size_t i = lo;
      for (; i + 8 <= hi; i += 8)
        for (int l = 0; l < 8; l++) lane[l] += double(x[i + l]) * double(x[i + l]);
      for (; i < hi; i++) lane[0] += double(x[i]) * double(x[i]);
      double s = 0;
      for (int l = 0; l < 8; l++) s += lane[l];
      part[c] = s;
    }
  });
  double total = 0;
  for (size_t c = 0; c < chunks; c++) total += part[c];
  std::free(part);
  return total;
}

// =====================================================================================================
// Embedding, RMSNorm, RoPE, SwiGLU
// =====================================================================================================
void embedding_forward(ThreadPool& pool, float* out, const int32_t* tokens, const float* wte, int N, int C) {
  par_range(pool, size_t(N), imax(1, 8192 / imax(C, 1)), [&](size_t lo, size_t hi) {
    for (size_t n = lo; n < hi; n++) std::memcpy(out + n * C, wte + size_t(tokens[n]) * C, sizeof(float) * C);
  });
}

// Column ranges are split across threads; each walks all rows in order (no races, fixed order).
void embedding_backward(ThreadPool& pool, float* dwte, const float* dout, const int32_t* tokens, int N, int C) {
  const size_t grain = size_t(N) * 64 >= (1u << 15) ? 64 : size_t(C);
  par_range(pool, size_t(C), grain, [&](size_t c0, size_t c1) {
    for (int n = 0; n < N; n++) {
      float* dst = dwte + size_t(tokens[n]) * C;
      const float* src = dout + size_t(n) * C;
      for (size_t c = c0; c < c1; c++) dst[c] += src[c];
    }
  });
}

inline float row_sum_squares(const float* x, int C) {
  vf acc = vf{};
  int c = 0;
  for (; c + VL <= C; c += VL) {
    vf v = ld(x + c);
    acc += v * v;
  }
  float s = hsum(acc);
  for (; c < C; c++) s += x[c] * x[c];
  return s;
}

void rmsnorm_forward(ThreadPool& pool, float* out, float* rstd, const float* x, const float* w, int N, int C,
                     float eps) {
  par_range(pool, size_t(N), imax(1, 16384 / imax(C, 1)), [&](size_t lo, size_t hi) {
    for (size_t n = lo; n < hi; n++) {
      const float* xr = x + n * C;
      float* o = out + n * C;
      const float r = 1.f / std::sqrt(row_sum_squares(xr, C) / float(C) + eps);
      rstd[n] = r;
      for (int c = 0; c < C; c++) o[c] = xr[c] * r * w[c];
    }
  });
}

void rmsnorm_backward(ThreadPool& pool, float* dx, float* dw, const float* dout, const float* x, const float* w,
                      const float* rstd, int N, int C) {
  // dx_j += r (w_j g_j - x_j r² mean_c(w_c g_c x_c)), rows in parallel
  par_range(pool, size_t(N), imax(1, 8192 / imax(C, 1)), [&](size_t lo, size_t hi) {
    for (size_t n = lo; n < hi; n++) {
      const float* xr = x + n * C;
      const float* g = dout + n * C;
      float* d = dx + n * C;
      const float r = rstd[n];
      vf acc = vf{};
      int c = 0;
      for (; c + VL <= C; c += VL) acc += ld(w + c) * ld(g + c) * ld(xr + c);
      float dot = hsum(acc);
      for (; c < C; c++) dot += w[c] * g[c] * xr[c];
      const float k = r * r * dot / float(C);
      for (c = 0; c < C; c++) d[c] += r * (w[c] * g[c] - xr[c] * k);
    }
  });
  // dw_c += Σ_n g x r, column ranges in parallel, rows in order
  par_range(pool, size_t(C), size_t(N) * 64 >= (1u << 15) ? 64 : size_t(C), [&](size_t c0, size_t c1) {
    for (int n = 0; n < N; n++) {
      const float* xr = x + size_t(n) * C;
      const float* g = dout + size_t(n) * C;
      const float r = rstd[n];
      for (size_t c = c0; c < c1; c++) dw[c] += g[c] * xr[c] * r;
    }
  });
}

// Rotate-half: pairs (i, i + D/2). Both halves are read before either is written, so out may alias x.
void rope_forward(ThreadPool& pool, float* out, const float* x, const int32_t* pos, const float* cosT,
                  const float* sinT, int N, int NH, int D) {
  const int half = D / 2;
  par_range(pool, size_t(N), imax(1, 8192 / imax(NH * D, 1)), [&](size_t lo, size_t hi) {
    for (size_t n = lo; n < hi; n++) {
      const float* cs = cosT + size_t(pos[n]) * half;
      const float* sn = sinT + size_t(pos[n]) * half;
      for (int h = 0; h < NH; h++) {
        const float* xr = x + (n * NH + h) * D;
        float* o = out + (n * NH + h) * D;
        int i = 0;
        if (half % VL == 0)
          for (; i < half; i += VL) {
            vf x1 = ld(xr + i), x2 = ld(xr + i + half), c = ld(cs + i), s = ld(sn + i);
            st(o + i, x1 * c - x2 * s);
            st(o + i + half, x2 * c + x1 * s);
          }
        for (; i < half; i++) {
          const float x1 = xr[i], x2 = xr[i + half];
          o[i] = x1 * cs[i] - x2 * sn[i];
          o[i + half] = x2 * cs[i] + x1 * sn[i];
        }
      }
    }
  });
}

void rope_backward(ThreadPool& pool, float* dx, const float* dout, const int32_t* pos, const float* cosT,
                   const float* sinT, int N, int NH, int D) {
  const int half = D / 2;
  par_range(pool, size_t(N), imax(1, 8192 / imax(NH * D, 1)), [&](size_t lo, size_t hi) {
    for (size_t n = lo; n < hi; n++) {
      const float* cs = cosT + size_t(pos[n]) * half;
      const float* sn = sinT + size_t(pos[n]) * half;
      for (int h = 0; h < NH; h++) {
        const float* g = dout + (n * NH + h) * D;
        float* d = dx + (n * NH + h) * D;
        int i = 0;
        if (half % VL == 0)
          for (; i < half; i += VL) {
            vf g1 = ld(g + i), g2 = ld(g + i + half), c = ld(cs + i), s = ld(sn + i);
            vf d1 = ld(d + i) + (g1 * c + g2 * s);
            vf d2 = ld(d + i + half) + (g2 * c - g1 * s);
            st(d + i, d1);
            st(d + i + half, d2);
          }
        for (; i < half; i++) {
          const float g1 = g[i], g2 = g[i + half];
          const float a = g1 * cs[i] + g2 * sn[i], b = g2 * cs[i] - g1 * sn[i];
          d[i] += a;
          d[i + half] += b;
        }
      }
    }
  });
}

void swiglu_forward(ThreadPool& pool, float* out, const float* gate, const float* up, size_t n) {
  par_range(pool, n, kElemGrain / 4, [&](size_t lo, size_t hi) {
    size_t i = lo;
    for (; i + VL <= hi; i += VL) {
      vf g = ld(gate + i);
      vf sig = 1.f / (1.f + vexp(-g));
      st(out + i, g * sig * ld(up + i));
    }
    for (; i < hi; i++) {
      const float g = gate[i];
      out[i] = g * (1.f / (1.f + sexp(-g))) * up[i];
    }
  });
}

void swiglu_backward(ThreadPool& pool, float* dgate, float* dup, const float* dout, const float* gate,
                     const float* up, size_t n) {
  // d silu(g)/dg = σ(g) (1 + g (1 - σ(g)))
  par_range(pool, n, kElemGrain / 4, [&](size_t lo, size_t hi) {
    size_t i = lo;
    for (; i + VL <= hi; i += VL) {
      vf g = ld(gate + i), d = ld(dout + i);
      vf sig = 1.f / (1.f + vexp(-g));
      st(dgate + i, ld(dgate + i) + d * ld(up + i) * sig * (1.f + g * (1.f - sig)));
      st(dup + i, ld(dup + i) + d * g * sig);
    }
    for (; i < hi; i++) {
      const float g = gate[i], d = dout[i];
      const float sig = 1.f / (1.f + sexp(-g));
      dgate[i] += d * up[i] * sig * (1.f + g * (1.f - sig));
      dup[i] += d * g * sig;
    }
  });
}

// =====================================================================================================
// Cross-entropy (fused log-softmax + NLL), rows in parallel
// =====================================================================================================
// Returns the row max and Σ exp(x - max).
inline void row_softmax_stats(const float* x, int V, float* maxOut, float* sumOut) {
  vf m = bc(-INFINITY);
  int i = 0;
  for (; i + VL <= V; i += VL) m = vmax(m, ld(x + i));
  float mx = hmax(m);
  for (; i < V; i++) mx = x[i] > mx ? x[i] : mx;
  vf s = vf{};
  const vf vm = bc(mx);
  for (i = 0; i + VL <= V; i += VL) s += vexp(ld(x + i) - vm);
  float sum = hsum(s);
  for (; i < V; i++) sum += sexp(x[i] - mx);
  *maxOut = mx;
  *sumOut = sum;
}

void cross_entropy_forward(ThreadPool& pool, float* losses, const float* logits, const int32_t* targets,
                           const float* mask, int N, int V) {
  par_range(pool, size_t(N), imax(1, 16384 / imax(V, 1)), [&](size_t lo, size_t hi) {
    for (size_t n = lo; n < hi; n++) {
      const float* x = logits + n * V;
      float mx, sum;
      row_softmax_stats(x, V, &mx, &sum);
      const float nll = mx + std::log(sum) - x[targets[n]];
      losses[n] = mask ? nll * mask[n] : nll;
    }
  });
}

void cross_entropy_backward(ThreadPool& pool, float* dlogits, const float* logits, const int32_t* targets,
                            const float* mask, float scale, int N, int V) {
  par_range(pool, size_t(N), imax(1, 16384 / imax(V, 1)), [&](size_t lo, size_t hi) {
    for (size_t n = lo; n < hi; n++) {
      const float* x = logits + n * V;
      float* d = dlogits + n * V;
      const float w = (mask ? mask[n] : 1.f) * scale;
      float mx, sum;
      row_softmax_stats(x, V, &mx, &sum);
      const float k = w / sum;
      const vf vm = bc(mx);
      int i = 0;
      for (; i + VL <= V; i += VL) st(d + i, vexp(ld(x + i) - vm) * k);
      for (; i < V; i++) d[i] = sexp(x[i] - mx) * k;
      d[targets[n]] -= w;
    }
  });
}

// =====================================================================================================
// AdamW (decoupled decay applied to the pre-update weight, as torch.optim.AdamW)
// =====================================================================================================
void adamw(ThreadPool& pool, float* param, const float* grad, float* m, float* v, size_t n, const AdamWArgs& a) {
  const float decay = 1.f - a.lr * a.weightDecay;
  const float b1 = a.beta1, b2 = a.beta2, ib1 = 1.f - a.beta1, ib2 = 1.f - a.beta2;
  const float step = a.lr / a.bias1, rb2 = 1.f / a.bias2;
  par_range(pool, n, kElemGrain / 2, [&](size_t lo, size_t hi) {
    for (size_t i = lo; i < hi; i++) {
      const float g = grad[i];
      const float mi = b1 * m[i] + ib1 * g;
      const float vi2 = b2 * v[i] + ib2 * g * g;
      m[i] = mi;
      v[i] = vi2;
      param[i] = param[i] * decay - step * mi / (std::sqrt(vi2 * rb2) + a.eps);
    }
  });
}

// =====================================================================================================
// Flash attention (causal, grouped KV). Blocks of BQ queries × BK keys; q, k, v, dout blocks are
// copied into padded scratch (head size padded to DV vectors) so the inner loops are fixed-size
// register tiles. Scores exist only per block (BQ × BK), never (T × T).
// =====================================================================================================
constexpr int BK = 4 * VL;  // keys per block: 4 vectors of scores per query row
constexpr int BQ = BK;      // queries per block
constexpr int SRB = SBP_NREG == 32 ? 4 : 2;  // query rows per score tile (SRB × 4 accumulators)

template <int DV>
struct Attn {
  static constexpr int Dp = DV * VL;
  // rows of an output tile: acc (ORB × DV) + DV loaded vectors + 1 broadcast fit the register file
  static constexpr int ORB = (SBP_NREG / 2) / DV >= 4 ? 4 : ((SBP_NREG / 2) / DV >= 1 ? (SBP_NREG / 2) / DV : 1);

  // S (BQ, BK) = X (BQ, Dp) · Yt (Dp, BK), for the first nq rows (rounded up to SRB)
  static void scores(float* __restrict S, const float* __restrict X, const float* __restrict Yt, int nq) {
    for (int i = 0; i < nq; i += SRB) {
      vf acc[SRB][4];
      for (int r = 0; r < SRB; r++)
        for (int v = 0; v < 4; v++) acc[r][v] = vf{};
      for (int d = 0; d < Dp; d++) {
        vf y[4];
        for (int v = 0; v < 4; v++) y[v] = *reinterpret_cast<const vf*>(Yt + d * BK + v * VL);
        for (int r = 0; r < SRB; r++) {
          vf x = bc(X[(i + r) * Dp + d]);
          for (int v = 0; v < 4; v++) acc[r][v] += x * y[v];
        }
      }
      for (int r = 0; r < SRB; r++)
        for (int v = 0; v < 4; v++) *reinterpret_cast<vf*>(S + (i + r) * BK + v * VL) = acc[r][v];
    }
  }

  // Acc rows i < nq (stride Dp): Acc[i] = Acc[i] * rowScale[i] + Σ_{j<nk} P[i][j] Y[j]; rowScale null = 1
  static void acc_nn(float* __restrict Acc, const float* __restrict P, const float* __restrict Y, const float* rowScale,
                     int nq, int nk) {
    for (int i = 0; i < nq; i += ORB) {
      const int rows = imin(ORB, nq - i);
      vf acc[ORB][DV];
      for (int r = 0; r < ORB; r++)
        for (int v = 0; v < DV; v++) {
          acc[r][v] = r < rows ? *reinterpret_cast<const vf*>(Acc + (i + r) * Dp + v * VL) : vf{};
          if (rowScale) acc[r][v] *= rowScale[imin(i + r, nq - 1)];
        }
      for (int j = 0; j < nk; j++) {
        vf y[DV];
        for (int v = 0; v < DV; v++) y[v] = *reinterpret_cast<const vf*>(Y + j * Dp + v * VL);
        for (int r = 0; r < ORB; r++) {
          vf p = bc(P[(i + r) * BK + j]);
          for (int v = 0; v < DV; v++) acc[r][v] += p * y[v];
        }
      }
      for (int r = 0; r < rows; r++)
        for (int v = 0; v < DV; v++) *reinterpret_cast<vf*>(Acc + (i + r) * Dp + v * VL) = acc[r][v];
    }
  }

  // Acc rows j < nk (stride Dp): Acc[j] += Σ_{i<nq} P[i][j] X[i]   (Pᵀ X)
  static void acc_tn(float* __restrict Acc, const float* __restrict P, const float* __restrict X, int nq, int nk) {
    for (int j = 0; j < nk; j += ORB) {
      const int rows = imin(ORB, nk - j);
      vf acc[ORB][DV];
      for (int r = 0; r < ORB; r++)
        for (int v = 0; v < DV; v++) acc[r][v] = *reinterpret_cast<const vf*>(Acc + (j + r) * Dp + v * VL);
      for (int i = 0; i < nq; i++) {
        vf x[DV];
        for (int v = 0; v < DV; v++) x[v] = *reinterpret_cast<const vf*>(X + i * Dp + v * VL);
        for (int r = 0; r < ORB; r++) {
          vf p = bc(P[i * BK + j + r]);
          for (int v = 0; v < DV; v++) acc[r][v] += p * x[v];
        }
      }
      for (int r = 0; r < rows; r++)
        for (int v = 0; v < DV; v++) *reinterpret_cast<vf*>(Acc + (j + r) * Dp + v * VL) = acc[r][v];
    }
  }

  // rows [t0, t0 + n) of head `head` of x (B, T, NH, D) at batch b -> dst (BQ, Dp), scaled, zero padded
  static void pack_rows(float* dst, const float* x, int b, int T, int NH, int head, int D, int t0, int n, float s) {
    for (int i = 0; i < BQ; i++) {
      float* o = dst + i * Dp;
      if (i < n) {
        const float* src = x + ((size_t(b) * T + t0 + i) * NH + head) * D;
        for (int d = 0; d < D; d++) o[d] = src[d] * s;
        for (int d = D; d < Dp; d++) o[d] = 0.f;
      } else {
        for (int d = 0; d < Dp; d++) o[d] = 0.f;
      }
    }
  }

  // transposed: dst (Dp, BK)
  static void pack_cols(float* dst, const float* x, int b, int T, int NH, int head, int D, int t0, int n) {
    for (int d = 0; d < Dp; d++)
      for (int j = 0; j < BK; j++) dst[d * BK + j] = 0.f;
    for (int j = 0; j < n; j++) {
      const float* src = x + ((size_t(b) * T + t0 + j) * NH + head) * D;
      for (int d = 0; d < D; d++) dst[d * BK + j] = src[d];
    }
  }

  // scratch floats one forward task needs
  static constexpr size_t fwd_scratch = size_t(BQ) * Dp * 2 + size_t(Dp) * BK + size_t(BK) * Dp + size_t(BQ) * BK;

  static void forward_task(const AttentionArgs& a, int b, int h, int qb) {
    const int T = a.T, D = a.D, G = a.H / a.KVH, kvh = h / G;
    const float scale = 1.f / std::sqrt(float(D));
    float* Qp = tl_scratch[2].get(fwd_scratch);
    float* Op = Qp + BQ * Dp;
    float* Kt = Op + BQ * Dp;
    float* Vp = Kt + Dp * BK;
    float* S = Vp + BK * Dp;
    float m[BQ], l[BQ], alpha[BQ];
    const int q0 = qb * BQ, nq = imin(BQ, T - q0);
    pack_rows(Qp, a.q, b, T, a.H, h, D, q0, nq, scale);
    for (int i = 0; i < BQ * Dp; i++) Op[i] = 0.f;
    for (int i = 0; i < BQ; i++) { m[i] = -INFINITY; l[i] = 0.f; alpha[i] = 0.f; }
    for (int kb = 0; kb <= qb; kb++) {
      const int k0 = kb * BK, nk = imin(BK, T - k0);
      pack_cols(Kt, a.k, b, T, a.KVH, kvh, D, k0, nk);
      pack_rows(Vp, a.v, b, T, a.KVH, kvh, D, k0, nk, 1.f);
      scores(S, Qp, Kt, nq);
      for (int i = 0; i < nq; i++) {
        float* row = S + i * BK;
        const int valid = kb == qb ? q0 + i - k0 + 1 : nk;  // causal: keys k0 + j <= q0 + i
        for (int j = valid; j < BK; j++) row[j] = -INFINITY;
        vf mv = vmax(vmax(ld(row), ld(row + VL)), vmax(ld(row + 2 * VL), ld(row + 3 * VL)));
        const float mx = hmax(mv);
        const float mnew = mx > m[i] ? mx : m[i];
        alpha[i] = sexp(m[i] - mnew);  // m = -inf on the first block: 0
        const vf vm = bc(mnew);
        vf s = vf{};
        for (int v = 0; v < 4; v++) {
          vf p = vexp(ld(row + v * VL) - vm);
          st(row + v * VL, p);
          s += p;
        }
        l[i] = l[i] * alpha[i] + hsum(s);
        m[i] = mnew;
      }
      acc_nn(Op, S, Vp, alpha, nq, nk);
    }
    for (int i = 0; i < nq; i++) {
      float* o = a.out + ((size_t(b) * T + q0 + i) * a.H + h) * D;
      const float inv = 1.f / l[i];
      for (int d = 0; d < D; d++) o[d] = Op[i * Dp + d] * inv;
      a.lse[(size_t(b) * a.H + h) * T + q0 + i] = m[i] + std::log(l[i]);
    }
  }

  static void forward(ThreadPool& pool, const AttentionArgs& a) {
    const int nb = (a.T + BQ - 1) / BQ;
    const int tasks = a.B * a.H * nb;
    // causal work grows with the query block: hand out the heaviest blocks first
    pool.parallel_for(tasks, [&](int t, int) {
      const int qb = nb - 1 - t / (a.B * a.H);
      const int bh = t % (a.B * a.H);
      forward_task(a, bh / a.H, bh % a.H, qb);
    });
  }

  // One task per (b, kvh): it owns dk, dv rows of that KV head and dq rows of its G query heads.
  static void backward_task(const AttentionArgs& a, int b, int kvh) {
    const int T = a.T, D = a.D, H = a.H, G = H / a.KVH;
    const int nb = (T + BQ - 1) / BQ, Tp = nb * BQ;
    const float scale = 1.f / std::sqrt(float(D));
    const size_t blk = size_t(BQ) * Dp;
    float* buf = tl_scratch[2].get(blk * 6 + size_t(Dp) * BK * 2 + size_t(BQ) * BK * 2 + size_t(G) * Tp * (Dp + 1));
    float* Qp = buf;             // (BQ, Dp) scaled q
    float* dOp = Qp + blk;       // (BQ, Dp)
    float* Kp = dOp + blk;       // (BK, Dp)
    float* Vp = Kp + blk;        // (BK, Dp)
    float* dKa = Vp + blk;       // (BK, Dp)
    float* dVa = dKa + blk;      // (BK, Dp)
    float* Kt = dVa + blk;       // (Dp, BK)
    float* Vt = Kt + Dp * BK;    // (Dp, BK)
    float* P = Vt + Dp * BK;     // (BQ, BK)
    float* dS = P + BQ * BK;     // (BQ, BK)
    float* dQa = dS + BQ * BK;   // (G, Tp, Dp), unscaled
    float* Di = dQa + size_t(G) * Tp * Dp;  // (G, Tp): rowsum(dout ∘ out)
    for (size_t i = 0; i < size_t(G) * Tp * Dp; i++) dQa[i] = 0.f;
    for (int g = 0; g < G; g++) {
      const int h = kvh * G + g;
      for (int t = 0; t < T; t++) {
        const size_t base = ((size_t(b) * T + t) * H + h) * D;
        float s = 0.f;
        for (int d = 0; d < D; d++) s += a.dout[base + d] * a.out[base + d];
        Di[size_t(g) * Tp + t] = s;
      }
    }
    for (int kb = 0; kb < nb; kb++) {
      const int k0 = kb * BK, nk = imin(BK, T - k0);
      pack_rows(Kp, a.k, b, T, a.KVH, kvh, D, k0, nk, 1.f);
      pack_rows(Vp, a.v, b, T, a.KVH, kvh, D, k0, nk, 1.f);
      pack_cols(Kt, a.k, b, T, a.KVH, kvh, D, k0, nk);
      pack_cols(Vt, a.v, b, T, a.KVH, kvh, D, k0, nk);
      for (size_t i = 0; i < blk; i++) { dKa[i] = 0.f; dVa[i] = 0.f; }
      for (int g = 0; g < G; g++) {
        const int h = kvh * G + g;
        const float* lse = a.lse + (size_t(b) * H + h) * T;
        for (int qb = kb; qb < nb; qb++) {
          const int q0 = qb * BQ, nq = imin(BQ, T - q0);
          pack_rows(Qp, a.q, b, T, H, h, D, q0, nq, scale);
          pack_rows(dOp, a.dout, b, T, H, h, D, q0, nq, 1.f);
          scores(P, Qp, Kt, nq);
          for (int i = 0; i < BQ; i++) {
            float* row = P + i * BK;
            if (i >= nq) {
              for (int j = 0; j < BK; j++) row[j] = 0.f;
              continue;
            }
            const vf vl = bc(lse[q0 + i]);
            for (int v = 0; v < 4; v++) st(row + v * VL, vexp(ld(row + v * VL) - vl));
            const int valid = qb == kb ? q0 + i - k0 + 1 : nk;
            for (int j = valid; j < BK; j++) row[j] = 0.f;
          }
          acc_tn(dVa, P, dOp, nq, nk);  // dV += Pᵀ dO
          scores(dS, dOp, Vt, nq);      // dP = dO Vᵀ
          const float* di = Di + size_t(g) * Tp + q0;
          for (int i = 0; i < BQ; i++) {
            float* ds = dS + i * BK;
            const float* p = P + i * BK;
            const vf vd = bc(i < nq ? di[i] : 0.f);
            for (int v = 0; v < 4; v++) st(ds + v * VL, ld(p + v * VL) * (ld(ds + v * VL) - vd));
          }
          acc_nn(dQa + (size_t(g) * Tp + q0) * Dp, dS, Kp, nullptr, nq, nk);  // dQ += dS K (× scale later)
          acc_tn(dKa, dS, Qp, nq, nk);  // dK += dSᵀ (scale · Q)
        }
      }
      for (int j = 0; j < nk; j++) {
        const size_t base = ((size_t(b) * T + k0 + j) * a.KVH + kvh) * D;
        for (int d = 0; d < D; d++) {
          a.dk[base + d] += dKa[j * Dp + d];
          a.dv[base + d] += dVa[j * Dp + d];
        }
      }
    }
    for (int g = 0; g < G; g++) {
      const int h = kvh * G + g;
      for (int t = 0; t < T; t++) {
        float* dq = a.dq + ((size_t(b) * T + t) * H + h) * D;
        const float* src = dQa + (size_t(g) * Tp + t) * Dp;
        for (int d = 0; d < D; d++) dq[d] += scale * src[d];
      }
    }
  }

  static void backward(ThreadPool& pool, const AttentionArgs& a) {
    pool.parallel_for(a.B * a.KVH, [&](int t, int) { backward_task(a, t / a.KVH, t % a.KVH); });
  }
};

// head size D is padded up to DV vectors: the smallest supported DV with DV * VL >= D
template <class F>
void with_dv(int D, F&& f) {
  const int dv = (D + VL - 1) / VL;
  if (dv <= 1) f(Attn<1>{});
  else if (dv <= 2) f(Attn<2>{});
  else if (dv <= 4) f(Attn<4>{});
  else if (dv <= 8) f(Attn<8>{});
  else if (dv <= 16) f(Attn<16>{});
  else f(Attn<32>{});  // D <= 32 * VL is checked by the caller
}

void attention_forward(ThreadPool& pool, const AttentionArgs& a) {
  with_dv(a.D, [&](auto impl) { decltype(impl)::forward(pool, a); });
}

void attention_backward(ThreadPool& pool, const AttentionArgs& a) {
  with_dv(a.D, [&](auto impl) { decltype(impl)::backward(pool, a); });
}

// Decoding: one task per (b, kvh) reads each cached key and value row once for its G query heads.
// o (NVD·VL) = Σ_j p[j] V[j] over the cached rows of (b, kvh): accumulators stay in registers, even and
// odd keys in separate chains (halves the FMA latency chain), added at the end.
template <int NVD>
void decode_pv(float* o, const float* p, const DecodeArgs& a, int b, int kvh, int len) {
  vf e[NVD], f[NVD];
  for (int v = 0; v < NVD; v++) e[v] = f[v] = vf{};
  const size_t stride = size_t(a.KVH) * a.D;
  const float* vr = a.vCache + (size_t(b) * a.Tcap * a.KVH + kvh) * a.D;
  int j = 0;
  for (; j + 2 <= len; j += 2) {
    const vf p0 = bc(p[j]), p1 = bc(p[j + 1]);
    const float* r0 = vr + size_t(j) * stride;
    const float* r1 = r0 + stride;
    for (int v = 0; v < NVD; v++) {
      e[v] += p0 * ld(r0 + v * VL);
      f[v] += p1 * ld(r1 + v * VL);
    }
  }
  if (j < len) {
    const vf p0 = bc(p[j]);
    const float* r0 = vr + size_t(j) * stride;
    for (int v = 0; v < NVD; v++) e[v] += p0 * ld(r0 + v * VL);
  }
  for (int v = 0; v < NVD; v++) st(o + v * VL, e[v] + f[v]);
}

void attention_decode(ThreadPool& pool, const DecodeArgs& a) {
  const int G = a.H / a.KVH, D = a.D;
  const float scale = 1.f / std::sqrt(float(D));
  auto task = [&](int t, int) {
    const int b = t / a.KVH, kvh = t % a.KVH;
    const int len = a.lens[b];
    float* sc = tl_scratch[2].get(size_t(G) * (len + 1) + size_t(G) * D);
    float* acc = sc + size_t(G) * (len + 1);
    for (int i = 0; i < G * D; i++) acc[i] = 0.f;
    int jdone = 0;  // keys whose scores are already in sc
#if defined(SBP_REGISTER_TRANSPOSE)
    // VL keys at a time: transpose the key block (VL × D) in registers so each score lane is one key
    // and the dot products need no horizontal sums
    if (D % VL == 0 && D <= 128) {
      alignas(64) float kt[128 * VL];
      const size_t rowStride = size_t(a.KVH) * D;
      for (; jdone + VL <= len; jdone += VL) {
        const float* kr = a.kCache + ((size_t(b) * a.Tcap + jdone) * a.KVH + kvh) * D;
        for (int d0 = 0; d0 < D; d0 += VL) transpose_block(kr + d0, int(rowStride), kt + d0 * VL, VL);
        for (int g = 0; g < G; g++) {
          const float* q = a.q + (size_t(b) * a.H + kvh * G + g) * D;
          vf s0 = vf{}, s1 = vf{};
          for (int d = 0; d < D; d += 2) {  // D is a multiple of VL, so even
            s0 += bc(q[d]) * ld(kt + d * VL);
            s1 += bc(q[d + 1]) * ld(kt + (d + 1) * VL);
          }
          st(sc + size_t(g) * (len + 1) + jdone, (s0 + s1) * scale);
        }
      }
    }
#endif
    for (int g = 0; g < G && len > 0; g++) {
      const float* q = a.q + (size_t(b) * a.H + kvh * G + g) * D;
      float* s = sc + size_t(g) * (len + 1);
      for (int j = jdone; j < len; j++) {
        const float* kr = a.kCache + ((size_t(b) * a.Tcap + j) * a.KVH + kvh) * D;
        vf v = vf{};
        int d = 0;
        for (; d + VL <= D; d += VL) v += ld(q + d) * ld(kr + d);
        float dot = hsum(v);
        for (; d < D; d++) dot += q[d] * kr[d];
        s[j] = dot * scale;
      }
      float mx = -INFINITY;
      for (int j = 0; j < len; j++) mx = s[j] > mx ? s[j] : mx;
      float sum = 0.f;
      int j = 0;
      for (; j + VL <= len; j += VL) {
        vf p = vexp(ld(s + j) - mx);
        st(s + j, p);
        sum += hsum(p);
      }
      for (; j < len; j++) {
        s[j] = sexp(s[j] - mx);
        sum += s[j];
      }
      const float inv = 1.f / sum;
      for (j = 0; j < len; j++) s[j] *= inv;
    }
    const int nvd = D / VL;
    if (D % VL == 0 && nvd >= 1 && nvd <= 8) {
      for (int g = 0; g < G; g++) {
        const float* p = sc + size_t(g) * (len + 1);
        float* o = acc + g * D;
        switch (nvd) {
          case 1: decode_pv<1>(o, p, a, b, kvh, len); break;
          case 2: decode_pv<2>(o, p, a, b, kvh, len); break;
          case 3: decode_pv<3>(o, p, a, b, kvh, len); break;
          case 4: decode_pv<4>(o, p, a, b, kvh, len); break;
          case 5: decode_pv<5>(o, p, a, b, kvh, len); break;
          case 6: decode_pv<6>(o, p, a, b, kvh, len); break;
          case 7: decode_pv<7>(o, p, a, b, kvh, len); break;
          default: decode_pv<8>(o, p, a, b, kvh, len); break;
        }
      }
    } else {
      for (int j = 0; j < len; j++) {
        const float* vr = a.vCache + ((size_t(b) * a.Tcap + j) * a.KVH + kvh) * D;
        for (int g = 0; g < G; g++) {
          const float p = sc[size_t(g) * (len + 1) + j];
          float* o = acc + g * D;
          for (int d = 0; d < D; d++) o[d] += p * vr[d];
        }
      }
    }
    for (int g = 0; g < G; g++)
      std::memcpy(a.out + (size_t(b) * a.H + kvh * G + g) * D, acc + g * D, sizeof(float) * D);
  };
  size_t work = 0;
  for (int b = 0; b < a.B; b++) work += size_t(a.lens[b]) * a.H * D;
  if (work < 65536) {
    for (int t = 0; t < a.B * a.KVH; t++) task(t, 0);
  } else {
    pool.parallel_for(a.B * a.KVH, task);
  }
}

}  // namespace

extern const Kernels kernels = {
    SBP_ISA_NAME,       gemm,           add,                   scale,
    sum_squares,        embedding_forward, embedding_backward, rmsnorm_forward,
    rmsnorm_backward,   rope_forward,   rope_backward,         attention_forward,
    attention_backward, attention_decode, swiglu_forward,      swiglu_backward,
    cross_entropy_forward, cross_entropy_backward, adamw,
};

}  // namespace SBP_NS
}  // namespace sbp
