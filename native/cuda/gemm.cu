// C = A · Bᵀ on the GPU. Two kernels, both on 64x64 output tiles:
//  - f32: 256 threads, each a 4x4 register tile, K in steps of 16 through shared memory (FFMA);
//  - bf16: 4 warps in 2x2, each 32x32 of WMMA 16x16x16 fragments with f32 accumulators, K in
//    steps of 32 through shared memory, 16-byte loads where rows are aligned.
// First versions, correct on any shape (edges zero-filled); Hopper's wgmma and the bulk copy
// engine are the next step for the bf16 path.
#include <mma.h>

#include "cuda/common.cuh"
#include "cuda/gemm.cuh"

namespace alm {
namespace cuda {
namespace {

constexpr int kTile = 64;

__global__ void __launch_bounds__(256) gemm_f32_kernel(int M, int N, int K, const float* __restrict__ A, int64_t lda,
                                                       const float* __restrict__ B, int64_t ldb, float* C,
                                                       int64_t ldc) {
  constexpr int KT = 16;
  __shared__ float As[KT][kTile + 4];
  __shared__ float Bs[KT][kTile + 4];
  const int tx = threadIdx.x % 16, ty = threadIdx.x / 16;
  const int m0 = blockIdx.y * kTile, n0 = blockIdx.x * kTile;
  float acc[4][4] = {};
  for (int k0 = 0; k0 < K; k0 += KT) {
    // 64 rows x 16 k of each operand: 1024 values, 4 per thread, k fastest (coalesced rows).
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const int idx = threadIdx.x + i * 256, r = idx / KT, kk = idx % KT;
      const int gk = k0 + kk;
      As[kk][r] = (m0 + r < M && gk < K) ? A[int64_t(m0 + r) * lda + gk] : 0.f;
      Bs[kk][r] = (n0 + r < N && gk < K) ? B[int64_t(n0 + r) * ldb + gk] : 0.f;
    }
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < KT; ++kk) {
      float a[4], b[4];
#pragma unroll
      for (int i = 0; i < 4; ++i) a[i] = As[kk][ty + 16 * i];
#pragma unroll
      for (int j = 0; j < 4; ++j) b[j] = Bs[kk][tx + 16 * j];
#pragma unroll
      for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int j = 0; j < 4; ++j) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
    }
    __syncthreads();
  }
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const int m = m0 + ty + 16 * i;
    if (m >= M) continue;
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      const int n = n0 + tx + 16 * j;
      if (n < N) C[int64_t(m) * ldc + n] = acc[i][j];
    }
  }
}

namespace wmma = nvcuda::wmma;

constexpr int kBK = 32;
constexpr int kLdS = kBK + 8;   // bf16 elements per shared row: a multiple of 8, rows 16-byte aligned
constexpr int kLdC = kTile + 4;  // floats per shared output row

// Loads a 64 x 32 bf16 tile (rows r0.., columns k0..) into shared memory, zero outside.
__device__ __forceinline__ void load_tile_bf16(uint16_t (*dst)[kLdS], const uint16_t* __restrict__ src, int64_t ld,
                                               int rows, int K, int r0, int k0, bool vec_ok) {
  // 64 rows x 4 chunks of 8 = 256 chunks over 128 threads.
#pragma unroll
  for (int i = 0; i < 2; ++i) {
    const int c = threadIdx.x + i * 128, r = c / 4, kc = (c % 4) * 8;
    const int gr = r0 + r, gk = k0 + kc;
    uint16_t* d = &dst[r][kc];
    if (vec_ok && gr < rows && gk + 8 <= K) {
      *reinterpret_cast<uint4*>(d) = __ldg(reinterpret_cast<const uint4*>(src + int64_t(gr) * ld + gk));
    } else {
#pragma unroll
      for (int e = 0; e < 8; ++e) d[e] = (gr < rows && gk + e < K) ? src[int64_t(gr) * ld + gk + e] : uint16_t(0);
    }
  }
}

