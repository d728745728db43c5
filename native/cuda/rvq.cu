// Residual vector quantisation. Encode: a block takes 8 frames and keeps their residuals in
// shared memory; per level each warp walks every 8th code, reads the code vector once and scores
// it against all 8 residuals (||e||^2 - 2 r·e, the CPU op's formula), the warps merge their
// argmins (ties to the lowest index), and the chosen code is subtracted. The codebook (levels x
// 1024 x 128 floats = 4 MiB for EnCodec) stays in L2 across blocks. Decode is a gather-sum.
#include "cuda/common.cuh"
#include "cuda/rvq.cuh"

namespace alm {
namespace cuda {
namespace {

constexpr int kFrames = 8;
constexpr int kWarps = 8;

__global__ void norms_kernel(int64_t n_codes, int64_t dim, const float* __restrict__ embed, float* norms) {
  const int lane = threadIdx.x & 31;
  const int64_t c = blockIdx.x * int64_t(blockDim.x / 32) + (threadIdx.x >> 5);
  if (c >= n_codes) return;
  float s = 0.f;
  for (int64_t d = lane; d < dim; d += 32) {
    const float e = embed[c * dim + d];
    s = fmaf(e, e, s);
  }
  s = warp_sum(s);
  if (lane == 0) norms[c] = s;
}

__global__ void __launch_bounds__(kWarps * 32) encode_kernel(int levels, int csize, int dim,
                                                             const float* __restrict__ embed,
                                                             const float* __restrict__ norms,
                                                             const float* __restrict__ x, int T, int32_t* codes) {
  extern __shared__ float r[];  // [kFrames][dim]
  __shared__ float best_d[kWarps][kFrames];
  __shared__ int best_c[kWarps][kFrames];
  __shared__ int chosen[kFrames];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int t0 = blockIdx.x * kFrames;
  const int nf = min(kFrames, T - t0);
  for (int i = threadIdx.x; i < kFrames * dim; i += blockDim.x) {
    const int f = i / dim;
    r[i] = f < nf ? x[int64_t(t0 + f) * dim + i % dim] : 0.f;
  }
  __syncthreads();
  for (int l = 0; l < levels; ++l) {
    const float* E = embed + int64_t(l) * csize * dim;
    const float* N = norms + int64_t(l) * csize;
    float bd[kFrames];
    int bc[kFrames];
#pragma unroll
    for (int f = 0; f < kFrames; ++f) {
      bd[f] = INFINITY;
      bc[f] = 0x7fffffff;
    }
    for (int c = warp; c < csize; c += kWarps) {
      float dot[kFrames];
#pragma unroll
      for (int f = 0; f < kFrames; ++f) dot[f] = 0.f;
      for (int d = lane; d < dim; d += 32) {
        const float e = __ldg(E + int64_t(c) * dim + d);
#pragma unroll
        for (int f = 0; f < kFrames; ++f) dot[f] = fmaf(e, r[f * dim + d], dot[f]);
      }
      const float nc = __ldg(N + c);
#pragma unroll
      for (int f = 0; f < kFrames; ++f) {
        const float dist = nc - 2.f * warp_sum(dot[f]);
        if (dist < bd[f]) {  // codes come in ascending order per warp: strict keeps the lowest
          bd[f] = dist;
          bc[f] = c;
        }
      }
    }
    if (lane == 0) {
#pragma unroll
      for (int f = 0; f < kFrames; ++f) {
        best_d[warp][f] = bd[f];
        best_c[warp][f] = bc[f];
      }
    }
    __syncthreads();
    if (threadIdx.x < kFrames) {
      const int f = threadIdx.x;
      float d = best_d[0][f];
      int c = best_c[0][f];
      for (int w = 1; w < kWarps; ++w)
        if (best_d[w][f] < d || (best_d[w][f] == d && best_c[w][f] < c)) {
          d = best_d[w][f];
          c = best_c[w][f];
        }
      if (c == 0x7fffffff) c = 0;  // NaN input: every comparison failed; the CPU op picks 0 too
      chosen[f] = c;
      if (f < nf) codes[int64_t(l) * T + t0 + f] = c;
    }
    __syncthreads();
    for (int i = threadIdx.x; i < kFrames * dim; i += blockDim.x) {
      const int f = i / dim;
      r[i] -= E[int64_t(chosen[f]) * dim + i % dim];
    }
    __syncthreads();
  }
}

__global__ void decode_kernel(int levels, int csize, int dim, const float* __restrict__ embed,
                              const int32_t* __restrict__ codes, int T, float* y) {
  const int t = blockIdx.x;
  for (int d = threadIdx.x; d < dim; d += blockDim.x) {
    float s = 0.f;
    for (int l = 0; l < levels; ++l) {
      const int c = codes[int64_t(l) * T + t];
      s += (c >= 0 && c < csize) ? embed[(int64_t(l) * csize + c) * dim + d] : __int_as_float(0x7fc00000);
    }
    y[int64_t(t) * dim + d] = s;
  }
}

void check_cb(const char* name, const RvqDeviceCodebooks& cb, int64_t levels, int64_t T) {
  ALM_CHECK_ARG(cb.embed && cb.num_levels > 0 && cb.codebook_size > 0 && cb.dim > 0, name, ": empty codebooks");
  ALM_CHECK_ARG(levels >= 1 && levels <= cb.num_levels, name, ": levels ", levels, " outside [1, ", cb.num_levels,
                "]");
  ALM_CHECK_ARG(T >= 0 && T < (int64_t(1) << 31) && cb.codebook_size < (int64_t(1) << 31) && cb.dim <= 8192, name,
                ": T=", T, " codebook_size=", cb.codebook_size, " dim=", cb.dim, " out of range");
}

}  // namespace

void rvq_code_norms(int64_t num_levels, int64_t codebook_size, int64_t dim, const float* embed, float* norms) {
  const int64_t n = num_levels * codebook_size;
  if (n <= 0) return;
  norms_kernel<<<blocks_for(n, 8, int64_t(1) << 31), 256, 0, stream()>>>(n, dim, embed, norms);
  ALM_CUDA_CHECK_LAUNCH("rvq_code_norms");
}

void rvq_encode(const RvqDeviceCodebooks& cb, int64_t levels, const float* x, int64_t T, int32_t* codes) {
  check_cb("rvq_encode", cb, levels, T);
  ALM_CHECK_ARG(cb.norms, "rvq_encode: norms missing (rvq_code_norms fills them)");
  if (T == 0) return;
  const size_t smem = size_t(kFrames * cb.dim) * sizeof(float);
  if (smem > 48 * 1024)
    ALM_CUDA_CHECK(cudaFuncSetAttribute(encode_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(smem)));
  encode_kernel<<<unsigned((T + kFrames - 1) / kFrames), kWarps * 32, smem, stream()>>>(
      int(levels), int(cb.codebook_size), int(cb.dim), cb.embed, cb.norms, x, int(T), codes);
  ALM_CUDA_CHECK_LAUNCH("rvq_encode");
}

void rvq_decode(const RvqDeviceCodebooks& cb, int64_t levels, const int32_t* codes, int64_t T, float* y) {
  check_cb("rvq_decode", cb, levels, T);
  if (T == 0) return;
  decode_kernel<<<unsigned(T), 128, 0, stream()>>>(int(levels), int(cb.codebook_size), int(cb.dim), cb.embed, codes,
                                                   int(T), y);
  ALM_CUDA_CHECK_LAUNCH("rvq_decode");
}

}  // namespace cuda
}  // namespace alm
