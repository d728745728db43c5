// LayerNorm, RMSNorm and softmax over rows. A row is short (a model width, a vocabulary), so a
// row is the unit of work: two or three passes over it stay in L1, and the thread pool splits
// the rows. The AVX2 passes keep four independent 8-lane accumulators so that the adds are not
// serialised on one register's latency; the portable passes accumulate in double, which costs
// little and keeps them as accurate as the references.
#include "cpu/norm.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/error.h"
#include "core/threadpool.h"
#include "cpu/gemm.h"

#include "cpu/simd.h"

namespace alm {
namespace {

#ifdef ALM_X86_SIMD
using simd::exp_avx2_clamped;
using simd::hsum;
using simd::hmax;
#endif

// Rows per chunk so that a chunk holds at least this many values: short rows (one decode step)
// stay on the calling thread, where waking the pool would cost more than the work.
constexpr int64_t kGrainValues = 16384;

int64_t row_grain(int64_t dim) { return std::max<int64_t>(1, kGrainValues / std::max<int64_t>(dim, 1)); }

void check_rows(const char* name, const void* x, int64_t rows, int64_t dim, const void* y) {
  ALM_CHECK_ARG(rows >= 0, name, ": negative row count ", rows);
  ALM_CHECK_ARG(dim > 0, name, ": row length must be positive, got ", dim);
  ALM_CHECK_ARG(rows == 0 || (x != nullptr && y != nullptr), name, ": null data");
}

#ifdef ALM_X86_SIMD
// Lane masks for a tail of r < 8 values: loading 8 entries from lanes + 8 - r gives r all-ones
// lanes followed by zeros.
alignas(32) const int32_t kTailLanes[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};

ALM_AVX2 inline __m256i tail_mask(int64_t r) {
  return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(kTailLanes + 8 - r));
}

// One accumulation step of sum_avx2: (v - c) or (v - c)^2 added to acc.
template <bool kSquare>
ALM_AVX2 inline __m256 accumulate(__m256 v, __m256 c, __m256 acc) {
  v = _mm256_sub_ps(v, c);
  return kSquare ? _mm256_fmadd_ps(v, v, acc) : _mm256_add_ps(v, acc);
}

// Sum of x[i] - shift (of squares when kSquare) with four accumulators; the tail goes through a
// masked load.
template <bool kSquare>
ALM_AVX2 inline float sum_avx2(const float* x, int64_t n, float shift) {
  const __m256 c = _mm256_set1_ps(shift);
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    a0 = accumulate<kSquare>(_mm256_loadu_ps(x + i), c, a0);
    a1 = accumulate<kSquare>(_mm256_loadu_ps(x + i + 8), c, a1);
    a2 = accumulate<kSquare>(_mm256_loadu_ps(x + i + 16), c, a2);
    a3 = accumulate<kSquare>(_mm256_loadu_ps(x + i + 24), c, a3);
  }
  for (; i + 8 <= n; i += 8) a0 = accumulate<kSquare>(_mm256_loadu_ps(x + i), c, a0);
  if (i < n) {
    const __m256i m = tail_mask(n - i);
    // Masked-off lanes load 0, and 0 - shift would count: zero them again after the subtraction.
    const __m256 v = _mm256_and_ps(_mm256_sub_ps(_mm256_maskload_ps(x + i, m), c), _mm256_castsi256_ps(m));
    a1 = kSquare ? _mm256_fmadd_ps(v, v, a1) : _mm256_add_ps(v, a1);
  }
  return hsum(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
}

// y = (x - shift) * scale * w (+ b).
ALM_AVX2 void affine_avx2(const float* x, int64_t n, float shift, float scale, const float* w, const float* b,
                          float* y) {
  const __m256 c = _mm256_set1_ps(shift), s = _mm256_set1_ps(scale);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 v = _mm256_mul_ps(_mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i), c), s), _mm256_loadu_ps(w + i));
    if (b) v = _mm256_add_ps(v, _mm256_loadu_ps(b + i));
    _mm256_storeu_ps(y + i, v);
  }
  for (; i < n; ++i) y[i] = b ? (x[i] - shift) * scale * w[i] + b[i] : (x[i] - shift) * scale * w[i];
}