__global__ void __launch_bounds__(128) gemm_bf16_kernel(int M, int N, int K, const uint16_t* __restrict__ A,
                                                        int64_t lda, const uint16_t* __restrict__ B, int64_t ldb,
                                                        float* C, int64_t ldc, bool vec_a, bool vec_b) {
  __shared__ __align__(128) uint16_t As[kTile][kLdS];
  __shared__ __align__(128) uint16_t Bs[kTile][kLdS];
  __shared__ __align__(128) float Cs[kTile][kLdC];
  const int warp = threadIdx.x / 32, wm = warp / 2, wn = warp % 2;
  const int m0 = blockIdx.y * kTile, n0 = blockIdx.x * kTile;
  wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[2][2];
#pragma unroll
  for (int i = 0; i < 2; ++i)
#pragma unroll
    for (int j = 0; j < 2; ++j) wmma::fill_fragment(acc[i][j], 0.f);
  for (int k0 = 0; k0 < K; k0 += kBK) {
    load_tile_bf16(As, A, lda, M, K, m0, k0, vec_a);
    load_tile_bf16(Bs, B, ldb, N, K, n0, k0, vec_b);
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < kBK; kk += 16) {
      wmma::fragment<wmma::matrix_a, 16, 16, 16, __nv_bfloat16, wmma::row_major> fa[2];
      // B is [N, K] row-major, i.e. Bᵀ (K x N) column-major: element (k, n) at Bs[n][k].
      wmma::fragment<wmma::matrix_b, 16, 16, 16, __nv_bfloat16, wmma::col_major> fb[2];
#pragma unroll
      for (int i = 0; i < 2; ++i)
        wmma::load_matrix_sync(fa[i], reinterpret_cast<const __nv_bfloat16*>(&As[wm * 32 + i * 16][kk]), kLdS);
#pragma unroll
      for (int j = 0; j < 2; ++j)
        wmma::load_matrix_sync(fb[j], reinterpret_cast<const __nv_bfloat16*>(&Bs[wn * 32 + j * 16][kk]), kLdS);
#pragma unroll
      for (int i = 0; i < 2; ++i)
#pragma unroll
        for (int j = 0; j < 2; ++j) wmma::mma_sync(acc[i][j], fa[i], fb[j], acc[i][j]);
    }
    __syncthreads();
  }
#pragma unroll
  for (int i = 0; i < 2; ++i)
#pragma unroll
    for (int j = 0; j < 2; ++j)
      wmma::store_matrix_sync(&Cs[wm * 32 + i * 16][wn * 32 + j * 16], acc[i][j], kLdC, wmma::mem_row_major);
  __syncthreads();
  for (int idx = threadIdx.x; idx < kTile * kTile; idx += 128) {
    const int r = idx / kTile, c = idx % kTile;
    if (m0 + r < M && n0 + c < N) C[int64_t(m0 + r) * ldc + n0 + c] = Cs[r][c];
  }
}

void check_gemm(const char* name, int64_t M, int64_t N, int64_t K, int64_t lda, int64_t ldb, int64_t ldc) {
  ALM_CHECK_ARG(M >= 0 && N >= 0 && K >= 0 && M < (int64_t(1) << 31) && N < (int64_t(1) << 31) &&
                    K < (int64_t(1) << 31),
                name, ": bad shape M=", M, " N=", N, " K=", K);
  ALM_CHECK_ARG(lda >= K && ldb >= K && ldc >= N, name, ": leading dimensions lda=", lda, " ldb=", ldb, " ldc=", ldc,
                " too small for K=", K, " N=", N);
  ALM_CHECK_ARG((N + kTile - 1) / kTile < (int64_t(1) << 31) && (M + kTile - 1) / kTile < 65536, name,
                ": M=", M, " is too large for one launch");
}

}  // namespace

void gemm_f32(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B, int64_t ldb, float* C,
              int64_t ldc) {
  check_gemm("gemm_f32", M, N, K, lda, ldb, ldc);
  if (M == 0 || N == 0) return;
  dim3 grid(unsigned((N + kTile - 1) / kTile), unsigned((M + kTile - 1) / kTile));
  gemm_f32_kernel<<<grid, 256, 0, stream()>>>(int(M), int(N), int(K), A, lda, B, ldb, C, ldc);
  ALM_CUDA_CHECK_LAUNCH("gemm_f32");
}

void gemm_bf16(int64_t M, int64_t N, int64_t K, const uint16_t* A, int64_t lda, const uint16_t* B, int64_t ldb,
               float* C, int64_t ldc) {
  check_gemm("gemm_bf16", M, N, K, lda, ldb, ldc);
  if (M == 0 || N == 0) return;
  const bool vec_a = lda % 8 == 0 && reinterpret_cast<uintptr_t>(A) % 16 == 0;
  const bool vec_b = ldb % 8 == 0 && reinterpret_cast<uintptr_t>(B) % 16 == 0;
  dim3 grid(unsigned((N + kTile - 1) / kTile), unsigned((M + kTile - 1) / kTile));
  gemm_bf16_kernel<<<grid, 128, 0, stream()>>>(int(M), int(N), int(K), A, lda, B, ldb, C, ldc, vec_a, vec_b);
  ALM_CUDA_CHECK_LAUNCH("gemm_bf16");
}

}  // namespace cuda
}  // namespace alm
