// LayerNorm, RMSNorm and softmax: one 256-thread block per row. Rows are read from device memory
// two or three times; the later passes hit L1/L2 for the row sizes of these models (<= a few K).
// LayerNorm takes the variance of (x - mean) in a second pass, as the CPU op, to keep
// cancellation out.
#include "cuda/common.cuh"
#include "cuda/norm.cuh"

namespace alm {
namespace cuda {
namespace {

constexpr int kThreads = 256;

__global__ void layer_norm_kernel(const float* x, int64_t dim, const float* w, const float* b, float eps, float* y) {
  __shared__ float red[32];
  const float* xr = x + blockIdx.x * dim;
  float* yr = y + blockIdx.x * dim;
  float s = 0.f;
  for (int64_t i = threadIdx.x; i < dim; i += blockDim.x) s += xr[i];
  const float mean = block_sum(s, red) / float(dim);
  float v = 0.f;
  for (int64_t i = threadIdx.x; i < dim; i += blockDim.x) {
    const float d = xr[i] - mean;
    v += d * d;
  }
  const float rstd = rsqrtf(block_sum(v, red) / float(dim) + eps);
  // Every thread has read its part of the row (block_sum ends synchronised), so y may alias x.
  for (int64_t i = threadIdx.x; i < dim; i += blockDim.x) {
    const float o = (xr[i] - mean) * rstd * w[i];
    yr[i] = b ? o + b[i] : o;
  }
}

__global__ void rms_norm_kernel(const float* x, int64_t dim, const float* w, float eps, float* y) {
  __shared__ float red[32];
  const float* xr = x + blockIdx.x * dim;
  float* yr = y + blockIdx.x * dim;
  float s = 0.f;
  for (int64_t i = threadIdx.x; i < dim; i += blockDim.x) s += xr[i] * xr[i];
  const float r = rsqrtf(block_sum(s, red) / float(dim) + eps);
  for (int64_t i = threadIdx.x; i < dim; i += blockDim.x) yr[i] = xr[i] * r * w[i];
}

__global__ void softmax_kernel(float* x, int64_t n) {
  __shared__ float red[32];
  float* xr = x + blockIdx.x * n;
  float m = -INFINITY;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) m = fmaxf(m, xr[i]);
  m = block_max(m, red);
  if (m == -INFINITY) {  // all -inf: zeros rather than NaN
    for (int64_t i = threadIdx.x; i < n; i += blockDim.x) xr[i] = 0.f;
    return;
  }
  float s = 0.f;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
    const float e = expf(xr[i] - m);
    xr[i] = e;
    s += e;
  }
  const float inv = 1.f / block_sum(s, red);
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) xr[i] *= inv;
}

void check_rows(const char* name, int64_t rows, int64_t dim) {
  ALM_CHECK_ARG(rows >= 0 && dim > 0 && rows <= 0x7fffffff, name, ": bad shape [", rows, ", ", dim, "]");
}

}  // namespace

void layer_norm(const float* x, int64_t rows, int64_t dim, const float* weight, const float* bias, float eps,
                float* y) {
  check_rows("layer_norm", rows, dim);
  if (rows == 0) return;
  layer_norm_kernel<<<unsigned(rows), kThreads, 0, stream()>>>(x, dim, weight, bias, eps, y);
  ALM_CUDA_CHECK_LAUNCH("layer_norm");
}

void rms_norm(const float* x, int64_t rows, int64_t dim, const float* weight, float eps, float* y) {
  check_rows("rms_norm", rows, dim);
  if (rows == 0) return;
  rms_norm_kernel<<<unsigned(rows), kThreads, 0, stream()>>>(x, dim, weight, eps, y);
  ALM_CUDA_CHECK_LAUNCH("rms_norm");
}

void softmax_rows(float* x, int64_t rows, int64_t n) {
  check_rows("softmax_rows", rows, n);
  if (rows == 0) return;
  softmax_kernel<<<unsigned(rows), kThreads, 0, stream()>>>(x, n);
  ALM_CUDA_CHECK_LAUNCH("softmax_rows");
}

namespace {
// One block per group; the group's n = (C / groups) · T values are read three times.
__global__ void group_norm_kernel(const float* x, int64_t cpg, int64_t T, const float* w, const float* b, float eps, float* y) {
  __shared__ float red[32];
  const int64_t n = cpg * T, base = int64_t(blockIdx.x) * n;
  float s = 0.f;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) s += x[base + i];
  const float mean = block_sum(s, red) / float(n);
  float v = 0.f;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
    const float d = x[base + i] - mean;
    v += d * d;
  }
  const float rstd = rsqrtf(block_sum(v, red) / float(n) + eps);
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) {
    const int64_t c = blockIdx.x * cpg + i / T;
    const float o = (x[base + i] - mean) * rstd * (w ? w[c] : 1.f);
    y[base + i] = b ? o + b[c] : o;
  }
}
}  // namespace

void group_norm(const float* x, int64_t channels, int64_t T, int64_t groups, const float* weight, const float* bias,
                float eps, float* y) {
  ALM_CHECK_ARG(groups > 0 && channels % groups == 0 && T > 0, "cuda group_norm: ", channels, " channels in ", groups, " groups");
  group_norm_kernel<<<unsigned(groups), kThreads, 0, stream()>>>(x, channels / groups, T, weight, bias, eps, y);
  ALM_CUDA_CHECK_LAUNCH("group_norm");
}

}  // namespace cuda
}  // namespace alm
