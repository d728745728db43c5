// Element-wise activations: grid-stride loops, single-precision intrinsics-free math (erff,
// expm1f, tanhf are within a few ulps, matching the CPU op's accuracy).
#include "cuda/act.cuh"
#include "cuda/common.cuh"

namespace alm {
namespace cuda {
namespace {

template <typename F>
__global__ void map_kernel(float* x, int64_t n, F f) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    x[i] = f(x[i]);
}

template <typename F>
void launch_map(const char* name, float* x, int64_t n, F f) {
  ALM_CHECK_ARG(n >= 0, name, ": negative size ", n);
  if (n == 0) return;
  map_kernel<<<blocks_for(n, 256, 8192), 256, 0, stream()>>>(x, n, f);
  ALM_CUDA_CHECK_LAUNCH("activation");
}

struct Elu {
  float alpha;
  __device__ float operator()(float v) const { return v > 0.f ? v : alpha * expm1f(v); }
};
struct Gelu {
  __device__ float operator()(float v) const { return 0.5f * v * erfcf(-v * 0.70710678118654752f); }
};
struct GeluTanh {
  __device__ float operator()(float v) const {
    return 0.5f * v * (1.f + tanhf(0.79788456080286536f * (v + 0.044715f * v * v * v)));
  }
};
struct Sigmoid {
  __device__ float operator()(float v) const { return 1.f / (1.f + expf(-v)); }
};
struct Tanh {
  __device__ float operator()(float v) const { return tanhf(v); }
};

struct Relu {
  __device__ float operator()(float v) const { return v > 0.f ? v : 0.f; }
};
struct LogFloor {
  float floor;
  __device__ float operator()(float v) const { return logf(fmaxf(v, floor)); }
};

__global__ void geglu_kernel(const float* u, int64_t rows, int64_t F, float* g) {
  const int64_t n = rows * F;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t r = i / F, j = i % F;
    const float gate = Gelu{}(u[r * 2 * F + F + j]);
    g[i] = gate * u[r * 2 * F + j];
  }
}
__global__ void axpby_kernel(float* y, const float* x, int64_t n, float a, float b) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    y[i] = (a == 1.f && b == 1.f) ? y[i] + x[i] : a * y[i] + b * x[i];
}
__global__ void add_bias_kernel(float* y, const float* b, int64_t rows, int64_t cols) {
  const int64_t n = rows * cols;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    y[i] += b[i % cols];
}
__global__ void power_kernel(const float* spec, int64_t F, int64_t B, float* power) {
  const int64_t n = F * B;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t t = i / B, k = i % B;
    const float re = spec[t * 2 * B + k], im = spec[t * 2 * B + B + k];
    power[i] = re * re + im * im;
  }
}
__global__ void affine_rows_kernel(float* x, int64_t rows, int64_t width, const float* sub, const float* mul, const float* add) {
  const int64_t n = rows * width;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t r = i / width;
    x[i] = (x[i] - sub[r]) * mul[r] + add[r];
  }
}

}  // namespace

void relu(float* x, int64_t n) { launch_map("relu", x, n, Relu{}); }
void log_floor(float* x, int64_t n, float floor) { launch_map("log_floor", x, n, LogFloor{floor}); }

void geglu(const float* u, int64_t rows, int64_t F, float* g) {
  if (rows * F == 0) return;
  geglu_kernel<<<blocks_for(rows * F, 256, 8192), 256, 0, stream()>>>(u, rows, F, g);
  ALM_CUDA_CHECK_LAUNCH("geglu");
}
void axpby(float* y, const float* x, int64_t n, float a, float b) {
  if (n == 0) return;
  axpby_kernel<<<blocks_for(n, 256, 8192), 256, 0, stream()>>>(y, x, n, a, b);
  ALM_CUDA_CHECK_LAUNCH("axpby");
}
void add_bias(float* y, const float* b, int64_t rows, int64_t cols) {
  if (rows * cols == 0) return;
  add_bias_kernel<<<blocks_for(rows * cols, 256, 8192), 256, 0, stream()>>>(y, b, rows, cols);
  ALM_CUDA_CHECK_LAUNCH("add_bias");
}
void power_spectrum(const float* spec, int64_t F, int64_t B, float* power) {
  if (F * B == 0) return;
  power_kernel<<<blocks_for(F * B, 256, 8192), 256, 0, stream()>>>(spec, F, B, power);
  ALM_CUDA_CHECK_LAUNCH("power_spectrum");
}
void affine_rows(float* x, int64_t rows, int64_t width, const float* sub, const float* mul, const float* add) {
  if (rows * width == 0) return;
  affine_rows_kernel<<<blocks_for(rows * width, 256, 8192), 256, 0, stream()>>>(x, rows, width, sub, mul, add);
  ALM_CUDA_CHECK_LAUNCH("affine_rows");
}

void elu(float* x, int64_t n, float alpha) { launch_map("elu", x, n, Elu{alpha}); }
void gelu(float* x, int64_t n) { launch_map("gelu", x, n, Gelu{}); }
void gelu_tanh(float* x, int64_t n) { launch_map("gelu_tanh", x, n, GeluTanh{}); }
void sigmoid(float* x, int64_t n) { launch_map("sigmoid", x, n, Sigmoid{}); }
void tanh_inplace(float* x, int64_t n) { launch_map("tanh_inplace", x, n, Tanh{}); }

}  // namespace cuda
}  // namespace alm
