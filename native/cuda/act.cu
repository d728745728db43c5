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

}  // namespace

void elu(float* x, int64_t n, float alpha) { launch_map("elu", x, n, Elu{alpha}); }
void gelu(float* x, int64_t n) { launch_map("gelu", x, n, Gelu{}); }
void gelu_tanh(float* x, int64_t n) { launch_map("gelu_tanh", x, n, GeluTanh{}); }
void sigmoid(float* x, int64_t n) { launch_map("sigmoid", x, n, Sigmoid{}); }
void tanh_inplace(float* x, int64_t n) { launch_map("tanh_inplace", x, n, Tanh{}); }

}  // namespace cuda
}  // namespace alm
