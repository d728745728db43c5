// 1-D convolutions and padding over [channels, time] signals on the GPU: counterparts of
// native/cpu/conv.h (same shapes and weight layouts; one thread per output sample, which reads
// its window of every input channel of its group).
#pragma once
#include <cstdint>

#include "core/ops.h"

namespace alm {
namespace cuda {

// y[Cout, conv1d_out_len] = conv(x[Cin, in_len], w[Cout, Cin/groups, K]) + bias (bias may be null).
void conv1d(const Conv1dShape& shape, const float* x, int64_t in_len, const float* w, const float* bias, float* y);
// y[Cout, conv_transpose1d_out_len] for w[Cin, Cout/groups, K] (torch's ConvTranspose1d layout).
void conv_transpose1d(const Conv1dShape& shape, const float* x, int64_t in_len, const float* w, const float* bias, float* y);
// y[C, left + len + right] = x[C, len] padded (reflect needs left, right < len).
void pad1d(const float* x, int64_t channels, int64_t len, int64_t left, int64_t right, PadMode mode, float* y);

}  // namespace cuda
}  // namespace alm
