// Row-wise LayerNorm, RMSNorm and softmax on the GPU, one block per row. Counterparts of
// native/cpu/norm.h with the same contracts (y may alias x; bias may be null; an all -inf
// softmax row becomes zeros).
#pragma once
#include <cstdint>

namespace alm {
namespace cuda {

void layer_norm(const float* x, int64_t rows, int64_t dim, const float* weight, const float* bias, float eps,
                float* y);
void rms_norm(const float* x, int64_t rows, int64_t dim, const float* weight, float eps, float* y);
void softmax_rows(float* x, int64_t rows, int64_t n);
// GroupNorm of one item's [C, T]: groups runs of C / groups channels, each normalised by its own
// mean and biased variance, then y = xhat * weight[c] + bias[c] (either may be null). y may alias x.
void group_norm(const float* x, int64_t channels, int64_t T, int64_t groups, const float* weight, const float* bias,
                float eps, float* y);

}  // namespace cuda
}  // namespace alm
