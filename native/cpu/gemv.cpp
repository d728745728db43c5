#include "gemv.h"

// GCC 12's AVX-512 headers trip -Wuninitialized inside their own inline helpers (masked loads):
// a known false positive of the header, not of this file.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>

#include <algorithm>

#include "core/error.h"
#include "core/threadpool.h"
#include "gemm.h"
#include "simd.h"

namespace alm {
namespace {

using simd::hsum;

// Portable kernel: 4 weight rows at a time against every activation row.
void block_portable(int64_t M, int64_t n0, int64_t n1, int64_t K, const float* x, int64_t ldx, const float* W, int64_t ldw,
                    float* y, int64_t ldy) {
  for (int64_t n = n0; n < n1; ++n) {
    const float* w = W + n * ldw;
    for (int64_t m = 0; m < M; ++m) {
      const float* xm = x + m * ldx;
      float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      int64_t k = 0;
      for (; k + 4 <= K; k += 4) {
        s0 += xm[k] * w[k];
        s1 += xm[k + 1] * w[k + 1];
        s2 += xm[k + 2] * w[k + 2];
        s3 += xm[k + 3] * w[k + 3];
      }
      for (; k < K; ++k) s0 += xm[k] * w[k];
      y[m * ldy + n] = (s0 + s1) + (s2 + s3);
    }
  }
}

// AVX2 kernel: a 4 × 4 tile of (weight row, activation row) dot products, 8 lanes per step.
__attribute__((target("avx2,fma"))) void block_avx2(int64_t M, int64_t n0, int64_t n1, int64_t K, const float* x,
                                                    int64_t ldx, const float* W, int64_t ldw, float* y, int64_t ldy) {
  const int64_t K8 = K & ~int64_t(7);
  int64_t n = n0;
  for (; n + 4 <= n1; n += 4) {
    const float* w0 = W + n * ldw;
    const float* w1 = w0 + ldw;
    const float* w2 = w1 + ldw;
    const float* w3 = w2 + ldw;
    int64_t m = 0;
    for (; m + 4 <= M; m += 4) {
      const float* x0 = x + m * ldx;
      const float* x1 = x0 + ldx;
      const float* x2 = x1 + ldx;
      const float* x3 = x2 + ldx;
      __m256 a00 = _mm256_setzero_ps(), a01 = a00, a02 = a00, a03 = a00, a10 = a00, a11 = a00, a12 = a00, a13 = a00;
      __m256 a20 = a00, a21 = a00, a22 = a00, a23 = a00, a30 = a00, a31 = a00, a32 = a00, a33 = a00;
      for (int64_t k = 0; k < K8; k += 8) {
        __m256 v0 = _mm256_loadu_ps(w0 + k), v1 = _mm256_loadu_ps(w1 + k), v2 = _mm256_loadu_ps(w2 + k), v3 = _mm256_loadu_ps(w3 + k);
        __m256 u = _mm256_loadu_ps(x0 + k);
        a00 = _mm256_fmadd_ps(u, v0, a00); a01 = _mm256_fmadd_ps(u, v1, a01); a02 = _mm256_fmadd_ps(u, v2, a02); a03 = _mm256_fmadd_ps(u, v3, a03);
        u = _mm256_loadu_ps(x1 + k);
        a10 = _mm256_fmadd_ps(u, v0, a10); a11 = _mm256_fmadd_ps(u, v1, a11); a12 = _mm256_fmadd_ps(u, v2, a12); a13 = _mm256_fmadd_ps(u, v3, a13);
        u = _mm256_loadu_ps(x2 + k);
        a20 = _mm256_fmadd_ps(u, v0, a20); a21 = _mm256_fmadd_ps(u, v1, a21); a22 = _mm256_fmadd_ps(u, v2, a22); a23 = _mm256_fmadd_ps(u, v3, a23);
        u = _mm256_loadu_ps(x3 + k);
        a30 = _mm256_fmadd_ps(u, v0, a30); a31 = _mm256_fmadd_ps(u, v1, a31); a32 = _mm256_fmadd_ps(u, v2, a32); a33 = _mm256_fmadd_ps(u, v3, a33);
      }
      float r[4][4] = {{hsum(a00), hsum(a01), hsum(a02), hsum(a03)}, {hsum(a10), hsum(a11), hsum(a12), hsum(a13)},
                       {hsum(a20), hsum(a21), hsum(a22), hsum(a23)}, {hsum(a30), hsum(a31), hsum(a32), hsum(a33)}};
      for (int64_t k = K8; k < K; ++k)
        for (int i = 0; i < 4; ++i) {
          float xv = x[(m + i) * ldx + k];
          r[i][0] += xv * w0[k]; r[i][1] += xv * w1[k]; r[i][2] += xv * w2[k]; r[i][3] += xv * w3[k];
        }
      for (int i = 0; i < 4; ++i)
        for (int j = 0; j < 4; ++j) y[(m + i) * ldy + n + j] = r[i][j];
    }
    for (; m < M; ++m) {  // leftover activation rows
      const float* xm = x + m * ldx;
      __m256 b0 = _mm256_setzero_ps(), b1 = b0, b2 = b0, b3 = b0;
      for (int64_t k = 0; k < K8; k += 8) {
        __m256 u = _mm256_loadu_ps(xm + k);
        b0 = _mm256_fmadd_ps(u, _mm256_loadu_ps(w0 + k), b0);
        b1 = _mm256_fmadd_ps(u, _mm256_loadu_ps(w1 + k), b1);
        b2 = _mm256_fmadd_ps(u, _mm256_loadu_ps(w2 + k), b2);
        b3 = _mm256_fmadd_ps(u, _mm256_loadu_ps(w3 + k), b3);
      }
      float r0 = hsum(b0), r1 = hsum(b1), r2 = hsum(b2), r3 = hsum(b3);
      for (int64_t k = K8; k < K; ++k) { r0 += xm[k] * w0[k]; r1 += xm[k] * w1[k]; r2 += xm[k] * w2[k]; r3 += xm[k] * w3[k]; }
      y[m * ldy + n] = r0; y[m * ldy + n + 1] = r1; y[m * ldy + n + 2] = r2; y[m * ldy + n + 3] = r3;
    }
  }
  if (n < n1) block_portable(M, n, n1, K, x, ldx, W, ldw, y, ldy);
}

__attribute__((target("avx512f,avx512dq,avx512vl,fma"))) inline float hsum512(__m512 v) {
  __m256 s = _mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1));
  __m128 q = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
  q = _mm_add_ps(q, _mm_movehl_ps(q, q));
  q = _mm_add_ss(q, _mm_shuffle_ps(q, q, 1));
  return _mm_cvtss_f32(q);
}

