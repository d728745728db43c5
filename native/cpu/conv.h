// 1-D convolutions over [channels, time] signals (one batch item), as torch.nn.Conv1d and
// ConvTranspose1d with padding=0: callers pad (pad1d) or trim themselves.
#pragma once
#include <cstdint>

namespace alm {

struct Conv1dShape {
  int64_t in_channels, out_channels, kernel, stride = 1, dilation = 1, groups = 1;
};

// (in_len - dilation*(kernel-1) - 1) / stride + 1; throws when the input is shorter than the
// kernel's span.
int64_t conv1d_out_len(const Conv1dShape& shape, int64_t in_len);

// y[Cout, Tout] = conv(x[Cin, in_len], w[Cout, Cin/groups, K]) + bias[Cout] (bias may be null).
// x is already padded. y must not overlap x.
void conv1d(const Conv1dShape& shape, const float* x, int64_t in_len, const float* w,
            const float* bias, float* y);
void conv1d_ref(const Conv1dShape& shape, const float* x, int64_t in_len, const float* w,
                const float* bias, float* y);

enum class PadMode { Zero, Reflect, Replicate };

// y[C, left+len+right] = x[C, len] padded on both sides. Reflect mirrors without repeating the
// edge sample and, as in PyTorch, needs left and right below len.
void pad1d(const float* x, int64_t channels, int64_t len, int64_t left, int64_t right,
           PadMode mode, float* y);

// (in_len - 1)*stride + dilation*(kernel-1) + 1: the full output, before any trimming.
int64_t conv_transpose1d_out_len(const Conv1dShape& shape, int64_t in_len);

// y[Cout, Tout] = conv_transpose(x[Cin, in_len], w[Cin, Cout/groups, K]) + bias[Cout], the
// weight in torch's ConvTranspose1d layout. y must not overlap x.
void conv_transpose1d(const Conv1dShape& shape, const float* x, int64_t in_len, const float* w,
                      const float* bias, float* y);
void conv_transpose1d_ref(const Conv1dShape& shape, const float* x, int64_t in_len,
                          const float* w, const float* bias, float* y);

}  // namespace alm
