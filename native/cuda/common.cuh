// Shared helpers for the CUDA sources: error checking that throws (never exits), the calling
// thread's stream, and warp/block reductions.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>

#include "core/error.h"
#include "cuda/memory.cuh"

#define ALM_CUDA_CHECK(expr)                                                                  \
  do {                                                                                        \
    cudaError_t err_ = (expr);                                                                \
    if (err_ != cudaSuccess)                                                                  \
      ::alm::fail(::alm::ErrorKind::Cuda, #expr " failed: ", cudaGetErrorName(err_), " (",    \
                  cudaGetErrorString(err_), ")");                                             \
  } while (0)

// After a <<<...>>> launch: a bad configuration shows here, a fault later at a synchronize.
#define ALM_CUDA_CHECK_LAUNCH(name)                                                           \
  do {                                                                                        \
    cudaError_t err_ = cudaGetLastError();                                                    \
    if (err_ != cudaSuccess)                                                                  \
      ::alm::fail(::alm::ErrorKind::Cuda, name " launch failed: ", cudaGetErrorName(err_),    \
                  " (", cudaGetErrorString(err_), ")");                                       \
  } while (0)

namespace alm {
namespace cuda {

inline cudaStream_t stream() { return static_cast<cudaStream_t>(current_stream()); }

inline unsigned blocks_for(int64_t n, int threads, int64_t cap = 65535LL * 16) {
  int64_t b = (n + threads - 1) / threads;
  return unsigned(b < 1 ? 1 : (b > cap ? cap : b));
}

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// Sum / max over the block (blockDim.x a multiple of 32, at most 1024); every thread gets the
// result. `shared` holds 32 floats; the call ends with the block synchronised.
__device__ __forceinline__ float block_sum(float v, float* shared) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = blockDim.x >> 5;
  v = warp_sum(v);
  __syncthreads();
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  v = lane < nwarps ? shared[lane] : 0.f;
  return warp_sum(v);
}
__device__ __forceinline__ float block_max(float v, float* shared) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nwarps = blockDim.x >> 5;
  v = warp_max(v);
  __syncthreads();
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  v = lane < nwarps ? shared[lane] : -INFINITY;
  return warp_max(v);
}

__device__ __forceinline__ float bf16_bits_to_float(uint16_t b) { return __uint_as_float(uint32_t(b) << 16); }

}  // namespace cuda
}  // namespace alm