// AVX-512 tile: 4 weight rows × R activation rows (R ≤ 6: 24 accumulators + 5 operands fit the
// 32 zmm registers), 16 lanes per step, masked loads for the K tail.
template <int R>
__attribute__((target("avx512f,avx512dq,avx512vl,fma"))) inline void tile_avx512(int64_t K, const float* x, int64_t ldx,
                                                                             const float* w, int64_t ldw, float* y,
                                                                             int64_t ldy) {
  __m512 acc[R][4];
#pragma GCC unroll 6
  for (int i = 0; i < R; ++i)
#pragma GCC unroll 4
    for (int j = 0; j < 4; ++j) acc[i][j] = _mm512_setzero_ps();
  for (int64_t k = 0; k < K; k += 16) {
    const __mmask16 mask = K - k >= 16 ? __mmask16(0xffff) : __mmask16((1u << (K - k)) - 1);
    __m512 v0 = _mm512_maskz_loadu_ps(mask, w + k), v1 = _mm512_maskz_loadu_ps(mask, w + ldw + k);
    __m512 v2 = _mm512_maskz_loadu_ps(mask, w + 2 * ldw + k), v3 = _mm512_maskz_loadu_ps(mask, w + 3 * ldw + k);
#pragma GCC unroll 6
    for (int i = 0; i < R; ++i) {
      __m512 u = _mm512_maskz_loadu_ps(mask, x + i * ldx + k);
      acc[i][0] = _mm512_fmadd_ps(u, v0, acc[i][0]);
      acc[i][1] = _mm512_fmadd_ps(u, v1, acc[i][1]);
      acc[i][2] = _mm512_fmadd_ps(u, v2, acc[i][2]);
      acc[i][3] = _mm512_fmadd_ps(u, v3, acc[i][3]);
    }
  }
#pragma GCC unroll 6
  for (int i = 0; i < R; ++i)
#pragma GCC unroll 4
    for (int j = 0; j < 4; ++j) y[i * ldy + j] = hsum512(acc[i][j]);
}

