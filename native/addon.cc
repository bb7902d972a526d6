// N-API entry points of the cpu backend. The TypeScript wrapper (src/engine/native-addon.ts) checks
// shapes and view bounds; here each call resolves (typed array, element offset) pairs to pointers
// (zero copy), checks integer inputs that index other tensors (tokens, targets, positions, lengths),
// and runs the kernel of the instruction set chosen when the context was created.
#include <node_api.h>

#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "kernels.h"
#include "logits-sampler.h"
#include "thread-pool.h"

namespace sbp {
namespace {

struct Context {
  ThreadPool pool;
  const Kernels* kernels;
  SampleRowFn sample_row;
  std::vector<std::vector<double>> sampler_f64;  // per pool thread: scaled (V), prob (V + 1), select (V)
  std::vector<std::vector<int32_t>> sampler_i32;  // per pool thread: cand (V)
  Context(int threads, const Kernels* k, SampleRowFn s) : pool(threads), kernels(k), sample_row(s) {}
};

bool cpu_has(const char* isa) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  if (std::strcmp(isa, "avx512") == 0)
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
           __builtin_cpu_supports("fma") && __builtin_cpu_supports("avx2");
  if (std::strcmp(isa, "avx2") == 0) return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
  (void)isa;
#endif
  return std::strcmp(isa, "portable") == 0;
}

SampleRowFn sampler_for(const char* isa) {
#if defined(SBP_HAVE_X86_KERNELS)
  if (std::strcmp(isa, "avx512") == 0) return &avx512::sample_row;
  if (std::strcmp(isa, "avx2") == 0) return &avx2::sample_row;
#endif
  (void)isa;
  return &portable::sample_row;
}

const Kernels* kernels_for(const char* isa) {
#if defined(SBP_HAVE_X86_KERNELS)
  if (std::strcmp(isa, "avx512") == 0 && cpu_has("avx512")) return &avx512::kernels;
  if (std::strcmp(isa, "avx2") == 0 && cpu_has("avx2")) return &avx2::kernels;
#endif
  if (std::strcmp(isa, "portable") == 0) return &portable::kernels;
  return nullptr;
}

// ---- argument access; on failure a JS exception is pending and `ok` turns false ----
struct Args {
  napi_env env;
  napi_value v[28];
  size_t n = 28;
  bool ok = true;

