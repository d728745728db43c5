// Activations. Long arrays (an ELU over 24 kHz x 32 channels runs on millions of samples) spend
// most of their time in exp/erf, so the AVX2 path evaluates those with polynomials eight lanes
// at a time; the portable path calls libm in float.
#include "cpu/act.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "core/threadpool.h"
#include "cpu/gemm.h"

#include "cpu/simd.h"

namespace alm {
namespace {

#ifdef ALM_X86_SIMD
using simd::exp_avx2;
#endif

// Small arrays (one LSTM step's gates) stay on the calling thread.
constexpr int64_t kGrain = 32768;

void check_args(const char* name, const float* x, int64_t n) {
  ALM_CHECK_ARG(n >= 0, name, ": negative length ", n);
  ALM_CHECK_ARG(n == 0 || x != nullptr, name, ": null data");
}

template <typename Fn>
void for_chunks(int64_t n, const Fn& fn) {
  parallel_for(n, kGrain, [&](int64_t b, int64_t e) { fn(b, e); });
}

#ifdef ALM_X86_SIMD
// exp(x) - 1 without the cancellation near zero: a Taylor polynomial (degree 9, error below
// 1e-8 relative) for |x| < 0.5, exp(x) - 1 elsewhere where the subtraction loses under 2 ulps.
ALM_AVX2 inline __m256 expm1_avx2(__m256 x) {
  __m256 p = _mm256_set1_ps(1.f / 362880.f);
  p = _mm256_fmadd_ps(p, x, _mm256_set1_ps(1.f / 40320.f));
  p = _mm256_fmadd_ps(p, x, _mm256_set1_ps(1.f / 5040.f));
  p = _mm256_fmadd_ps(p, x, _mm256_set1_ps(1.f / 720.f));
  p = _mm256_fmadd_ps(p, x, _mm256_set1_ps(1.f / 120.f));
  p = _mm256_fmadd_ps(p, x, _mm256_set1_ps(1.f / 24.f));
  p = _mm256_fmadd_ps(p, x, _mm256_set1_ps(1.f / 6.f));
  p = _mm256_fmadd_ps(p, x, _mm256_set1_ps(0.5f));
  const __m256 small = _mm256_fmadd_ps(_mm256_mul_ps(x, x), p, x);
  const __m256 large = _mm256_sub_ps(exp_avx2(x), _mm256_set1_ps(1.f));
  const __m256 abs_x = _mm256_andnot_ps(_mm256_set1_ps(-0.f), x);
  return _mm256_blendv_ps(large, small, _mm256_cmp_ps(abs_x, _mm256_set1_ps(0.5f), _CMP_LT_OQ));
}

ALM_AVX2 inline __m256 sigmoid_avx2(__m256 x) {
  const __m256 one = _mm256_set1_ps(1.f);
  return _mm256_div_ps(one, _mm256_add_ps(one, exp_avx2(_mm256_sub_ps(_mm256_setzero_ps(), x))));
}

// tanh|x| = -t / (2 + t) with t = expm1(-2|x|), sign restored.
ALM_AVX2 inline __m256 tanh_avx2(__m256 x) {
  const __m256 sign = _mm256_and_ps(x, _mm256_set1_ps(-0.f));
  const __m256 abs_x = _mm256_xor_ps(x, sign);
  const __m256 t = expm1_avx2(_mm256_mul_ps(abs_x, _mm256_set1_ps(-2.f)));
  const __m256 r = _mm256_div_ps(_mm256_sub_ps(_mm256_setzero_ps(), t), _mm256_add_ps(t, _mm256_set1_ps(2.f)));
  return _mm256_or_ps(r, sign);
}

// 0.5 x erfc(|x|/sqrt2) through Numerical Recipes' fit erfc(z) = t exp(-z^2 + P(t)), relative
// error about 1.2e-7: relative accuracy in the tail keeps GELU of negative inputs accurate.
// -z^2 = -x^2/2 goes to exp as an exact two-float sum, or its rounding (up to 4e-6 at x = -12)
// would dominate the error.
ALM_AVX2 inline __m256 gelu_tail_avx2(__m256 x) {
  const __m256 one = _mm256_set1_ps(1.f), half = _mm256_set1_ps(0.5f);
  const __m256 z = _mm256_mul_ps(_mm256_andnot_ps(_mm256_set1_ps(-0.f), x), _mm256_set1_ps(0.70710678118654752f));
  const __m256 t = _mm256_div_ps(one, _mm256_fmadd_ps(half, z, one));
  __m256 p = _mm256_set1_ps(0.17087277f);
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-0.82215223f));
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(1.48851587f));
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-1.13520398f));
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(0.27886807f));
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-0.18628806f));
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(0.09678418f));
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(0.37409196f));
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(1.00002368f));
  p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(-1.26551223f));
  const __m256 sq_hi = _mm256_mul_ps(x, x);
  const __m256 sq_lo = _mm256_fmsub_ps(x, x, sq_hi);
  const __m256 e = exp_avx2(_mm256_mul_ps(sq_hi, _mm256_set1_ps(-0.5f)), _mm256_fnmadd_ps(sq_lo, half, p));
  return _mm256_mul_ps(_mm256_mul_ps(half, x), _mm256_mul_ps(t, e));
}

