// The host sampler of the cpu backend: temperature, top-k, top-p (nucleus) and greedy on rows of
// logits, one task per row on the thread pool. It repeats src/sample/logits-sampler.ts step for step
// in float64 (exp included: sampling_exp is the same arithmetic as src/sample/sampling-exp.ts), so for
// the same logits and uniform draw it picks the same token as the TypeScript sampler. Compiled once,
// without FMA contraction (binding.gyp: -ffp-contract=off), for every instruction set.
#pragma once

#include <cstdint>
#include <vector>

#include "thread-pool.h"

namespace sbp {

struct SamplingArgs {
  const float* logits;     // (B, V)
  int V;
  const int32_t* rows;     // (n) rows of logits to sample, each in [0, B)
  const double* uniforms;  // (n) one draw in [0, 1) per row (unused when greedy)
  int32_t* out;            // (n) chosen token ids
  int n;
  double temperature;      // 0 = greedy
  int topK;                // 0 = off
  double topP;             // 1 = off
};

// Per-thread scratch of size V, kept by the context so decoding allocates nothing per token.
struct SamplerScratch {
  std::vector<double> scaled;  // (V) logits / temperature
  std::vector<double> prob;    // (V) unnormalised probabilities of candidates
  std::vector<int32_t> cand;   // (V) candidate token ids
  std::vector<double> select;  // (V) quickselect copy for the k-th largest
};

double sampling_exp(double d);

// Samples every row; `scratch` holds one entry per pool thread (resized here when V grows).
// Returns -1, or the index i of the first row (rows[i]) whose largest scaled logit is not finite,
// with that maximum in *bad_max; outputs of the other rows are written either way.
int sample_logits(ThreadPool& pool, std::vector<SamplerScratch>& scratch, const SamplingArgs& a, double* bad_max);

}  // namespace sbp
