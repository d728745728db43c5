// GEMM's unpacked path for products with a side of at most kSkinny (LSTM steps, decode-time
// projections): packing would cost as much as the product itself. Two forms: when B's rows are
// contiguous, each A element scales long runs of a B row; otherwise rows of A are dotted with B's
// columns. AVX2 kernels for 1-4 rows, portable ones otherwise.
#include <algorithm>
#include <vector>

#include "cpu/gemm.h"
#include "cpu/gemm_internal.h"

namespace alm::gemm_detail {
namespace {

// Columns [j0, j1) of C for rows [r0, r0+R), when B's rows are contiguous (b.cs == 1): each
// A element scales a run of a B row. The runs are long (accumulated in L1) because walking B
// in memory order is what keeps a matrix-vector product at memory speed.
constexpr int64_t kRowRun = 512;

void store_run(const float* acc, int64_t w, float alpha, float beta, float* c, int64_t cs) {
  for (int64_t x = 0; x < w; ++x) store_scaled(c + x * cs, acc[x], alpha, beta);
}

void skinny_rows_portable(int64_t R, int64_t K, float alpha, View a, View b, float beta,
                          OutView c, int64_t r0, int64_t j0, int64_t j1) {
  float acc[kSkinny][kRowRun];
  for (int64_t j = j0; j < j1; j += kRowRun) {
    const int64_t w = std::min(kRowRun, j1 - j);
    for (int64_t r = 0; r < R; ++r) std::fill(acc[r], acc[r] + w, 0.f);
    for (int64_t k = 0; k < K; ++k) {
      const float* brow = b.p + k * b.rs + j;
      for (int64_t r = 0; r < R; ++r) {
        const float av = a.p[(r0 + r) * a.rs + k * a.cs];
        float* ar = acc[r];
        for (int64_t x = 0; x < w; ++x) ar[x] += av * brow[x];
      }
    }
    for (int64_t r = 0; r < R; ++r) store_run(acc[r], w, alpha, beta, c.p + (r0 + r) * c.rs + j * c.cs, c.cs);
  }
}

// The same when B's columns are contiguous (b.rs == 1): dot products of A rows (contiguous in
// `arows`, row stride K) with B columns.
void skinny_dots_portable(int64_t R, int64_t K, float alpha, const float* arows, View b,
                          float beta, OutView c, int64_t r0, int64_t j0, int64_t j1) {
  for (int64_t r = 0; r < R; ++r) {
    const float* ar = arows + (r0 + r) * K;
    for (int64_t j = j0; j < j1; ++j) {
      const float* bc = b.p + j * b.cs;
      float part[8] = {};
      int64_t k = 0;
      for (; k + 8 <= K; k += 8)
        for (int u = 0; u < 8; ++u) part[u] += ar[k + u] * bc[k + u];
      for (; k < K; ++k) part[0] += ar[k] * bc[k];
      float s = ((part[0] + part[4]) + (part[1] + part[5])) + ((part[2] + part[6]) + (part[3] + part[7]));
      store_scaled(c.p + (r0 + r) * c.rs + j * c.cs, s, alpha, beta);
    }
  }
}

#ifdef ALM_X86_SIMD
alignas(32) const int32_t kLaneMask[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
// Mask enabling the first n (0..8) lanes.
ALM_AVX2 inline __m256i lane_mask(int64_t n) {
  n = std::max<int64_t>(0, std::min<int64_t>(8, n));
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(kLaneMask + 8 - n));
}

ALM_AVX2 inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// acc[r][0, w) += sum over u < U of A(r0 + r, k + u) * B(k + u, j + x): U rows of B go through
// each accumulator load and store, with the R x U broadcast A values held in registers.
template <int R, int U>
ALM_AVX2 inline void rows_step_avx2(float (*acc)[kRowRun + 8], View a, View b, int64_t r0,
                                    int64_t k, int64_t j, int64_t w) {
  const int64_t full = w / 8 * 8;
  __m256 av[R][U];
  const float* brow[U];
  for (int u = 0; u < U; ++u) {
    brow[u] = b.p + (k + u) * b.rs + j;
    for (int r = 0; r < R; ++r) av[r][u] = _mm256_set1_ps(a.p[(r0 + r) * a.rs + (k + u) * a.cs]);
  }
  for (int64_t x = 0; x < full; x += 8) {
    __m256 bv[U];
    for (int u = 0; u < U; ++u) bv[u] = _mm256_loadu_ps(brow[u] + x);
    for (int r = 0; r < R; ++r) {
      __m256 s = _mm256_load_ps(acc[r] + x);
      for (int u = 0; u < U; ++u) s = _mm256_fmadd_ps(av[r][u], bv[u], s);
      _mm256_store_ps(acc[r] + x, s);
    }
  }
  if (full < w) {
    const __m256i tail = lane_mask(w - full);
    __m256 bv[U];
    for (int u = 0; u < U; ++u) bv[u] = _mm256_maskload_ps(brow[u] + full, tail);
    for (int r = 0; r < R; ++r) {
      __m256 s = _mm256_load_ps(acc[r] + full);
      for (int u = 0; u < U; ++u) s = _mm256_fmadd_ps(av[r][u], bv[u], s);
      _mm256_store_ps(acc[r] + full, s);
    }
  }
}

template <int R>
ALM_AVX2 void skinny_rows_avx2(float alpha, int64_t K, View a, View b, float beta, OutView c,
                               int64_t r0, int64_t j0, int64_t j1) {
  constexpr int U = R <= 2 ? 4 : 2;
  alignas(32) float acc[R][kRowRun + 8];
  for (int64_t j = j0; j < j1; j += kRowRun) {
    const int64_t w = std::min(kRowRun, j1 - j), full = w / 8 * 8;
    for (int r = 0; r < R; ++r) std::fill(acc[r], acc[r] + full + 8, 0.f);
    int64_t k = 0;
    for (; k + U <= K; k += U) rows_step_avx2<R, U>(acc, a, b, r0, k, j, w);
    for (; k < K; ++k) rows_step_avx2<R, 1>(acc, a, b, r0, k, j, w);
    const __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
    for (int r = 0; r < R; ++r) {
      float* crow = c.p + (r0 + r) * c.rs + j * c.cs;
      if (c.cs != 1) {
        store_run(acc[r], w, alpha, beta, crow, c.cs);
        continue;
      }
      for (int64_t x = 0; x < full; x += 8) {
        __m256 v = _mm256_mul_ps(va, _mm256_load_ps(acc[r] + x));
        if (beta != 0.f) v = _mm256_fmadd_ps(vb, _mm256_loadu_ps(crow + x), v);
        _mm256_storeu_ps(crow + x, v);
      }
      store_run(acc[r] + full, w - full, alpha, beta, crow + full, 1);
    }
  }
}

// R rows times NJ columns of dot products; NJ shrinks with R to keep the accumulators in registers.
template <int R, int NJ>
ALM_AVX2 void skinny_dots_block_avx2(int64_t K, float alpha, const float* arows, View b, float beta,
                                     OutView c, int64_t r0, int64_t j) {
  __m256 acc[R][NJ];
  for (int r = 0; r < R; ++r)
    for (int q = 0; q < NJ; ++q) acc[r][q] = _mm256_setzero_ps();
  const float* ar = arows + r0 * K;
  const float* bc = b.p + j * b.cs;
  int64_t k = 0;
  for (; k + 8 <= K; k += 8) {
    for (int q = 0; q < NJ; ++q) {
      const __m256 bv = _mm256_loadu_ps(bc + q * b.cs + k);
      for (int r = 0; r < R; ++r) acc[r][q] = _mm256_fmadd_ps(_mm256_loadu_ps(ar + r * K + k), bv, acc[r][q]);
    }
  }
  if (k < K) {
    const __m256i m = lane_mask(K - k);
    for (int q = 0; q < NJ; ++q) {
      const __m256 bv = _mm256_maskload_ps(bc + q * b.cs + k, m);
      for (int r = 0; r < R; ++r)
        acc[r][q] = _mm256_fmadd_ps(_mm256_maskload_ps(ar + r * K + k, m), bv, acc[r][q]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int q = 0; q < NJ; ++q)
      store_scaled(c.p + (r0 + r) * c.rs + (j + q) * c.cs, hsum(acc[r][q]), alpha, beta);
}

template <int R>
ALM_AVX2 void skinny_dots_avx2(int64_t K, float alpha, const float* arows, View b, float beta,
                               OutView c, int64_t r0, int64_t j0, int64_t j1) {
  constexpr int NJ = R == 1 ? 8 : R == 2 ? 4 : 3;
  int64_t j = j0;
  for (; j + NJ <= j1; j += NJ) skinny_dots_block_avx2<R, NJ>(K, alpha, arows, b, beta, c, r0, j);
  for (; j < j1; ++j) skinny_dots_block_avx2<R, 1>(K, alpha, arows, b, beta, c, r0, j);
}

template <int R>
void skinny_dispatch_avx2(bool rows_form, int64_t K, float alpha, View a, const float* arows,
                          View b, float beta, OutView c, int64_t r0, int64_t j0, int64_t j1) {
  if (rows_form) skinny_rows_avx2<R>(alpha, K, a, b, beta, c, r0, j0, j1);
  else skinny_dots_avx2<R>(K, alpha, arows, b, beta, c, r0, j0, j1);
}
#endif

}  // namespace

void gemm_skinny(int64_t M, int64_t N, int64_t K, float alpha, View a, View b, float beta, OutView c,
                 bool may_thread) {
  const bool rows_form = b.cs == 1;
  std::vector<float> packed;
  const float* arows = nullptr;
  if (!rows_form) {
    if (a.cs == 1 && a.rs == K) {
      arows = a.p;
    } else {
      packed.resize(size_t(M * K));
      for (int64_t r = 0; r < M; ++r)
        for (int64_t k = 0; k < K; ++k) packed[size_t(r * K + k)] = a.p[r * a.rs + k * a.cs];
      arows = packed.data();
    }
  }
  const bool avx2 = simd_avx2_active();
  constexpr int64_t kBlock = 16;
  const int64_t blocks = ceil_div(N, kBlock);
  // Enough multiply-adds per chunk to pay for waking the pool.
  const int64_t grain = std::max<int64_t>(1, 65536 / std::max<int64_t>(1, M * K * kBlock));
  maybe_parallel(may_thread, blocks, grain, [&](int64_t bb, int64_t be) {
    const int64_t j0 = bb * kBlock, j1 = std::min(N, be * kBlock);
    for (int64_t r0 = 0; r0 < M; r0 += kSkinny) {
      const int64_t R = std::min(kSkinny, M - r0);
#ifdef ALM_X86_SIMD
      if (avx2) {
        switch (R) {
          case 1: skinny_dispatch_avx2<1>(rows_form, K, alpha, a, arows, b, beta, c, r0, j0, j1); break;
          case 2: skinny_dispatch_avx2<2>(rows_form, K, alpha, a, arows, b, beta, c, r0, j0, j1); break;
          case 3: skinny_dispatch_avx2<3>(rows_form, K, alpha, a, arows, b, beta, c, r0, j0, j1); break;
          default: skinny_dispatch_avx2<4>(rows_form, K, alpha, a, arows, b, beta, c, r0, j0, j1); break;
        }
        continue;
      }
#endif
      (void)avx2;
      if (rows_form) skinny_rows_portable(R, K, alpha, a, b, beta, c, r0, j0, j1);
      else skinny_dots_portable(R, K, alpha, arows, b, beta, c, r0, j0, j1);
    }
  });
}

}  // namespace alm::gemm_detail
