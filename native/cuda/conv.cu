// Direct convolutions: a thread per output sample walks the K taps of each input channel of its
// group. Memory-bound at the codec's sizes on a GPU, which is why an implicit-GEMM version is the
// next step (see the device-layer notes); correctness first, against the CPU op.
#include "cuda/common.cuh"
#include "cuda/conv.cuh"

namespace alm {
namespace cuda {
namespace {

__global__ void conv1d_kernel(Conv1dShape s, const float* __restrict__ x, int64_t in_len, const float* __restrict__ w,
                              const float* __restrict__ bias, float* __restrict__ y, int64_t tout) {
  const int64_t n = s.out_channels * tout;
  const int64_t cin_g = s.in_channels / s.groups, cout_g = s.out_channels / s.groups;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t co = i / tout, t = i % tout, g = co / cout_g;
    float acc = bias ? bias[co] : 0.f;
    const float* wc = w + co * cin_g * s.kernel;
    for (int64_t ci = 0; ci < cin_g; ++ci) {
      const float* xc = x + (g * cin_g + ci) * in_len + t * s.stride;
      const float* wk = wc + ci * s.kernel;
      for (int64_t k = 0; k < s.kernel; ++k) acc = fmaf(wk[k], xc[k * s.dilation], acc);
    }
    y[i] = acc;
  }
}

__global__ void conv_transpose1d_kernel(Conv1dShape s, const float* __restrict__ x, int64_t in_len,
                                        const float* __restrict__ w, const float* __restrict__ bias, float* __restrict__ y,
                                        int64_t tout) {
  const int64_t n = s.out_channels * tout;
  const int64_t cin_g = s.in_channels / s.groups, cout_g = s.out_channels / s.groups;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t co = i / tout, t = i % tout, g = co / cout_g, col = co % cout_g;
    float acc = bias ? bias[co] : 0.f;
    for (int64_t k = 0; k < s.kernel; ++k) {
      const int64_t u = t - k * s.dilation;  // = input position * stride
      if (u < 0 || u % s.stride) continue;
      const int64_t j = u / s.stride;
      if (j >= in_len) continue;
      for (int64_t ci = 0; ci < cin_g; ++ci) {
        const int64_t c = g * cin_g + ci;
        acc = fmaf(x[c * in_len + j], w[(c * cout_g + col) * s.kernel + k], acc);
      }
    }
    y[i] = acc;
  }
}

__global__ void pad_kernel(const float* __restrict__ x, int64_t channels, int64_t len, int64_t left, int64_t right, int mode,
                           float* __restrict__ y) {
  const int64_t W = left + len + right, n = channels * W;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t c = i / W;
    int64_t j = i % W - left;
    if (j < 0 || j >= len) {
      if (mode == int(PadMode::Zero)) {
        y[i] = 0.f;
        continue;
      }
      if (mode == int(PadMode::Reflect)) j = j < 0 ? -j : 2 * (len - 1) - j;
      else j = j < 0 ? 0 : len - 1;
    }
    y[i] = x[c * len + j];
  }
}

void check(const Conv1dShape& s, const char* name) {
  ALM_CHECK_ARG(s.in_channels > 0 && s.out_channels > 0 && s.kernel > 0 && s.stride > 0 && s.dilation > 0 && s.groups > 0 &&
                    s.in_channels % s.groups == 0 && s.out_channels % s.groups == 0,
                name, ": bad shape");
}

}  // namespace

void conv1d(const Conv1dShape& s, const float* x, int64_t in_len, const float* w, const float* bias, float* y) {
  check(s, "cuda conv1d");
  const int64_t tout = conv1d_out_len(s, in_len), n = s.out_channels * tout;
  conv1d_kernel<<<blocks_for(n, 256), 256, 0, stream()>>>(s, x, in_len, w, bias, y, tout);
  ALM_CUDA_CHECK_LAUNCH("conv1d");
}

void conv_transpose1d(const Conv1dShape& s, const float* x, int64_t in_len, const float* w, const float* bias, float* y) {
  check(s, "cuda conv_transpose1d");
  const int64_t tout = conv_transpose1d_out_len(s, in_len), n = s.out_channels * tout;
  conv_transpose1d_kernel<<<blocks_for(n, 256), 256, 0, stream()>>>(s, x, in_len, w, bias, y, tout);
  ALM_CUDA_CHECK_LAUNCH("conv_transpose1d");
}

void pad1d(const float* x, int64_t channels, int64_t len, int64_t left, int64_t right, PadMode mode, float* y) {
  ALM_CHECK_ARG(channels > 0 && len > 0 && left >= 0 && right >= 0, "cuda pad1d: bad shape");
  if (mode == PadMode::Reflect)
    ALM_CHECK_ARG(left < len && right < len, "cuda pad1d: reflect padding ", left, "/", right, " needs more than ", len, " samples");
  const int64_t n = channels * (left + len + right);
  pad_kernel<<<blocks_for(n, 256), 256, 0, stream()>>>(x, channels, len, left, right, int(mode), y);
  ALM_CUDA_CHECK_LAUNCH("pad1d");
}

}  // namespace cuda
}  // namespace alm
