// What a sampled token depends on, shared by every backend: the counter-based random numbers (a
// pure function of (seed, counter), so a generation is reproducible on every platform and can
// resume from any step without carrying state), the sampling parameters and the allowed ranges.
#pragma once
#include <cstdint>
#include <vector>

namespace alm {

// 64 random bits: SplitMix64's finaliser over a per-seed key plus counter times the golden
// gamma (the SplitMix64 stream of that key at position `counter`). Same (seed, counter), same
// bits, everywhere; consecutive counters are uncorrelated.
uint64_t rng_bits(uint64_t seed, uint64_t counter);
// Uniform in [0, 1) with 53 random bits: (rng_bits >> 11) * 2^-53.
double rng_uniform(uint64_t seed, uint64_t counter);

struct SampleParams {
  float temperature = 1.f;  // <= 0: greedy argmax (ties: lowest id); top_k and top_p then ignored
  int32_t top_k = 0;        // <= 0 or >= the allowed count: no top-k
  float top_p = 1.f;        // >= 1: no top-p
};

// Allowed tokens: [lo, hi) ∪ extra (duplicates count once). An empty set is an error; "all
// tokens" is a null TokenRange pointer.
struct TokenRange {
  int32_t lo = 0, hi = 0;
  std::vector<int32_t> extra;
};

}  // namespace alm