// Two passes (mean, then the centred sum of squares) rather than E[x^2] - E[x]^2, which cancels
// catastrophically when the mean is large against the spread.
ALM_AVX2 void layer_norm_row_avx2(const float* x, int64_t n, const float* w, const float* b, float eps, float* y) {
  const float mean = sum_avx2<false>(x, n, 0.f) / float(n);
  const float var = sum_avx2<true>(x, n, mean) / float(n);
  affine_avx2(x, n, mean, 1.f / std::sqrt(var + eps), w, b, y);
}

ALM_AVX2 void rms_norm_row_avx2(const float* x, int64_t n, const float* w, float eps, float* y) {
  const float ms = sum_avx2<true>(x, n, 0.f) / float(n);
  affine_avx2(x, n, 0.f, 1.f / std::sqrt(ms + eps), w, nullptr, y);
}

ALM_AVX2 void softmax_row_avx2(float* x, int64_t n) {
  const __m256 ninf = _mm256_set1_ps(-std::numeric_limits<float>::infinity());
  __m256 mv = ninf;
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) mv = _mm256_max_ps(mv, _mm256_loadu_ps(x + i));
  const int64_t tail = n - i;
  const __m256i tm = tail_mask(tail > 0 ? tail : 8);
  if (tail > 0) mv = _mm256_max_ps(mv, _mm256_blendv_ps(ninf, _mm256_maskload_ps(x + i, tm), _mm256_castsi256_ps(tm)));
  const float mx = hmax(mv);
  if (mx == -std::numeric_limits<float>::infinity()) {
    std::fill(x, x + n, 0.f);
    return;
  }
  const __m256 m = _mm256_set1_ps(mx);
  __m256 s0 = _mm256_setzero_ps(), s1 = s0;
  for (i = 0; i + 16 <= n; i += 16) {
    const __m256 e0 = exp_avx2_clamped(_mm256_sub_ps(_mm256_loadu_ps(x + i), m));
    const __m256 e1 = exp_avx2_clamped(_mm256_sub_ps(_mm256_loadu_ps(x + i + 8), m));
    _mm256_storeu_ps(x + i, e0);
    _mm256_storeu_ps(x + i + 8, e1);
    s0 = _mm256_add_ps(s0, e0);
    s1 = _mm256_add_ps(s1, e1);
  }
  for (; i + 8 <= n; i += 8) {
    const __m256 e = exp_avx2_clamped(_mm256_sub_ps(_mm256_loadu_ps(x + i), m));
    _mm256_storeu_ps(x + i, e);
    s0 = _mm256_add_ps(s0, e);
  }
  if (tail > 0) {
    const __m256 e = _mm256_and_ps(exp_avx2_clamped(_mm256_sub_ps(_mm256_maskload_ps(x + i, tm), m)), _mm256_castsi256_ps(tm));
    _mm256_maskstore_ps(x + i, tm, e);
    s1 = _mm256_add_ps(s1, e);
  }
  const __m256 inv = _mm256_set1_ps(1.f / hsum(_mm256_add_ps(s0, s1)));
  for (i = 0; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), inv));
  if (tail > 0) _mm256_maskstore_ps(x + i, tm, _mm256_mul_ps(_mm256_maskload_ps(x + i, tm), inv));
}
#endif

void layer_norm_row_portable(const float* x, int64_t n, const float* w, const float* b, float eps, float* y) {
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += x[i];
  const float mean = float(s / double(n));
  double q = 0;
  for (int64_t i = 0; i < n; ++i) q += double(x[i] - mean) * double(x[i] - mean);
  const float rstd = float(1.0 / std::sqrt(q / double(n) + double(eps)));
  for (int64_t i = 0; i < n; ++i) y[i] = (x[i] - mean) * rstd * w[i] + (b ? b[i] : 0.f);
}

void rms_norm_row_portable(const float* x, int64_t n, const float* w, float eps, float* y) {
  double q = 0;
  for (int64_t i = 0; i < n; ++i) q += double(x[i]) * double(x[i]);
  const float r = float(1.0 / std::sqrt(q / double(n) + double(eps)));
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] * r * w[i];
}

void softmax_row_portable(float* x, int64_t n) {
  const float mx = *std::max_element(x, x + n);
  if (mx == -std::numeric_limits<float>::infinity()) {
    std::fill(x, x + n, 0.f);
    return;
  }
  double s = 0;
  for (int64_t i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - mx);
    s += x[i];
  }
  const float inv = float(1.0 / s);
  for (int64_t i = 0; i < n; ++i) x[i] *= inv;
}

}  // namespace

