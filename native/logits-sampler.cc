// See logits-sampler.h. Every function here mirrors one in src/sample/logits-sampler.ts or
// src/sample/sampling-exp.ts, operation for operation: a different summation order or a fused
// multiply-add would change the last bits of a probability and, rarely, the token. As in kernels.cc,
// everything but sample_row has internal linkage and no standard-library template is instantiated
// here, so the linker can never hand code compiled for AVX-512 to another build.
#include "logits-sampler.h"

#include <cmath>
#include <cstring>

#if defined(SBP_ISA_AVX512)
#define SBP_NS avx512
#define SBP_LANES 8
#elif defined(SBP_ISA_AVX2)
#define SBP_NS avx2
#define SBP_LANES 4
#else
#define SBP_NS portable
#define SBP_LANES 2
#endif

namespace sbp {
namespace SBP_NS {
namespace {

constexpr double kInf = __builtin_inf();
constexpr double kLog2e = 1.4426950408889634;
constexpr double kLn2Hi = 0.6931471806019545;      // ln 2 rounded to 32 bits
constexpr double kLn2Lo = -4.2009150726810846e-11;  // ln 2 − kLn2Hi
constexpr double kShifter = 6755399441055744.0;     // 1.5·2^52: x + kShifter − kShifter rounds x (ties to even)
constexpr double kC2 = 0.5, kC3 = 0.16666666666666666, kC4 = 0.041666666666666664, kC5 = 0.008333333333333333,
                 kC6 = 0.001388888888888889, kC7 = 0.0001984126984126984, kC8 = 2.48015873015873e-5,
                 kC9 = 2.7557319223985893e-6, kC10 = 2.755731922398589e-7, kC11 = 2.505210838544172e-8,
                 kC12 = 2.08767569878681e-9, kC13 = 1.6059043836821613e-10;  // 1/n!
constexpr int kMinK = -1076, kMaxK = 1023;

struct Pow2Table {
  double v[kMaxK - kMinK + 1];  // v[k − kMinK] = 2^k (exactly; 0 below 2^-1074)
  Pow2Table() {
    for (int k = kMinK; k <= kMaxK; k++) v[k - kMinK] = std::ldexp(1.0, k);
  }
};
const Pow2Table kPow2;

// samplingExp of src/sample/sampling-exp.ts.
double sampling_exp(double d) {
  if (d != d) return d;
  if (d < -745.5) return 0.0;
  if (d > 709) return kInf;
  const double k = d * kLog2e + kShifter - kShifter;
  const double r = d - k * kLn2Hi - k * kLn2Lo;
  double p = kC13;
  p = kC12 + r * p;
  p = kC11 + r * p;
  p = kC10 + r * p;
  p = kC9 + r * p;
  p = kC8 + r * p;
  p = kC7 + r * p;
  p = kC6 + r * p;
  p = kC5 + r * p;
  p = kC4 + r * p;
  p = kC3 + r * p;
  p = kC2 + r * p;
  p = 1 + r * p;
  p = 1 + r * p;
  return p * kPow2.v[int(k) - kMinK];
}

typedef double vd __attribute__((vector_size(SBP_LANES * 8)));
typedef int64_t vi __attribute__((vector_size(SBP_LANES * 8)));

vd splat(double x) {
  vd v;
  for (int l = 0; l < SBP_LANES; l++) v[l] = x;
  return v;
}

// p[j] = sampling_exp(p[j]) for j < n, SBP_LANES at a time: the same operations as the scalar
// function, so the same bits. Lanes below −708 (2^k no longer a normal number) or NaN are redone by
// the scalar one.
void exp_in_place(double* p, int n) {
  const vd lowest = splat(-708.0), shifter = splat(kShifter);
  int j = 0;
  for (; j + SBP_LANES <= n; j += SBP_LANES) {
    vd d;
    std::memcpy(&d, p + j, sizeof d);
    const vi odd = (d < lowest) | (d != d);
    const vd dc = odd ? lowest : d;
    const vd t = dc * kLog2e + shifter;
    const vd k = t - shifter;
    const vd r = dc - k * kLn2Hi - k * kLn2Lo;
    vd q = splat(kC13);
    q = kC12 + r * q;
    q = kC11 + r * q;
    q = kC10 + r * q;
    q = kC9 + r * q;
    q = kC8 + r * q;
    q = kC7 + r * q;
    q = kC6 + r * q;
    q = kC5 + r * q;
    q = kC4 + r * q;
    q = kC3 + r * q;
    q = kC2 + r * q;
    q = 1 + r * q;
    q = 1 + r * q;
    const vi e = (((vi)t - (vi)shifter) + 1023) << 52;  // the bits of 2^k
    const vd res = q * (vd)e;
    std::memcpy(p + j, &res, sizeof res);
    int64_t any = 0;
    for (int l = 0; l < SBP_LANES; l++) any |= odd[l];
    if (any)
      for (int l = 0; l < SBP_LANES; l++)
        if (odd[l]) p[j + l] = sampling_exp(d[l]);
  }
  for (; j < n; j++) p[j] = sampling_exp(p[j]);
}

// Quickselect (Hoare partition) for the k-th largest of x[0, n); the same pivots and swaps as the
// TypeScript kthLargest, so NaNs in a row lead to the same value.
double kth_largest(const double* x, int n, int k, double* s) {
  std::memcpy(s, x, sizeof(double) * n);
  int lo = 0, hi = n - 1;
  const int target = k - 1;
  while (lo < hi) {
    const double pivot = s[(unsigned(lo) + unsigned(hi)) >> 1];
    int i = lo, j = hi;
    while (i <= j) {
      while (i < n && s[i] > pivot) i++;
      while (j >= 0 && s[j] < pivot) j--;
      if (i <= j) {
        const double t = s[i];
        s[i] = s[j];
        s[j] = t;
        i++;
        j--;
      }
    }
    if (target <= j) hi = j;
    else if (target >= i) lo = i;
    else return s[target];
  }
  return s[target];
}

// Ascending heapsort of distinct ids (any correct sort gives the same order).
void sort_ids(int32_t* a, int n) {
  auto sift = [a](int root, int end) {
    for (;;) {
      int child = 2 * root + 1;
      if (child >= end) return;
      if (child + 1 < end && a[child + 1] > a[child]) child++;
      if (a[root] >= a[child]) return;
      const int32_t t = a[root];
      a[root] = a[child];
      a[child] = t;
      root = child;
    }
  };
  for (int i = n / 2 - 1; i >= 0; i--) sift(i, n);
  for (int end = n - 1; end > 0; end--) {
    const int32_t t = a[0];
    a[0] = a[end];
    a[end] = t;
    sift(0, end);
  }
}

// The nucleus moved to the front of cand/prob; returns its size (LogitsSampler.nucleus).
int nucleus(double* p, int32_t* c, int n, double total, double topP) {
  double need = topP * total;
  int lo = 0, hi = n;
  while (lo < hi) {
    const double pivot = p[lo + ((hi - lo) >> 1)];
    int gtEnd = lo, i = lo, ltStart = hi;
    // Branch-free form of: v = p[i]; v > pivot → swap(i++, gtEnd++); v < pivot → swap(i, --ltStart);
    // else i++. The next v is loaded before this v is compared: after a swap with the back it is
    // what came from there (back), else the untouched element after i (ahead; p has a spare slot at n).
    double v = p[i];
    while (i < ltStart) {
      const double back = p[ltStart - 1], ahead = p[i + 1];
      const int gt = v > pivot, lt = v < pivot;
      const int t = i + ((gtEnd - i) & -gt) + ((ltStart - 1 - i) & -lt);
      const double pt = p[t];
      const int32_t ct = c[t], ci = c[i];
      p[t] = v;
      c[t] = ci;
      p[i] = pt;
      c[i] = ct;
      gtEnd += gt;
      i += 1 - lt;
      ltStart -= lt;
      v = lt ? back : ahead;
    }
    double massGreater = 0;
    for (int j = lo; j < gtEnd; j++) massGreater += p[j];
    if (massGreater >= need) {
      hi = gtEnd;
      continue;
    }
    const double massEqual = double(ltStart - gtEnd) * pivot;
    if (massGreater + massEqual >= need) {
      sort_ids(c + gtEnd, ltStart - gtEnd);  // the boundary falls inside the tie: lowest ids first
      double cum = massGreater;
      int k = 0;
      while (gtEnd + k < ltStart && cum < need) {
        p[gtEnd + k] = pivot;
        cum += pivot;
        k++;
      }
      return gtEnd + k;
    }
    need -= massGreater + massEqual;
    lo = ltStart;
  }
  return lo > 1 ? lo : 1;
}

int argmax(const float* x, int n) {
  int best = 0;
  double bestV = -kInf;
  for (int i = 0; i < n; i++) {
    const double v = x[i];
    if (v > bestV) {
      bestV = v;
      best = i;
    }
  }
  return best;
}

}  // namespace

// LogitsSampler.sample.
int sample_row(const float* logits, int V, double temperature, int topK, double topP, double r,
               const SamplerScratch& s, double* bad_max) {
  if (temperature == 0 || topK == 1) return argmax(logits, V);
  double* x = s.scaled;
  double* prob = s.prob;
  int32_t* cand = s.cand;
  double max = -kInf;
  for (int i = 0; i < V; i++) x[i] = double(logits[i]) / temperature;
  for (int i = 0; i < V; i++)
    if (x[i] > max) max = x[i];
  if (!(max > -kInf && max < kInf)) {
    *bad_max = max;
    return -1;
  }
  int n = 0;
  if (topK > 0 && topK < V) {
    const double kth = kth_largest(x, V, topK, s.select);
    int ties = topK;
    for (int i = 0; i < V; i++)
      if (x[i] > kth) ties--;
    for (int i = 0; i < V; i++) {
      const double v = x[i];
      if (v > kth || (v == kth && ties-- > 0)) cand[n++] = i;
    }
    for (int j = 0; j < n; j++) prob[j] = x[cand[j]] - max;
  } else {
    for (int i = 0; i < V; i++) cand[i] = i;
    n = V;
    for (int j = 0; j < n; j++) prob[j] = x[j] - max;
  }
  exp_in_place(prob, n);
  double total = 0;
  for (int j = 0; j < n; j++) total += prob[j];
  double mass = total;  // the same sum in the same order, unless the nucleus drops tokens
  if (topP < 1) {
    n = nucleus(prob, cand, n, total, topP);
    mass = 0;
    for (int j = 0; j < n; j++) mass += prob[j];
  }
  double u = r * mass;
  for (int j = 0; j < n; j++) {
    u -= prob[j];
    if (u < 0) return cand[j];
  }
  return cand[n - 1];
}

}  // namespace SBP_NS
}  // namespace sbp
