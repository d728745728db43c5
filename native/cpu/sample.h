// Counter-based random numbers and token sampling for the transformer stages. The generator is a
// pure function of (seed, counter), so a generation is reproducible on every platform and can
// resume from any step without carrying state.
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

// Picks a token from logits[V] with u in [0, 1):
//  1. restrict to *range when non-null;
//  2. order the allowed tokens by descending logit (= descending probability), then ascending id;
//  3. top-k keeps the first k of that order;
//  4. weights exp((logit - max) / temperature) over the kept tokens; top-p keeps the shortest
//     prefix whose weight is at least top_p of the kept total (at least one token);
//  5. inverse CDF: the first token in that order whose cumulative weight exceeds u * total.
// The weights are rounded to integer multiples of 2^-38 of the largest (so a token below about
// 1.8e-12 of the top one is never drawn) and all sums are exact integers: the result does not
// depend on summation order, which lets the fast version skip the sort and still pick exactly
// the token the reference picks. V must be below 2^24.
// Errors (InvalidArgument): a NaN logit anywhere (the message names its index), an empty
// allowed set, all allowed logits -inf, ids outside [0, V), u outside [0, 1).
// `scratch` is reused between calls to avoid allocations.
int32_t sample_token(const float* logits, int64_t V, const SampleParams& params, const TokenRange* range, double u,
                     std::vector<float>& scratch);
// The same rule with a full sort of the allowed tokens and no shortcuts.
int32_t sample_token_ref(const float* logits, int64_t V, const SampleParams& params, const TokenRange* range,
                         double u, std::vector<float>& scratch);

}  // namespace alm