void layer_norm(const float* x, int64_t rows, int64_t dim, const float* weight, const float* bias, float eps,
                float* y) {
  check_rows("layer_norm", x, rows, dim, y);
  ALM_CHECK_ARG(rows == 0 || weight != nullptr, "layer_norm: null weight");
  const bool avx2 = simd_avx2_active();
  parallel_for(rows, row_grain(dim), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
#ifdef ALM_X86_SIMD
      if (avx2) {
        layer_norm_row_avx2(x + r * dim, dim, weight, bias, eps, y + r * dim);
        continue;
      }
#endif
      layer_norm_row_portable(x + r * dim, dim, weight, bias, eps, y + r * dim);
    }
  });
  (void)avx2;
}

void rms_norm(const float* x, int64_t rows, int64_t dim, const float* weight, float eps, float* y) {
  check_rows("rms_norm", x, rows, dim, y);
  ALM_CHECK_ARG(rows == 0 || weight != nullptr, "rms_norm: null weight");
  const bool avx2 = simd_avx2_active();
  parallel_for(rows, row_grain(dim), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
#ifdef ALM_X86_SIMD
      if (avx2) {
        rms_norm_row_avx2(x + r * dim, dim, weight, eps, y + r * dim);
        continue;
      }
#endif
      rms_norm_row_portable(x + r * dim, dim, weight, eps, y + r * dim);
    }
  });
  (void)avx2;
}

void softmax_rows(float* x, int64_t rows, int64_t n) {
  check_rows("softmax_rows", x, rows, n, x);
  const bool avx2 = simd_avx2_active();
  parallel_for(rows, row_grain(n), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
#ifdef ALM_X86_SIMD
      if (avx2) {
        softmax_row_avx2(x + r * n, n);
        continue;
      }
#endif
      softmax_row_portable(x + r * n, n);
    }
  });
  (void)avx2;
}

void layer_norm_ref(const float* x, int64_t rows, int64_t dim, const float* weight, const float* bias, float eps,
                    float* y) {
  check_rows("layer_norm_ref", x, rows, dim, y);
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * dim;
    double mean = 0, var = 0;
    for (int64_t i = 0; i < dim; ++i) mean += xr[i];
    mean /= double(dim);
    for (int64_t i = 0; i < dim; ++i) var += (xr[i] - mean) * (xr[i] - mean);
    const double rstd = 1.0 / std::sqrt(var / double(dim) + double(eps));
    for (int64_t i = 0; i < dim; ++i)
      y[r * dim + i] = float((xr[i] - mean) * rstd * weight[i] + (bias ? double(bias[i]) : 0.0));
  }
}

void rms_norm_ref(const float* x, int64_t rows, int64_t dim, const float* weight, float eps, float* y) {
  check_rows("rms_norm_ref", x, rows, dim, y);
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * dim;
    double ms = 0;
    for (int64_t i = 0; i < dim; ++i) ms += double(xr[i]) * xr[i];
    const double rr = 1.0 / std::sqrt(ms / double(dim) + double(eps));
    for (int64_t i = 0; i < dim; ++i) y[r * dim + i] = float(xr[i] * rr * weight[i]);
  }
}

void softmax_rows_ref(float* x, int64_t rows, int64_t n) {
  check_rows("softmax_rows_ref", x, rows, n, x);
  for (int64_t r = 0; r < rows; ++r) {
    float* xr = x + r * n;
    double mx = -std::numeric_limits<double>::infinity();
    for (int64_t i = 0; i < n; ++i) mx = std::max(mx, double(xr[i]));
    if (mx == -std::numeric_limits<double>::infinity()) {
      std::fill(xr, xr + n, 0.f);
      continue;
    }
    double s = 0;
    for (int64_t i = 0; i < n; ++i) s += std::exp(xr[i] - mx);
    for (int64_t i = 0; i < n; ++i) xr[i] = float(std::exp(xr[i] - mx) / s);
  }
}

}  // namespace alm

// GroupNorm. The statistics of a group (C / groups channels x T steps, contiguous) come first,
// threaded over groups; the normalisation then runs threaded over channels, so that y may alias
// x and a model with few groups still spreads the larger pass. Sums run in float blocks of
// kGroupBlock values (AVX2 where present) gathered in double: a channel of a long recording has
// hundreds of thousands of steps, more than one float accumulator should carry.
#include <vector>

