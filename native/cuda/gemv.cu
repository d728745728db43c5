// Few-row products y[M,N] = x[M,K] · W[N,K]ᵀ: one warp per weight row, lanes striding over K
// (16-byte loads of W when aligned), MR accumulators per lane for the M activation rows (x is
// small and stays in L1/L2). Weight bytes bound the product, so each is read exactly once.
#include "cuda/common.cuh"
#include "cuda/gemv.cuh"

namespace alm {
namespace cuda {
namespace {

constexpr int kWarps = 8;

__device__ __forceinline__ void load4(const float* p, float (&w)[4]) {
  const float4 v = __ldg(reinterpret_cast<const float4*>(p));
  w[0] = v.x; w[1] = v.y; w[2] = v.z; w[3] = v.w;
}
__device__ __forceinline__ void load4(const uint16_t* p, float (&w)[4]) {
  const uint2 v = __ldg(reinterpret_cast<const uint2*>(p));
  w[0] = __uint_as_float(v.x << 16); w[1] = __uint_as_float(v.x & 0xffff0000u);
  w[2] = __uint_as_float(v.y << 16); w[3] = __uint_as_float(v.y & 0xffff0000u);
}
__device__ __forceinline__ float load1(const float* p) { return __ldg(p); }
__device__ __forceinline__ float load1(const uint16_t* p) { return bf16_bits_to_float(__ldg(p)); }

template <int MR, typename WT>
__global__ void __launch_bounds__(kWarps * 32) gemv_kernel(int M, int N, int K, const float* __restrict__ x,
                                                           int64_t ldx, const WT* __restrict__ W, int64_t ldw,
                                                           float* __restrict__ y, int64_t ldy, bool vec) {
  const int lane = threadIdx.x & 31;
  const int n = blockIdx.x * kWarps + (threadIdx.x >> 5);
  if (n >= N) return;
  const WT* w = W + int64_t(n) * ldw;
  float acc[MR];
#pragma unroll
  for (int m = 0; m < MR; ++m) acc[m] = 0.f;
  int k = 0;
  if (vec) {
    for (k = lane * 4; k + 4 <= K; k += 128) {
      float wv[4];
      load4(w + k, wv);
#pragma unroll
      for (int m = 0; m < MR; ++m) {
        if (m < M) {
          const float4 xv = __ldg(reinterpret_cast<const float4*>(x + int64_t(m) * ldx + k));
          acc[m] = fmaf(wv[0], xv.x, fmaf(wv[1], xv.y, fmaf(wv[2], xv.z, fmaf(wv[3], xv.w, acc[m]))));
        }
      }
    }
    k = K - K % 4;  // the tail below covers the last K % 4 columns
    for (int kk = k + lane; kk < K; kk += 32) {
      const float wv = load1(w + kk);
#pragma unroll
      for (int m = 0; m < MR; ++m)
        if (m < M) acc[m] = fmaf(wv, __ldg(x + int64_t(m) * ldx + kk), acc[m]);
    }
  } else {
    for (int kk = lane; kk < K; kk += 32) {
      const float wv = load1(w + kk);
#pragma unroll
      for (int m = 0; m < MR; ++m)
        if (m < M) acc[m] = fmaf(wv, __ldg(x + int64_t(m) * ldx + kk), acc[m]);
    }
  }
#pragma unroll
  for (int m = 0; m < MR; ++m) {
    const float s = warp_sum(acc[m]);
    if (lane == 0 && m < M) y[int64_t(m) * ldy + n] = s;
  }
}

template <typename WT>
void launch(const char* name, int64_t M, int64_t N, int64_t K, const float* x, int64_t ldx, const WT* W, int64_t ldw,
            float* y, int64_t ldy) {
  ALM_CHECK_ARG(M >= 0 && M <= 32 && N >= 0 && K >= 0 && N < (int64_t(1) << 31) && K < (int64_t(1) << 31), name,
                ": bad shape M=", M, " (at most 32) N=", N, " K=", K);
  ALM_CHECK_ARG(ldx >= K && ldw >= K && ldy >= N, name, ": leading dimensions too small");
  if (M == 0 || N == 0) return;
  const bool vec = ldx % 4 == 0 && ldw % 4 == 0 && reinterpret_cast<uintptr_t>(x) % 16 == 0 &&
                   reinterpret_cast<uintptr_t>(W) % (4 * sizeof(WT)) == 0;
  const unsigned blocks = unsigned((N + kWarps - 1) / kWarps);
  const int m = int(M), n = int(N), k = int(K);
  cudaStream_t s = stream();
  if (M <= 1) gemv_kernel<1, WT><<<blocks, kWarps * 32, 0, s>>>(m, n, k, x, ldx, W, ldw, y, ldy, vec);
  else if (M <= 2) gemv_kernel<2, WT><<<blocks, kWarps * 32, 0, s>>>(m, n, k, x, ldx, W, ldw, y, ldy, vec);
  else if (M <= 4) gemv_kernel<4, WT><<<blocks, kWarps * 32, 0, s>>>(m, n, k, x, ldx, W, ldw, y, ldy, vec);
  else if (M <= 8) gemv_kernel<8, WT><<<blocks, kWarps * 32, 0, s>>>(m, n, k, x, ldx, W, ldw, y, ldy, vec);
  else if (M <= 16) gemv_kernel<16, WT><<<blocks, kWarps * 32, 0, s>>>(m, n, k, x, ldx, W, ldw, y, ldy, vec);
  else gemv_kernel<32, WT><<<blocks, kWarps * 32, 0, s>>>(m, n, k, x, ldx, W, ldw, y, ldy, vec);
  ALM_CUDA_CHECK_LAUNCH("gemv_rows");
}

}  // namespace

void gemv_rows(int64_t M, int64_t N, int64_t K, const float* x, int64_t ldx, const float* W, int64_t ldw, float* y,
               int64_t ldy) {
  launch("gemv_rows", M, N, K, x, ldx, W, ldw, y, ldy);
}

void gemv_rows_bf16(int64_t M, int64_t N, int64_t K, const float* x, int64_t ldx, const uint16_t* W, int64_t ldw,
                    float* y, int64_t ldy) {
  launch("gemv_rows_bf16", M, N, K, x, ldx, W, ldw, y, ldy);
}

}  // namespace cuda
}  // namespace alm
