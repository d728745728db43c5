// Row-wise normalisations of the transformer stages: LayerNorm, RMSNorm and a numerically
// stable softmax, on row-major f32 [rows, dim]. The fast versions use AVX2/FMA where the CPU has
// it (see simd_avx2_active in gemm.h) and split rows over the thread pool; the _ref versions
// accumulate in double on one thread and are the yardstick in the tests.
#pragma once
#include <cstdint>

namespace alm {

// y = (x - mean) / sqrt(var + eps) * weight + bias per row (biased variance, as torch). bias may
// be null. y may alias x (each row is read completely before it is written).
void layer_norm(const float* x, int64_t rows, int64_t dim, const float* weight, const float* bias,
                float eps, float* y);
void layer_norm_ref(const float* x, int64_t rows, int64_t dim, const float* weight, const float* bias,
                    float eps, float* y);

// y = x / sqrt(mean(x^2) + eps) * weight per row. y may alias x.
void rms_norm(const float* x, int64_t rows, int64_t dim, const float* weight, float eps, float* y);
void rms_norm_ref(const float* x, int64_t rows, int64_t dim, const float* weight, float eps, float* y);

// Softmax of each row of n values, in place: exp(x - max) / sum. A row whose values are all
// -inf becomes all zeros rather than NaN.
void softmax_rows(float* x, int64_t rows, int64_t n);
void softmax_rows_ref(float* x, int64_t rows, int64_t n);

// GroupNorm over one item's [C, T] signal (torch.nn.GroupNorm on [1, C, T]): channels are split
// into `groups` runs of C / groups; each run is normalised by its own mean and biased variance
// over all its channels and time steps, then y = xhat * weight[c] + bias[c] (either may be null:
// 1 and 0). HuBERT's first conv layer uses groups = C (each channel over time). y may alias x.
void group_norm(const float* x, int64_t channels, int64_t T, int64_t groups, const float* weight,
                const float* bias, float eps, float* y);
void group_norm_ref(const float* x, int64_t channels, int64_t T, int64_t groups, const float* weight,
                    const float* bias, float eps, float* y);

}  // namespace alm