namespace alm {
namespace {

constexpr int64_t kGroupBlock = 4096;

// Sum of x[i] - shift (of squares when kSquare) over n values, in double across blocks.
template <bool kSquare>
double group_sum(const float* x, int64_t n, float shift, bool avx2) {
  double total = 0;
  for (int64_t i = 0; i < n; i += kGroupBlock) {
    const int64_t m = std::min(kGroupBlock, n - i);
#ifdef ALM_X86_SIMD
    if (avx2) {
      total += sum_avx2<kSquare>(x + i, m, shift);
      continue;
    }
#endif
    double s = 0;
    for (int64_t j = 0; j < m; ++j) {
      const double d = double(x[i + j]) - double(shift);
      s += kSquare ? d * d : d;
    }
    total += s;
  }
  (void)avx2;
  return total;
}

#ifdef ALM_X86_SIMD
// y = (x - shift) * scale + offset.
ALM_AVX2 void scale_shift_avx2(const float* x, int64_t n, float shift, float scale, float offset, float* y) {
  const __m256 c = _mm256_set1_ps(shift), s = _mm256_set1_ps(scale), o = _mm256_set1_ps(offset);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, _mm256_fmadd_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i), c), s, o));
  for (; i < n; ++i) y[i] = (x[i] - shift) * scale + offset;
}
#endif

void check_groups(const char* name, const float* x, int64_t channels, int64_t T, int64_t groups, const float* y) {
  ALM_CHECK_ARG(channels >= 1 && T >= 1, name, ": channels and steps must be >= 1, got [", channels, ", ", T, "]");
  ALM_CHECK_ARG(groups >= 1 && channels % groups == 0, name, ": groups = ", groups, " does not divide ", channels,
                " channels");
  ALM_CHECK_ARG(x != nullptr && y != nullptr, name, ": null data");
}

}  // namespace

void group_norm(const float* x, int64_t channels, int64_t T, int64_t groups, const float* weight, const float* bias,
                float eps, float* y) {
  check_groups("group_norm", x, channels, T, groups, y);
  const bool avx2 = simd_avx2_active();
  const int64_t cg = channels / groups, n = cg * T;
  std::vector<float> mean(static_cast<size_t>(groups)), rstd(static_cast<size_t>(groups));
  parallel_for(groups, std::max<int64_t>(1, kGrainValues / n), [&](int64_t g0, int64_t g1) {
    for (int64_t g = g0; g < g1; ++g) {
      const float* xg = x + g * n;
      const float m = float(group_sum<false>(xg, n, 0.f, avx2) / double(n));
      const double var = group_sum<true>(xg, n, m, avx2) / double(n);
      mean[size_t(g)] = m;
      rstd[size_t(g)] = float(1.0 / std::sqrt(var + double(eps)));
    }
  });
  parallel_for(channels, std::max<int64_t>(1, kGrainValues / T), [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      const int64_t g = c / cg;
      const float m = mean[size_t(g)], s = rstd[size_t(g)] * (weight ? weight[c] : 1.f), o = bias ? bias[c] : 0.f;
      const float* xc = x + c * T;
      float* yc = y + c * T;
#ifdef ALM_X86_SIMD
      if (avx2) {
        scale_shift_avx2(xc, T, m, s, o, yc);
        continue;
      }
#endif
      for (int64_t t = 0; t < T; ++t) yc[t] = (xc[t] - m) * s + o;
    }
  });
}

void group_norm_ref(const float* x, int64_t channels, int64_t T, int64_t groups, const float* weight,
                    const float* bias, float eps, float* y) {
  check_groups("group_norm_ref", x, channels, T, groups, y);
  const int64_t cg = channels / groups, n = cg * T;
  for (int64_t g = 0; g < groups; ++g) {
    const float* xg = x + g * n;
    double mean = 0, var = 0;
    for (int64_t i = 0; i < n; ++i) mean += xg[i];
    mean /= double(n);
    for (int64_t i = 0; i < n; ++i) var += (xg[i] - mean) * (xg[i] - mean);
    const double rstd = 1.0 / std::sqrt(var / double(n) + double(eps));
    for (int64_t c = g * cg; c < (g + 1) * cg; ++c)
      for (int64_t t = 0; t < T; ++t)
        y[c * T + t] = float((x[c * T + t] - mean) * rstd * (weight ? double(weight[c]) : 1.0) +
                             (bias ? double(bias[c]) : 0.0));
  }
}

}  // namespace alm
