// Token sampling for the transformer stages on the CPU (the parameters and the random numbers
// are in core/sampling.h).
#pragma once
#include <cstdint>
#include <vector>

#include "core/sampling.h"

namespace alm {

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
