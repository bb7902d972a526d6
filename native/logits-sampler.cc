// See logits-sampler.h. Every function here mirrors one in src/sample/logits-sampler.ts or
// src/sample/sampling-exp.ts, operation for operation: a different summation order or a fused
// multiply-add would change the last bits of a probability and, rarely, the token.
#include "logits-sampler.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>

namespace sbp {
namespace {

constexpr double kLog2e = 1.4426950408889634;
constexpr double kLn2Hi = 0.6931471806019545;      // ln 2 rounded to 32 bits
constexpr double kLn2Lo = -4.2009150726810846e-11;  // ln 2 − kLn2Hi
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

// Quickselect (Hoare partition) for the k-th largest of x[0, n); the same pivots and swaps as the
// TypeScript kthLargest, so NaNs in a row lead to the same value.
double kth_largest(const double* x, int n, int k, double* s) {
  std::copy(x, x + n, s);
  int lo = 0, hi = n - 1;
  const int target = k - 1;
  while (lo < hi) {
    const double pivot = s[(unsigned(lo) + unsigned(hi)) >> 1];
    int i = lo, j = hi;
    while (i <= j) {
      while (i < n && s[i] > pivot) i++;
      while (j >= 0 && s[j] < pivot) j--;
      if (i <= j) {
        std::swap(s[i], s[j]);
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

// The nucleus moved to the front of cand/prob; returns its size (LogitsSampler.nucleus).
int nucleus(double* p, int32_t* c, int n, double total, double topP) {
  auto swap = [&](int i, int j) {
    std::swap(p[i], p[j]);
    std::swap(c[i], c[j]);
  };
  double need = topP * total;
  int lo = 0, hi = n;
  while (lo < hi) {
    const double pivot = p[lo + ((hi - lo) >> 1)];
    int gtEnd = lo, i = lo, ltStart = hi;
    while (i < ltStart) {
      const double v = p[i];
      if (v > pivot) swap(i++, gtEnd++);
      else if (v < pivot) swap(i, --ltStart);
      else i++;
    }
    double massGreater = 0;
    for (int j = lo; j < gtEnd; j++) massGreater += p[j];
    if (massGreater >= need) {
      hi = gtEnd;
      continue;
    }
    const double massEqual = double(ltStart - gtEnd) * pivot;
    if (massGreater + massEqual >= need) {
      std::sort(c + gtEnd, c + ltStart);  // the boundary falls inside the tie: lowest ids first
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
  return std::max(lo, 1);
}

int argmax(const float* x, int n) {
  int best = 0;
  double bestV = -std::numeric_limits<double>::infinity();
  for (int i = 0; i < n; i++) {
    const double v = x[i];
    if (v > bestV) {
      bestV = v;
      best = i;
    }
  }
  return best;
}

// One row (LogitsSampler.sample). Returns the token, or -1 with *bad_max set when max is not finite.
int sample_row(const float* logits, int V, double temperature, int topK, double topP, double r, SamplerScratch& s,
               double* bad_max) {
  if (temperature == 0 || topK == 1) return argmax(logits, V);
  double* x = s.scaled.data();
  double* prob = s.prob.data();
  int32_t* cand = s.cand.data();
  double max = -std::numeric_limits<double>::infinity();
  for (int i = 0; i < V; i++) {
    const double v = double(logits[i]) / temperature;
    x[i] = v;
    if (v > max) max = v;
  }
  if (!std::isfinite(max)) {
    *bad_max = max;
    return -1;
  }
  int n = 0;
  if (topK > 0 && topK < V) {
    const double kth = kth_largest(x, V, topK, s.select.data());
    int ties = topK;
    for (int i = 0; i < V; i++)
      if (x[i] > kth) ties--;
    for (int i = 0; i < V; i++) {
      const double v = x[i];
      if (v > kth || (v == kth && ties-- > 0)) cand[n++] = i;
    }
  } else {
    for (int i = 0; i < V; i++) cand[i] = i;
    n = V;
  }
  double total = 0;
  for (int j = 0; j < n; j++) {
    const double p = sampling_exp(x[cand[j]] - max);
    prob[j] = p;
    total += p;
  }
  if (topP < 1) n = nucleus(prob, cand, n, total, topP);
  double mass = 0;
  for (int j = 0; j < n; j++) mass += prob[j];
  double u = r * mass;
  for (int j = 0; j < n; j++) {
    u -= prob[j];
    if (u < 0) return cand[j];
  }
  return cand[n - 1];
}

}  // namespace

double sampling_exp(double d) {
  if (d != d) return d;
  if (d < -745.5) return 0.0;
  if (d > 709) return std::numeric_limits<double>::infinity();
  const double k = std::floor(d * kLog2e + 0.5);
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

int sample_logits(ThreadPool& pool, std::vector<SamplerScratch>& scratch, const SamplingArgs& a, double* bad_max) {
  const bool greedy = a.temperature == 0 || a.topK == 1;
  if (scratch.size() < size_t(pool.size())) scratch.resize(pool.size());
  if (!greedy) {
    for (SamplerScratch& s : scratch) {
      if (s.scaled.size() >= size_t(a.V)) continue;
      s.scaled.resize(a.V);
      s.prob.resize(a.V);
      s.cand.resize(a.V);
      s.select.resize(a.V);
    }
  }
  std::atomic<int> first_bad{a.n};
  pool.parallel_for(a.n, [&](int i, int thread) {
    double m = 0;
    const float* row = a.logits + size_t(a.rows[i]) * a.V;
    const int tok = sample_row(row, a.V, a.temperature, a.topK, a.topP, a.uniforms ? a.uniforms[i] : 0.0,
                               scratch[thread], &m);
    a.out[i] = tok;
    if (tok < 0) {
      int cur = first_bad.load();
      while (i < cur && !first_bad.compare_exchange_weak(cur, i)) {
      }
    }
  });
  const int bad = first_bad.load();
  if (bad == a.n) return -1;
  // Recompute that row's maximum for the message (cheap, and only on the error path).
  double max = -std::numeric_limits<double>::infinity();
  const float* row = a.logits + size_t(a.rows[bad]) * a.V;
  for (int j = 0; j < a.V; j++) {
    const double v = double(row[j]) / a.temperature;
    if (v > max) max = v;
  }
  *bad_max = max;
  return bad;
}

}  // namespace sbp