__attribute__((target("avx512f,avx512dq,avx512vl,fma"))) void block_avx512(int64_t M, int64_t n0, int64_t n1, int64_t K,
                                                                        const float* x, int64_t ldx, const float* W,
                                                                        int64_t ldw, float* y, int64_t ldy) {
  int64_t n = n0;
  for (; n + 4 <= n1; n += 4) {
    const float* w = W + n * ldw;
    int64_t m = 0;
    for (; m + 6 <= M; m += 6) tile_avx512<6>(K, x + m * ldx, ldx, w, ldw, y + m * ldy + n, ldy);
    switch (M - m) {
      case 5: tile_avx512<5>(K, x + m * ldx, ldx, w, ldw, y + m * ldy + n, ldy); break;
      case 4: tile_avx512<4>(K, x + m * ldx, ldx, w, ldw, y + m * ldy + n, ldy); break;
      case 3: tile_avx512<3>(K, x + m * ldx, ldx, w, ldw, y + m * ldy + n, ldy); break;
      case 2: tile_avx512<2>(K, x + m * ldx, ldx, w, ldw, y + m * ldy + n, ldy); break;
      case 1: tile_avx512<1>(K, x + m * ldx, ldx, w, ldw, y + m * ldy + n, ldy); break;
      default: break;
    }
  }
  if (n < n1) block_portable(M, n, n1, K, x, ldx, W, ldw, y, ldy);
}

}  // namespace

bool gemv_preferred(int64_t M) { return M <= (simd_avx512_active() ? kGemvMaxRows : 16); }

void gemv_rows(int64_t M, int64_t N, int64_t K, const float* x, int64_t ldx, const float* W, int64_t ldw, float* y,
               int64_t ldy) {
  ALM_CHECK_ARG(M >= 0 && M <= kGemvMaxRows && N >= 0 && K >= 0, "gemv_rows: bad sizes M=", M, " N=", N, " K=", K);
  ALM_CHECK_ARG(ldx >= K && ldw >= K && ldy >= N, "gemv_rows: leading dimensions too small");
  if (M == 0 || N == 0) return;
  const bool avx512 = simd_avx512_active();
  const bool avx2 = simd_avx2_active();
  // Blocks of 16 weight rows: enough tasks for the pool, each a contiguous stretch of W.
  const int64_t blocks = (N + 15) / 16;
  const int64_t grain = std::max<int64_t>(1, (int64_t(1) << 16) / std::max<int64_t>(1, M * K));
  parallel_for(blocks, grain, [&](int64_t b0, int64_t b1) {
    int64_t n0 = b0 * 16, n1 = std::min(N, b1 * 16);
    if (avx512) block_avx512(M, n0, n1, K, x, ldx, W, ldw, y, ldy);
    else if (avx2) block_avx2(M, n0, n1, K, x, ldx, W, ldw, y, ldy);
    else block_portable(M, n0, n1, K, x, ldx, W, ldw, y, ldy);
  });
}

void gemv_rows_ref(int64_t M, int64_t N, int64_t K, const float* x, int64_t ldx, const float* W, int64_t ldw, float* y,
                   int64_t ldy) {
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n) {
      double s = 0;
      for (int64_t k = 0; k < K; ++k) s += double(x[m * ldx + k]) * double(W[n * ldw + k]);
      y[m * ldy + n] = float(s);
    }
}

}  // namespace alm
