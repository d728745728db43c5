// Parameters of the ops that more than one backend implements (native/cpu, native/cuda, and the
// backend interface in core/backend.h).
#pragma once
#include <cstdint>

namespace alm {

// Scaled dot-product attention: query head h reads kv head h / (heads / kv_heads); scores are
// scale * q.k (+ bias); with `causal`, key j is visible to the query at position p iff j <= p.
struct AttentionShape {
  int64_t heads, kv_heads, head_dim;
  float scale;
  bool causal;
};

// A 1-D convolution over [channels, time] (torch.nn.Conv1d / ConvTranspose1d with padding 0).
struct Conv1dShape {
  int64_t in_channels, out_channels, kernel, stride = 1, dilation = 1, groups = 1;
};
enum class PadMode { Zero, Reflect, Replicate };

// Output lengths (defined beside the CPU kernels, which check shapes by the same rules):
// (in_len - dilation*(kernel-1) - 1) / stride + 1; throws when the input is shorter than the
// kernel's span.
int64_t conv1d_out_len(const Conv1dShape& shape, int64_t in_len);
// (in_len - 1)*stride + dilation*(kernel-1) + 1: the full output, before any trimming.
int64_t conv_transpose1d_out_len(const Conv1dShape& shape, int64_t in_len);

}  // namespace alm
