// The host sampler of the cpu backend: temperature, top-k, top-p (nucleus) and greedy on one row of
// logits. It repeats src/sample/logits-sampler.ts step for step in float64 (exp included:
// sampling_exp is the same arithmetic as src/sample/sampling-exp.ts), so for the same logits and
// uniform draw it picks the same token as the TypeScript sampler. Like kernels.cc it is compiled once
// per instruction set (the exp runs 8, 4 or 2 lanes wide), always without FMA contraction
// (binding.gyp: -ffp-contract=off); vector lanes round exactly as scalar doubles, so every build gives
// the same bits. addon.cc runs one task per row on the thread pool and owns the scratch.
#pragma once

#include <cstdint>

namespace sbp {

// Scratch of one thread.
struct SamplerScratch {
  double* scaled;  // (V) logits / temperature
  double* prob;    // (V + 1) unnormalised probabilities of the candidates, one spare slot
  int32_t* cand;   // (V) candidate token ids
  double* select;  // (V) quickselect copy for the k-th largest
};

// The token drawn from logits (V) with the uniform draw r in [0, 1) (unused when greedy: temperature 0
// or topK 1), or -1 when the largest logit / temperature is not finite (then *bad_max holds it).
typedef int (*SampleRowFn)(const float* logits, int V, double temperature, int topK, double topP, double r,
                           const SamplerScratch& s, double* bad_max);

namespace avx512 { int sample_row(const float*, int, double, int, double, double, const SamplerScratch&, double*); }
namespace avx2 { int sample_row(const float*, int, double, int, double, double, const SamplerScratch&, double*); }
namespace portable { int sample_row(const float*, int, double, int, double, double, const SamplerScratch&, double*); }

}  // namespace sbp