  Args(napi_env e, napi_callback_info info) : env(e) {
    if (napi_get_cb_info(env, info, &n, v, nullptr, nullptr) != napi_ok) fail("bad call");
  }
  void fail(const char* msg) {
    if (ok) napi_throw_type_error(env, nullptr, msg);
    ok = false;
  }
  Context* ctx(size_t i) {
    void* p = nullptr;
    if (i >= n || napi_get_value_external(env, v[i], &p) != napi_ok || !p) fail("expected a native context");
    return static_cast<Context*>(p);
  }
  double num(size_t i) {
    double d = 0;
    if (i >= n || napi_get_value_double(env, v[i], &d) != napi_ok) fail("expected a number argument");
    return d;
  }
  int integer(size_t i) { return int(num(i)); }
  size_t count(size_t i) { return size_t(num(i)); }
  bool flag(size_t i) {
    bool b = false;
    if (i >= n || napi_get_value_bool(env, v[i], &b) != napi_ok) fail("expected a boolean argument");
    return b;
  }
  bool is_null(size_t i) {
    napi_valuetype t;
    return i < n && napi_typeof(env, v[i], &t) == napi_ok && (t == napi_null || t == napi_undefined);
  }
  // typed array at i, element offset at i + 1
  void* array(size_t i, napi_typedarray_type want, napi_typedarray_type* got = nullptr) {
    if (!ok) return nullptr;
    napi_typedarray_type type;
    size_t length = 0;
    void* data = nullptr;
    napi_value buffer;
    size_t byteOffset = 0;
    if (i + 1 >= n || napi_get_typedarray_info(env, v[i], &type, &length, &data, &buffer, &byteOffset) != napi_ok) {
      fail("expected a typed array argument");
      return nullptr;
    }
    if (got) *got = type;
    else if (type != want) {
      fail(want == napi_float32_array   ? "expected a Float32Array"
           : want == napi_int32_array   ? "expected an Int32Array"
                                        : "expected a Float64Array");
      return nullptr;
    }
    const size_t off = count(i + 1);
    if (off > length) {
      fail("offset outside the typed array");
      return nullptr;
    }
    return static_cast<char*>(data) + off * (type == napi_float64_array ? 8 : 4);
  }
  float* f32(size_t i) { return static_cast<float*>(array(i, napi_float32_array)); }
  int32_t* i32(size_t i) { return static_cast<int32_t*>(array(i, napi_int32_array)); }
  double* f64(size_t i) { return static_cast<double*>(array(i, napi_float64_array)); }
};

napi_value undefined(napi_env env) {
  napi_value u;
  napi_get_undefined(env, &u);
  return u;
}

// Throws a RangeError naming the op, the row and the allowed range if some ids[i] is outside [0, limit).
bool check_ids(napi_env env, const int32_t* ids, size_t n, int64_t lo, int64_t hi, const char* op, const char* what,
               const char* range) {
  for (size_t i = 0; i < n; i++) {
    if (ids[i] < lo || ids[i] >= hi) {
      char msg[256];
      std::snprintf(msg, sizeof msg, "%s: %s %d at row %zu is outside %s[%lld, %lld)", op, what, ids[i], i, range,
                    (long long)lo, (long long)hi);
      napi_throw_range_error(env, nullptr, msg);
      return false;
    }
  }
  return true;
}

void destroy_context(napi_env, void* data, void*) { delete static_cast<Context*>(data); }

// createContext(threads, isa) -> external
napi_value CreateContext(napi_env env, napi_callback_info info) {
  Args a(env, info);
  int threads = a.integer(0);
  char isa[32] = {0};
  size_t len = 0;
  if (a.ok && napi_get_value_string_utf8(env, a.v[1], isa, sizeof isa, &len) != napi_ok) a.fail("expected an isa name");
  if (!a.ok) return nullptr;
  const Kernels* k = kernels_for(isa);
  if (!k) {
    std::string msg = std::string("instruction set '") + isa + "' is not available on this CPU or build";
    napi_throw_range_error(env, nullptr, msg.c_str());
    return nullptr;
  }
  if (threads < 1 || threads > 1024) {
    napi_throw_range_error(env, nullptr, "threads must be in [1, 1024]");
    return nullptr;
  }
  Context* ctx = new Context(threads, k, sampler_for(isa));
  napi_value ext;
  napi_create_external(env, ctx, destroy_context, nullptr, &ext);
  return ext;
}

// availableIsas() -> string[], best first
napi_value AvailableIsas(napi_env env, napi_callback_info) {
  napi_value arr;
  napi_create_array(env, &arr);
  uint32_t i = 0;
  for (const char* isa : {"avx512", "avx2", "portable"}) {
    if (!kernels_for(isa)) continue;
    napi_value s;
    napi_create_string_utf8(env, isa, NAPI_AUTO_LENGTH, &s);
    napi_set_element(env, arr, i++, s);
  }
  return arr;
}

// matmul(ctx, C, cOff, A, aOff, B, bOff, M, N, K, lda, ldb, ldc, transA, transB, alpha, beta)
napi_value Matmul(napi_env env, napi_callback_info info) {
  Args a(env, info);
  Context* c = a.ctx(0);
  GemmArgs g;
  g.C = a.f32(1);
  g.A = a.f32(3);
  g.B = a.f32(5);
  g.M = a.integer(7);
  g.N = a.integer(8);
  g.K = a.integer(9);
  g.lda = a.integer(10);
  g.ldb = a.integer(11);
  g.ldc = a.integer(12);
  g.transA = a.flag(13);
  g.transB = a.flag(14);
  g.alpha = float(a.num(15));
  g.beta = float(a.num(16));
  if (a.ok) c->kernels->gemm(c->pool, g);
  return undefined(env);
}

// add(ctx, out, o, a, o, b, o, n)
napi_value Add(napi_env env, napi_callback_info info) {
  Args a(env, info);
  Context* c = a.ctx(0);
  float* out = a.f32(1);
  float* x = a.f32(3);
  float* y = a.f32(5);
  size_t n = a.count(7);
  if (a.ok) c->kernels->add(c->pool, out, x, y, n);
  return undefined(env);
}

// scale(ctx, x, o, s, n)
napi_value Scale(napi_env env, napi_callback_info info) {
  Args a(env, info);
  Context* c = a.ctx(0);
  float* x = a.f32(1);
  float s = float(a.num(3));
  size_t n = a.count(4);
  if (a.ok) c->kernels->scale(c->pool, x, s, n);
  return undefined(env);
}

// sumSquares(ctx, x, o, n) -> number
napi_value SumSquares(napi_env env, napi_callback_info info) {
  Args a(env, info);
  Context* c = a.ctx(0);
  float* x = a.f32(1);
  size_t n = a.count(3);
  if (!a.ok) return nullptr;
  napi_value r;
  napi_create_double(env, c->kernels->sum_squares(c->pool, x, n), &r);
  return r;
}

// fill(ctx, x, o, n, value) for Float32Array or Int32Array
// Large fills (gradient buffers zeroed every step, megabytes each) are split across the pool.
template <class T>
void parallel_fill(ThreadPool& pool, T* x, size_t n, T value) {
  constexpr size_t kChunk = size_t(1) << 16;  // elements per task
  const size_t tasks = (n + kChunk - 1) / kChunk;
  if (tasks <= 1 || pool.size() == 1) {
    for (size_t i = 0; i < n; i++) x[i] = value;
    return;
  }
  pool.parallel_for(int(tasks), [&](int t, int) {
    const size_t lo = size_t(t) * kChunk, hi = lo + kChunk < n ? lo + kChunk : n;
    for (size_t i = lo; i < hi; i++) x[i] = value;
  });
}

napi_value Fill(napi_env env, napi_callback_info info) {
  Args a(env, info);
  Context* c = a.ctx(0);
  napi_typedarray_type type = napi_float32_array;
  void* p = a.array(1, napi_float32_array, &type);
  size_t n = a.count(3);
  double value = a.num(4);
  if (!a.ok) return nullptr;
  if (type == napi_float32_array) {
    parallel_fill(c->pool, static_cast<float*>(p), n, float(value));
  } else if (type == napi_int32_array) {
    parallel_fill(c->pool, static_cast<int32_t*>(p), n, int32_t(value));
  } else {
    a.fail("fill expects a Float32Array or Int32Array");
  }
  return undefined(env);
}

// copy(ctx, dst, o, src, o, n): 4-byte elements, overlapping ranges allowed
napi_value Copy(napi_env env, napi_callback_info info) {
  Args a(env, info);
  a.ctx(0);
  napi_typedarray_type t1 = napi_float32_array, t2 = napi_float32_array;
  void* dst = a.array(1, napi_float32_array, &t1);
  void* src = a.array(3, napi_float32_array, &t2);
  size_t n = a.count(5);
  if (a.ok) std::memmove(dst, src, n * 4);
  return undefined(env);
}

// embeddingForward(ctx, out, o, tokens, o, wte, o, N, C, V)
napi_value EmbeddingForward(napi_env env, napi_callback_info info) {
  Args a(env, info);
  Context* c = a.ctx(0);
  float* out = a.f32(1);
  int32_t* tokens = a.i32(3);
  float* wte = a.f32(5);
  int N = a.integer(7), C = a.integer(8), V = a.integer(9);
  if (!a.ok || !check_ids(env, tokens, N, 0, V, "embeddingForward", "token", "the vocabulary ")) return nullptr;
  c->kernels->embedding_forward(c->pool, out, tokens, wte, N, C);
  return undefined(env);
}

// embeddingBackward(ctx, dwte, o, dout, o, tokens, o, N, C, V)
napi_value EmbeddingBackward(napi_env env, napi_callback_info info) {
  Args a(env, info);
  Context* c = a.ctx(0);
  float* dwte = a.f32(1);
  float* dout = a.f32(3);
  int32_t* tokens = a.i32(5);
  int N = a.integer(7), C = a.integer(8), V = a.integer(9);
  if (!a.ok || !check_ids(env, tokens, N, 0, V, "embeddingBackward", "token", "the vocabulary ")) return nullptr;
  c->kernels->embedding_backward(c->pool, dwte, dout, tokens, N, C);
  return undefined(env);
}

// rmsnormForward(ctx, out, o, rstd, o, x, o, w, o, N, C, eps)
napi_value RmsnormForward(napi_env env, napi_callback_info info) {
  Args a(env, info);
  Context* c = a.ctx(0);
  float* out = a.f32(1);
  float* rstd = a.f32(3);
  float* x = a.f32(5);
  float* w = a.f32(7);
  int N = a.integer(9), C = a.integer(10);
  float eps = float(a.num(11));
  if (a.ok) c->kernels->rmsnorm_forward(c->pool, out, rstd, x, w, N, C, eps);
  return undefined(env);
}

// rmsnormBackward(ctx, dx, o, dw, o, dout, o, x, o, w, o, rstd, o, N, C)
napi_value RmsnormBackward(napi_env env, napi_callback_info info) {
  Args a(env, info);
  Context* c = a.ctx(0);
  float* dx = a.f32(1);
  float* dw = a.f32(3);
  float* dout = a.f32(5);
  float* x = a.f32(7);
  float* w = a.f32(9);
  float* rstd = a.f32(11);
  int N = a.integer(13), C = a.integer(14);
  if (a.ok) c->kernels->rmsnorm_backward(c->pool, dx, dw, dout, x, w, rstd, N, C);
  return undefined(env);
}

// ropeForward / ropeBackward(ctx, out|dx, o, x|dout, o, pos, o, cos, o, sin, o, N, NH, D, maxPos)
napi_value Rope(napi_env env, napi_callback_info info, bool backward) {
  Args a(env, info);
  Context* c = a.ctx(0);
  float* out = a.f32(1);
  float* x = a.f32(3);
  int32_t* pos = a.i32(5);
  float* cs = a.f32(7);
  float* sn = a.f32(9);
  int N = a.integer(11), NH = a.integer(12), D = a.integer(13), maxPos = a.integer(14);
  const char* op = backward ? "ropeBackward" : "ropeForward";
  if (!a.ok || !check_ids(env, pos, N, 0, maxPos, op, "position", "")) return nullptr;
  if (backward) c->kernels->rope_backward(c->pool, out, x, pos, cs, sn, N, NH, D);
  else c->kernels->rope_forward(c->pool, out, x, pos, cs, sn, N, NH, D);
  return undefined(env);
}
napi_value RopeForward(napi_env env, napi_callback_info info) { return Rope(env, info, false); }
napi_value RopeBackward(napi_env env, napi_callback_info info) { return Rope(env, info, true); }

// attentionForward(ctx, out, o, lse, o, q, o, k, o, v, o, B, T, H, KVH, D)
napi_value AttentionForward(napi_env env, napi_callback_info info) {
  Args a(env, info);
  Context* c = a.ctx(0);
  AttentionArgs t{};
  t.out = a.f32(1);
  t.lse = a.f32(3);
  t.q = a.f32(5);
  t.k = a.f32(7);
  t.v = a.f32(9);
  t.B = a.integer(11), t.T = a.integer(12), t.H = a.integer(13), t.KVH = a.integer(14), t.D = a.integer(15);
  if (a.ok) c->kernels->attention_forward(c->pool, t);
  return undefined(env);
}

// attentionBackward(ctx, dq, o, dk, o, dv, o, dout, o, out, o, lse, o, q, o, k, o, v, o, B, T, H, KVH, D)
napi_value AttentionBackward(napi_env env, napi_callback_info info) {
  Args a(env, info);
  Context* c = a.ctx(0);
  AttentionArgs t{};
  t.dq = a.f32(1);
  t.dk = a.f32(3);
  t.dv = a.f32(5);
  t.dout = a.f32(7);
  t.out = a.f32(9);
  t.lse = a.f32(11);
  t.q = a.f32(13);
  t.k = a.f32(15);
  t.v = a.f32(17);
  t.B = a.integer(19), t.T = a.integer(20), t.H = a.integer(21), t.KVH = a.integer(22), t.D = a.integer(23);
  if (a.ok) c->kernels->attention_backward(c->pool, t);
  return undefined(env);
}

// attentionDecode(ctx, out, o, q, o, kCache, o, vCache, o, lens, o, B, H, KVH, D, Tcap)
napi_value AttentionDecode(napi_env env, napi_callback_info info) {
  Args a(env, info);
  Context* c = a.ctx(0);
  DecodeArgs t{};
  t.out = a.f32(1);
  t.q = a.f32(3);
  t.kCache = a.f32(5);
  t.vCache = a.f32(7);
  t.lens = a.i32(9);
  t.B = a.integer(11), t.H = a.integer(12), t.KVH = a.integer(13), t.D = a.integer(14), t.Tcap = a.integer(15);
  if (!a.ok || !check_ids(env, t.lens, t.B, 0, int64_t(t.Tcap) + 1, "attentionDecode", "length", "")) return nullptr;
  c->kernels->attention_decode(c->pool, t);
  return undefined(env);
}

// kvCacheWrite(ctx, cache, o, x, o, pos, o, B, T, Tcap, KVH, D)
napi_value KvCacheWrite(napi_env env, napi_callback_info info) {
  Args a(env, info);
  a.ctx(0);
  float* cache = a.f32(1);
  float* x = a.f32(3);
  int32_t* pos = a.i32(5);
  int B = a.integer(7), T = a.integer(8), Tcap = a.integer(9), KVH = a.integer(10), D = a.integer(11);
  if (!a.ok || !check_ids(env, pos, B, 0, int64_t(Tcap) - T + 1, "kvCacheWrite", "start position", "")) return nullptr;
  const size_t row = size_t(KVH) * D;
  for (int b = 0; b < B; b++)
    std::memcpy(cache + (size_t(b) * Tcap + pos[b]) * row, x + size_t(b) * T * row, sizeof(float) * T * row);
  return undefined(env);
}

// swigluForward(ctx, out, o, gate, o, up, o, n)
napi_value SwigluForward(napi_env env, napi_callback_info info) {
  Args a(env, info);
  Context* c = a.ctx(0);
  float* out = a.f32(1);
  float* gate = a.f32(3);
  float* up = a.f32(5);
  size_t n = a.count(7);
  if (a.ok) c->kernels->swiglu_forward(c->pool, out, gate, up, n);
  return undefined(env);
}

// swigluBackward(ctx, dgate, o, dup, o, dout, o, gate, o, up, o, n)
napi_value SwigluBackward(napi_env env, napi_callback_info info) {
  Args a(env, info);
  Context* c = a.ctx(0);
  float* dgate = a.f32(1);
  float* dup = a.f32(3);
  float* dout = a.f32(5);
  float* gate = a.f32(7);
  float* up = a.f32(9);
  size_t n = a.count(11);
  if (a.ok) c->kernels->swiglu_backward(c->pool, dgate, dup, dout, gate, up, n);
  return undefined(env);
}

// crossEntropyForward(ctx, losses, o, logits, o, targets, o, mask|null, o, N, V)
napi_value CrossEntropyForward(napi_env env, napi_callback_info info) {
  Args a(env, info);
  Context* c = a.ctx(0);
  float* losses = a.f32(1);
  float* logits = a.f32(3);
  int32_t* targets = a.i32(5);
  float* mask = a.is_null(7) ? nullptr : a.f32(7);
  int N = a.integer(9), V = a.integer(10);
  if (!a.ok || !check_ids(env, targets, N, 0, V, "crossEntropyForward", "target", "the vocabulary ")) return nullptr;
  c->kernels->cross_entropy_forward(c->pool, losses, logits, targets, mask, N, V);
  return undefined(env);
}

// crossEntropyBackward(ctx, dlogits, o, logits, o, targets, o, mask|null, o, scale, N, V)
napi_value CrossEntropyBackward(napi_env env, napi_callback_info info) {
  Args a(env, info);
  Context* c = a.ctx(0);
  float* dlogits = a.f32(1);
  float* logits = a.f32(3);
  int32_t* targets = a.i32(5);
  float* mask = a.is_null(7) ? nullptr : a.f32(7);
  float scale = float(a.num(9));
  int N = a.integer(10), V = a.integer(11);
  if (!a.ok || !check_ids(env, targets, N, 0, V, "crossEntropyBackward", "target", "the vocabulary ")) return nullptr;
  c->kernels->cross_entropy_backward(c->pool, dlogits, logits, targets, mask, scale, N, V);
  return undefined(env);
}

// adamw(ctx, param, o, grad, o, m, o, v, o, n, lr, beta1, beta2, eps, weightDecay, step)
napi_value AdamW(napi_env env, napi_callback_info info) {
  Args a(env, info);
  Context* c = a.ctx(0);
  float* param = a.f32(1);
  float* grad = a.f32(3);
  float* m = a.f32(5);
  float* v = a.f32(7);
  size_t n = a.count(9);
  AdamWArgs p;
  p.lr = float(a.num(10));
  p.beta1 = float(a.num(11));
  p.beta2 = float(a.num(12));
  p.eps = float(a.num(13));
  p.weightDecay = float(a.num(14));
  const double step = a.num(15);
  p.bias1 = float(1.0 - std::pow(a.num(11), step));
  p.bias2 = float(1.0 - std::pow(a.num(12), step));
  if (a.ok) c->kernels->adamw(c->pool, param, grad, m, v, n, p);
  return undefined(env);
}

// sampleLogits(ctx, logits, o, B, V, rows, o, n, uniforms|null, o, out, o, temperature, topK, topP)
// out[i] = the token drawn from row rows[i] of logits (B, V) with the uniform draw uniforms[i]; one task
// per row on the pool, each thread with its own scratch (grown once to V, then reused every step).
napi_value SampleLogits(napi_env env, napi_callback_info info) {
  Args a(env, info);
  Context* c = a.ctx(0);
  const float* logits = a.f32(1);
  const int B = a.integer(3), V = a.integer(4);
  const int32_t* rows = a.i32(5);
  const int n = a.integer(7);
  const double* uniforms = a.is_null(8) ? nullptr : a.f64(8);
  int32_t* out = a.i32(10);
  const double temperature = a.num(12);
  const int topK = a.integer(13);
  const double topP = a.num(14);
  if (!a.ok) return nullptr;
  const bool greedy = temperature == 0 || topK == 1;
  const char* bad = V < 1                                                    ? "V must be >= 1"
                    : n < 0 || B < 0                                         ? "row counts must be >= 0"
                    : !(temperature >= 0) || !std::isfinite(temperature)     ? "temperature must be a finite number >= 0"
                    : topK < 0                                               ? "topK must be >= 0"
                    : !(topP > 0 && topP <= 1)                               ? "topP must be in (0, 1]"
                    : !greedy && !uniforms                                   ? "uniform draws are required unless sampling is greedy"
                                                                             : nullptr;
  if (bad) {
    std::string msg = std::string("sampleLogits: ") + bad;
    napi_throw_range_error(env, nullptr, msg.c_str());
    return nullptr;
  }
  if (!check_ids(env, rows, n, 0, B, "sampleLogits", "row index", "the batch ")) return nullptr;
  const size_t T = size_t(c->pool.size());
  if (c->sampler_f64.size() < T) c->sampler_f64.resize(T), c->sampler_i32.resize(T);
  if (!greedy)
    for (size_t t = 0; t < T; t++) {
      if (c->sampler_i32[t].size() >= size_t(V)) continue;
      c->sampler_f64[t].assign(3 * size_t(V) + 1, 0.0);
      c->sampler_i32[t].assign(size_t(V), 0);
    }
  std::atomic<int> first_bad{n};  // the lowest i whose row has a non-finite maximum
  c->pool.parallel_for(n, [&](int i, int thread) {
    SamplerScratch s{};
    if (!greedy) {
      double* f = c->sampler_f64[thread].data();
      s = SamplerScratch{f, f + V, c->sampler_i32[thread].data(), f + 2 * size_t(V) + 1};
    }
    double max = 0;
    const int tok = c->sample_row(logits + size_t(rows[i]) * V, V, temperature, topK, topP,
                                  greedy ? 0.0 : uniforms[i], s, &max);
    out[i] = tok;
    for (int cur = first_bad.load(); tok < 0 && i < cur && !first_bad.compare_exchange_weak(cur, i);) {
    }
  });
  const int row = first_bad.load();
  if (row < n) {
    // The same message as LogitsSampler (the maximum of a row without a finite one is ±Infinity).
    double max = -HUGE_VAL;
    for (int j = 0; j < V; j++) max = std::fmax(max, double(logits[size_t(rows[row]) * V + j]) / temperature);
    char msg[160];
    std::snprintf(msg, sizeof msg, "sampling from non-finite logits (max %s) in row %d", max > 0 ? "Infinity" : "-Infinity",
                  int(rows[row]));
    napi_throw_error(env, nullptr, msg);
    return nullptr;
  }
  return undefined(env);
}

napi_value Init(napi_env env, napi_value exports) {
  const napi_property_descriptor props[] = {
#define SBP_FN(name, fn) {name, nullptr, fn, nullptr, nullptr, nullptr, napi_default, nullptr}
      SBP_FN("createContext", CreateContext),
      SBP_FN("availableIsas", AvailableIsas),
      SBP_FN("matmul", Matmul),
      SBP_FN("add", Add),
      SBP_FN("scale", Scale),
      SBP_FN("sumSquares", SumSquares),
      SBP_FN("fill", Fill),
      SBP_FN("copy", Copy),
      SBP_FN("embeddingForward", EmbeddingForward),
      SBP_FN("embeddingBackward", EmbeddingBackward),
      SBP_FN("rmsnormForward", RmsnormForward),
      SBP_FN("rmsnormBackward", RmsnormBackward),
      SBP_FN("ropeForward", RopeForward),
      SBP_FN("ropeBackward", RopeBackward),
      SBP_FN("attentionForward", AttentionForward),
      SBP_FN("attentionBackward", AttentionBackward),
      SBP_FN("attentionDecode", AttentionDecode),
      SBP_FN("kvCacheWrite", KvCacheWrite),
      SBP_FN("swigluForward", SwigluForward),
      SBP_FN("swigluBackward", SwigluBackward),
      SBP_FN("crossEntropyForward", CrossEntropyForward),
      SBP_FN("crossEntropyBackward", CrossEntropyBackward),
      SBP_FN("adamw", AdamW),
      SBP_FN("sampleLogits", SampleLogits),
#undef SBP_FN
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  return exports;
}

}  // namespace
}  // namespace sbp

NAPI_MODULE(NODE_GYP_MODULE_NAME, sbp::Init)