// Applies a vector function to [b, e), the tail through a masked load/store.
template <typename VecFn>
ALM_AVX2 inline void map_avx2(float* x, int64_t b, int64_t e, const VecFn& fn) {
  int64_t i = b;
  for (; i + 8 <= e; i += 8) _mm256_storeu_ps(x + i, fn(_mm256_loadu_ps(x + i)));
  if (i < e) {
    alignas(32) static const int32_t lanes[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
    const __m256i m = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(lanes + 8 - (e - i)));
    _mm256_maskstore_ps(x + i, m, fn(_mm256_maskload_ps(x + i, m)));
  }
}

// Functors rather than lambdas: a lambda's call operator does not inherit the target attribute.
struct EluOp {
  __m256 alpha;
  ALM_AVX2 __m256 operator()(__m256 v) const {
    const __m256 neg = _mm256_mul_ps(alpha, expm1_avx2(_mm256_min_ps(v, _mm256_setzero_ps())));
    return _mm256_blendv_ps(v, neg, _mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_LE_OQ));
  }
};

// x Phi(x) = 0.5 x erfc(-x/sqrt2): for x >= 0 as x - 0.5 x erfc(x/sqrt2), so erfc only sees
// non-negative arguments.
// Beyond |x| = 20 the tail is below 1e-80: evaluating it at the clamped value keeps x*x finite
// for huge or infinite x (max/min with the constant first let NaN through).
struct GeluOp {
  ALM_AVX2 __m256 operator()(__m256 v) const {
    const __m256 clamped = _mm256_min_ps(_mm256_set1_ps(20.f), _mm256_max_ps(_mm256_set1_ps(-20.f), v));
    const __m256 half_tail = gelu_tail_avx2(clamped);
    return _mm256_blendv_ps(_mm256_sub_ps(v, half_tail), half_tail, _mm256_cmp_ps(v, _mm256_setzero_ps(), _CMP_LT_OQ));
  }
};

// 0.5 x (1 + tanh(u)) = x * sigmoid(2u), which has no cancellation for negative x. Below
// x = -20 the result is below 1e-200, so x is clamped there to keep -inf from giving -inf * 0.
struct GeluTanhOp {
  ALM_AVX2 __m256 operator()(__m256 v) const {
    v = _mm256_max_ps(_mm256_set1_ps(-20.f), v);
    const __m256 v3 = _mm256_mul_ps(_mm256_mul_ps(v, v), v);
    const __m256 u2 = _mm256_mul_ps(_mm256_fmadd_ps(_mm256_set1_ps(0.044715f), v3, v), _mm256_set1_ps(1.5957691216057308f));
    return _mm256_mul_ps(v, sigmoid_avx2(u2));
  }
};

struct SigmoidOp {
  ALM_AVX2 __m256 operator()(__m256 v) const { return sigmoid_avx2(v); }
};
struct TanhOp {
  ALM_AVX2 __m256 operator()(__m256 v) const { return tanh_avx2(v); }
};

ALM_AVX2 void elu_avx2(float* x, int64_t b, int64_t e, float alpha) { map_avx2(x, b, e, EluOp{_mm256_set1_ps(alpha)}); }
ALM_AVX2 void gelu_avx2(float* x, int64_t b, int64_t e) { map_avx2(x, b, e, GeluOp{}); }
ALM_AVX2 void gelu_tanh_avx2(float* x, int64_t b, int64_t e) { map_avx2(x, b, e, GeluTanhOp{}); }
ALM_AVX2 void sigmoid_range_avx2(float* x, int64_t b, int64_t e) { map_avx2(x, b, e, SigmoidOp{}); }
ALM_AVX2 void tanh_range_avx2(float* x, int64_t b, int64_t e) { map_avx2(x, b, e, TanhOp{}); }
#endif

