// The op kernels of the cpu backend. kernels.cc is compiled once per instruction set (AVX-512, AVX2,
// portable) into its own namespace; addon.cc picks one table at run time with __builtin_cpu_supports.
// Arguments arrive validated by the TypeScript side (shapes) and addon.cc (indices).
#pragma once

#include <cstddef>
#include <cstdint>

#include "thread-pool.h"

namespace sbp {

struct GemmArgs {
  int M, N, K;  // op(A) (M, K) · op(B) (K, N) -> C (M, N)
  const float* A;
  int lda;  // row stride of A as stored: K when !transA, M when transA
  bool transA;
  const float* B;
  int ldb;
  bool transB;
  float* C;
  int ldc;
  float alpha, beta;
};

struct AttentionArgs {
  int B, T, H, KVH, D;
  const float* q;  // (B, T, H, D)
  const float* k;  // (B, T, KVH, D)
  const float* v;  // (B, T, KVH, D)
  float* out;      // (B, T, H, D)
  float* lse;      // (B, H, T) natural log-sum-exp of the scaled scores of each query row
  // backward only
  const float* dout;  // (B, T, H, D)
  float* dq;          // (B, T, H, D) +=
  float* dk;          // (B, T, KVH, D) +=
  float* dv;          // (B, T, KVH, D) +=
};

struct DecodeArgs {
  int B, H, KVH, D, Tcap;
  const float* q;       // (B, H, D)
  const float* kCache;  // (B, Tcap, KVH, D)
  const float* vCache;  // (B, Tcap, KVH, D)
  const int32_t* lens;  // (B)
  float* out;           // (B, H, D)
};

struct AdamWArgs {
  float lr, beta1, beta2, eps, weightDecay;
  float bias1, bias2;  // 1 - beta^step
};

struct Kernels {
  const char* isa;
  void (*gemm)(ThreadPool&, const GemmArgs&);
  void (*add)(ThreadPool&, float* out, const float* a, const float* b, size_t n);
  void (*scale)(ThreadPool&, float* x, float s, size_t n);
  double (*sum_squares)(ThreadPool&, const float* x, size_t n);
  void (*embedding_forward)(ThreadPool&, float* out, const int32_t* tokens, const float* wte, int N, int C);
  void (*embedding_backward)(ThreadPool&, float* dwte, const float* dout, const int32_t* tokens, int N, int C);
  void (*rmsnorm_forward)(ThreadPool&, float* out, float* rstd, const float* x, const float* w, int N, int C, float eps);
  void (*rmsnorm_backward)(ThreadPool&, float* dx, float* dw, const float* dout, const float* x, const float* w,
                           const float* rstd, int N, int C);
  // x, out (N, NH, D); cos, sin (maxPos, D/2); backward: dx += Rᵀ dout
  void (*rope_forward)(ThreadPool&, float* out, const float* x, const int32_t* pos, const float* cos, const float* sin,
                       int N, int NH, int D);
  void (*rope_backward)(ThreadPool&, float* dx, const float* dout, const int32_t* pos, const float* cos,
                        const float* sin, int N, int NH, int D);
  void (*attention_forward)(ThreadPool&, const AttentionArgs&);
  void (*attention_backward)(ThreadPool&, const AttentionArgs&);
  void (*attention_decode)(ThreadPool&, const DecodeArgs&);
  void (*swiglu_forward)(ThreadPool&, float* out, const float* gate, const float* up, size_t n);
  void (*swiglu_backward)(ThreadPool&, float* dgate, float* dup, const float* dout, const float* gate, const float* up,
                          size_t n);
  // mask may be null; losses (N); dlogits written (not accumulated)
  void (*cross_entropy_forward)(ThreadPool&, float* losses, const float* logits, const int32_t* targets,
                                const float* mask, int N, int V);
  void (*cross_entropy_backward)(ThreadPool&, float* dlogits, const float* logits, const int32_t* targets,
                                 const float* mask, float scale, int N, int V);
  void (*adamw)(ThreadPool&, float* param, const float* grad, float* m, float* v, size_t n, const AdamWArgs&);
};

namespace avx512 { extern const Kernels kernels; }
namespace avx2 { extern const Kernels kernels; }
namespace portable { extern const Kernels kernels; }

}  // namespace sbp
