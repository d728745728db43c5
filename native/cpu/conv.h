// 1-D convolutions over [channels, time] signals (one batch item), as torch.nn.Conv1d and
// ConvTranspose1d with padding=0: callers pad (pad1d) or trim themselves.
#pragma once
#include <cstdint>

#include "core/ops.h"

namespace alm {

// y[Cout, Tout] = conv(x[Cin, in_len], w[Cout, Cin/groups, K]) + bias[Cout] (bias may be null).
// x is already padded. y must not overlap x.
void conv1d(const Conv1dShape& shape, const float* x, int64_t in_len, const float* w,
            const float* bias, float* y);
void conv1d_ref(const Conv1dShape& shape, const float* x, int64_t in_len, const float* w,
                const float* bias, float* y);

// y[C, left+len+right] = x[C, len] padded on both sides. Reflect mirrors without repeating the
// edge sample and, as in PyTorch, needs left and right below len.
void pad1d(const float* x, int64_t channels, int64_t len, int64_t left, int64_t right,
           PadMode mode, float* y);

// y[Cout, Tout] = conv_transpose(x[Cin, in_len], w[Cin, Cout/groups, K]) + bias[Cout], the
// weight in torch's ConvTranspose1d layout. y must not overlap x.
void conv_transpose1d(const Conv1dShape& shape, const float* x, int64_t in_len, const float* w,
                      const float* bias, float* y);
void conv_transpose1d_ref(const Conv1dShape& shape, const float* x, int64_t in_len,
                          const float* w, const float* bias, float* y);

}  // namespace alm