inline float gelu_tanh_scalar(float v) {
  v = std::max(v, -20.f);  // as in GeluTanhOp; NaN passes
  const float u2 = 1.5957691216057308f * (v + 0.044715f * v * v * v);
  return v / (1.f + std::exp(-u2));
}

}  // namespace

void elu(float* x, int64_t n, float alpha) {
  check_args("elu", x, n);
  for_chunks(n, [&](int64_t b, int64_t e) {
#ifdef ALM_X86_SIMD
    if (simd_avx2_active()) return elu_avx2(x, b, e, alpha);
#endif
    for (int64_t i = b; i < e; ++i) x[i] = x[i] > 0.f ? x[i] : alpha * std::expm1(x[i]);
  });
}

void gelu(float* x, int64_t n) {
  check_args("gelu", x, n);
  for_chunks(n, [&](int64_t b, int64_t e) {
#ifdef ALM_X86_SIMD
    if (simd_avx2_active()) return gelu_avx2(x, b, e);
#endif
    // In double: a float argument's rounding grows by 2z^2 in erfc's tail (1e-5 at x = -12).
    // Below -40 the result is 0 anyway; the clamp keeps -inf from giving -inf * 0 (NaN passes).
    for (int64_t i = b; i < e; ++i) {
      const double v = std::max<double>(x[i], -40.0);
      x[i] = float(0.5 * v * std::erfc(-v * 0.70710678118654752));
    }
  });
}

void gelu_tanh(float* x, int64_t n) {
  check_args("gelu_tanh", x, n);
  for_chunks(n, [&](int64_t b, int64_t e) {
#ifdef ALM_X86_SIMD
    if (simd_avx2_active()) return gelu_tanh_avx2(x, b, e);
#endif
    for (int64_t i = b; i < e; ++i) x[i] = gelu_tanh_scalar(x[i]);
  });
}

void sigmoid(float* x, int64_t n) {
  check_args("sigmoid", x, n);
  for_chunks(n, [&](int64_t b, int64_t e) {
#ifdef ALM_X86_SIMD
    if (simd_avx2_active()) return sigmoid_range_avx2(x, b, e);
#endif
    for (int64_t i = b; i < e; ++i) x[i] = 1.f / (1.f + std::exp(-x[i]));
  });
}

void tanh_inplace(float* x, int64_t n) {
  check_args("tanh", x, n);
  for_chunks(n, [&](int64_t b, int64_t e) {
#ifdef ALM_X86_SIMD
    if (simd_avx2_active()) return tanh_range_avx2(x, b, e);
#endif
    for (int64_t i = b; i < e; ++i) x[i] = std::tanh(x[i]);
  });
}

void elu_ref(float* x, int64_t n, float alpha) {
  check_args("elu", x, n);
  for (int64_t i = 0; i < n; ++i) {
    const double v = x[i];
    x[i] = float(v > 0 ? v : double(alpha) * std::expm1(v));
  }
}

// 0.5 x (1 + erf(x/sqrt2)) written with erfc, which is the same function without the
// cancellation that makes 1 + erf meaningless for very negative x.
void gelu_ref(float* x, int64_t n) {
  check_args("gelu", x, n);
  for (int64_t i = 0; i < n; ++i) {
    const double v = x[i];
    x[i] = float(0.5 * v * std::erfc(-v / std::sqrt(2.0)));
  }
}

// 0.5 x (1 + tanh u) written as x / (1 + exp(-2u)), the same function without the cancellation
// of 1 + tanh u for very negative x (which makes it exactly 0 below x = -7 even in double).
void gelu_tanh_ref(float* x, int64_t n) {
  check_args("gelu_tanh", x, n);
  const double k = 0.79788456080286536;  // sqrt(2/pi)
  for (int64_t i = 0; i < n; ++i) {
    const double v = x[i];
    x[i] = float(v / (1.0 + std::exp(-2.0 * k * (v + 0.044715 * v * v * v))));
  }
}

void sigmoid_ref(float* x, int64_t n) {
  check_args("sigmoid", x, n);
  for (int64_t i = 0; i < n; ++i) x[i] = float(1.0 / (1.0 + std::exp(-double(x[i]))));
}

void tanh_inplace_ref(float* x, int64_t n) {
  check_args("tanh", x, n);
  for (int64_t i = 0; i < n; ++i) x[i] = float(std::tanh(double(x[i])));
}

}  // namespace alm
