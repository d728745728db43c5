// Token sampling on the GPU with the rule of native/cpu/sample.h: the same order (descending
// logit, then ascending id), the same integer weights (multiples of 2^-38 of the top token's),
// exact sums, and u = rng_uniform(seed, counter) from the same counter-based generator, so a
// row picks the token the CPU picks for the same (seed, counter). The order is never sorted:
// top-k, the top-p cut and the inverse-CDF draw are each a radix select over 64-bit keys
// (logit's order bits, then the complement of the id), one block per row.
#pragma once
#include <cstdint>

namespace alm {
namespace cuda {

struct DeviceSampleParams {
  float temperature = 1.f;  // <= 0: greedy
  int32_t top_k = 0;
  float top_p = 1.f;
  // Allowed tokens [lo, hi) ∪ extra when has_range; extra is n_extra int32 ids on the device.
  bool has_range = false;
  int32_t lo = 0, hi = 0;
  const int32_t* extra = nullptr;
  int32_t n_extra = 0;
};

// tokens[r] for logits[r * ld .. r * ld + V) with u = rng_uniform(seeds[r], counters[r]); seeds,
// counters (uint64) and tokens (int32) are device arrays of `rows`. A row with a NaN logit, no
// allowed token or only -inf allowed logits gets -1 (the CPU op throws there).
void sample_tokens(const float* logits, int64_t rows, int64_t V, int64_t ld, const DeviceSampleParams& params,
                   const uint64_t* seeds, const uint64_t* counters, int32_t* tokens);

}  // namespace cuda
}  // namespace alm
