// AVX2 helpers shared by the CPU kernels (internal: include only from native/cpu/*.cpp).
// Every function is compiled for AVX2/FMA on its own, so the files that include this still run on
// CPUs without AVX2 as long as they call these only behind simd_avx2_active().
#pragma once

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define ALM_X86_SIMD 1
#include <immintrin.h>
#define ALM_AVX2 __attribute__((target("avx2,fma")))

namespace alm {
namespace simd {

// Sum of the eight lanes.
ALM_AVX2 inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// Largest of the eight lanes.
ALM_AVX2 inline float hmax(__m256 v) {
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  s = _mm_max_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// Cephes' expf polynomial with 2^n scaling through the exponent bits (about 1 ulp), for
// arguments already inside [-87.3, 88.3]; `lo` (when kWithLo) is a small low part of the
// argument, joined before anything is rounded.
template <bool kWithLo>
ALM_AVX2 inline __m256 exp_core(__m256 x, __m256 lo) {
  const __m256 arg = kWithLo ? _mm256_add_ps(x, lo) : x;
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(arg, _mm256_set1_ps(1.44269504088896341f)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  // x - n*C1 is exact (C1 has few mantissa bits), so lo joins before anything is rounded.
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
  if (kWithLo) r = _mm256_add_ps(r, lo);
  __m256 p = _mm256_set1_ps(1.9875691500e-4f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
  p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.f)));
  const __m256i scale = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(p, _mm256_castsi256_ps(scale));
}

// exp(x + lo) with full edge behaviour: below -87.3 it gives 0 (flushing what would be
// subnormal), above 88.3 +inf, NaN stays NaN. The low part, of a few units at most, lets callers
// pass an argument carried in two floats, which a large argument needs to stay exact.
ALM_AVX2 inline __m256 exp_avx2(__m256 x, __m256 lo = _mm256_setzero_ps()) {
  // Clamping the sum, not x alone: n below -126 would build an infinite scale.
  const __m256 lo_bound = _mm256_set1_ps(-87.3f), hi_bound = _mm256_set1_ps(88.3f);
  const __m256 total = _mm256_add_ps(x, lo);
  const __m256 under = _mm256_cmp_ps(total, lo_bound, _CMP_LT_OQ);
  const __m256 over = _mm256_cmp_ps(total, hi_bound, _CMP_GT_OQ);
  x = _mm256_blendv_ps(_mm256_blendv_ps(x, lo_bound, under), hi_bound, over);
  lo = _mm256_andnot_ps(_mm256_or_ps(under, over), lo);
  const __m256 e = _mm256_andnot_ps(under, exp_core<true>(x, lo));
  return _mm256_blendv_ps(e, _mm256_set1_ps(__builtin_inff()), over);
}

// exp(x) for the softmax inner loops, where x = score - max <= 0: the argument is only clamped,
// so exp(-inf) gives 1.6e-38 instead of 0 — harmless next to the row maximum's 1 — at two
// instructions instead of the edge handling above.
ALM_AVX2 inline __m256 exp_avx2_clamped(__m256 x) {
  x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.3f)), _mm256_set1_ps(88.3f));
  return exp_core<false>(x, x);
}

}  // namespace simd
}  // namespace alm
#endif
