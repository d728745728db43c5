// Attention as an online softmax over blocks of keys (the FlashAttention recurrence): for a block
// of queries, each block of keys gives a small score tile; every query row keeps its running max
// m, normaliser l and unnormalised output, rescaled by exp(m_old - m_new) when the max grows. So
// memory per head is one tile plus a copy of its K and V, never Tq x Tk, and a causal query
// block stops at its last visible key: masked keys cost nothing beyond the diagonal block.
//
// With several query rows (prefill), K is copied into panels of 16 keys laid out [dim][key], so
// the AVX2 score kernel broadcasts one q value against 16 keys per step (4 rows x 16 keys of
// accumulators, no horizontal sums), and V into contiguous rows, so that p.V feeds four rows from
// each load. A single query row (decode) reads K and V where they are: every key is used once,
// so copying would only add traffic; its kernel sums 8 keys at a time along head_dim.
#include "cpu/attention.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "core/error.h"
#include "core/threadpool.h"
#include "cpu/gemm.h"

#include "cpu/simd.h"

namespace alm {
namespace {

#ifdef ALM_X86_SIMD
using simd::exp_avx2_clamped;
using simd::hsum;
#endif

constexpr int64_t kBq = 16;     // queries per block: a 16 x 64 tile and 16 output rows stay in L1
constexpr int64_t kBk = 64;     // keys per block (a multiple of 8: the tile rows are read 8 at a time)
constexpr int64_t kPackRows = 4;  // query rows from which copying K and V to contiguous rows pays
constexpr int64_t kPanel = 16;    // keys per panel of packed K (two 8-lane vectors)
constexpr float kNegInf = -std::numeric_limits<float>::infinity();

struct Problem {
  const AttentionShape& s;
  const float* q;
  int64_t Tq, q_pos0;
  const float* k;
  const float* v;
  int64_t Tk, kv_stride;
  const float* rel_bias;
  int64_t rel_len, rel_offset;
  float* out;
  const SegmentBias* seg = nullptr;
};

void check_problem(const char* name, const Problem& p) {
  const AttentionShape& s = p.s;
  ALM_CHECK_ARG(s.heads > 0 && s.kv_heads > 0 && s.head_dim > 0, name, ": heads (", s.heads, "), kv_heads (",
                s.kv_heads, ") and head_dim (", s.head_dim, ") must be positive");
  ALM_CHECK_ARG(s.heads % s.kv_heads == 0, name, ": heads (", s.heads, ") is not a multiple of kv_heads (",
                s.kv_heads, ")");
  ALM_CHECK_ARG(p.Tq >= 0 && p.Tk >= 0, name, ": negative length (Tq ", p.Tq, ", Tk ", p.Tk, ")");
  ALM_CHECK_ARG(p.q_pos0 >= 0, name, ": negative query position ", p.q_pos0);
  ALM_CHECK_ARG(p.kv_stride >= s.kv_heads * s.head_dim, name, ": kv_stride ", p.kv_stride, " is below kv_heads * head_dim (",
                s.kv_heads * s.head_dim, ")");
  ALM_CHECK_ARG(p.Tq == 0 || (p.q != nullptr && p.out != nullptr), name, ": null q or out");
  ALM_CHECK_ARG(p.Tk == 0 || (p.k != nullptr && p.v != nullptr), name, ": null k or v");
  ALM_CHECK_ARG(!p.seg || (p.seg->key && p.seg->query && p.seg->cross), name, ": incomplete segment bias");
  if (p.rel_bias == nullptr || p.Tq == 0 || p.Tk == 0) return;
  // Offsets j - (q_pos0 + i) over visible pairs: the smallest is key 0 against the last query;
  // the largest is the last key against query 0, capped at 0 (the diagonal) when causal.
  const int64_t lo = -(p.q_pos0 + p.Tq - 1);
  int64_t hi = p.Tk - 1 - p.q_pos0;
  if (s.causal) hi = std::min<int64_t>(hi, 0);
  ALM_CHECK_ARG(p.rel_len > 0 && lo + p.rel_offset >= 0 && hi + p.rel_offset < p.rel_len, name,
                ": relative bias indices ", lo + p.rel_offset, "..", hi + p.rel_offset, " fall outside [0, ", p.rel_len,
                ")");
}

// Per-thread buffers, grown on demand: the tile, the output accumulators, m and l per row, and
// the packed copies of a query block and of the head's visible K and V.
struct Scratch {
  std::vector<float> tile, acc, m, l, qpack, kpack, vpack, segrow;
};
Scratch& scratch_for(int64_t hd) {
  thread_local Scratch s;
  // Zero-filled once: the AVX2 row pass reads whole 8-lane groups of the tile past a short row.
  if (s.tile.size() < size_t(kBq * kBk)) s.tile.assign(size_t(kBq * kBk), 0.f);
  if (s.acc.size() < size_t(kBq * hd)) s.acc.resize(size_t(kBq * hd)), s.qpack.resize(size_t(kBq * hd));
  if (s.m.size() < size_t(kBq)) s.m.resize(size_t(kBq)), s.l.resize(size_t(kBq));
  if (s.segrow.size() < size_t(kBk)) s.segrow.resize(size_t(kBk));
  return s;
}

// Copies n rows of hd floats, `stride` apart, into dst back to back.
const float* pack_rows(const float* src, int64_t stride, int64_t n, int64_t hd, std::vector<float>& dst) {
  if (dst.size() < size_t(n * hd)) dst.resize(size_t(n * hd));
  for (int64_t i = 0; i < n; ++i) std::copy(src + i * stride, src + i * stride + hd, dst.data() + i * hd);
  return dst.data();
}

// Copies keys [0, n) (rows `stride` apart) into panels of kPanel keys, each panel [hd][kPanel]:
// the layout the AVX2 score kernel streams. The last panel is padded with zero keys.
const float* pack_panels(const float* src, int64_t stride, int64_t n, int64_t hd, std::vector<float>& dst) {
  const int64_t panels = (n + kPanel - 1) / kPanel;
  if (dst.size() < size_t(panels * kPanel * hd)) dst.resize(size_t(panels * kPanel * hd));
  for (int64_t pnl = 0; pnl < panels; ++pnl) {
    float* out = dst.data() + pnl * kPanel * hd;
    for (int64_t c = 0; c < kPanel; ++c) {
      const int64_t j = pnl * kPanel + c;
      if (j < n)
        for (int64_t d = 0; d < hd; ++d) out[d * kPanel + c] = src[j * stride + d];
      else
        for (int64_t d = 0; d < hd; ++d) out[d * kPanel + c] = 0.f;
    }
  }
  return dst.data();
}

// ---- portable kernels ----

// tile[r * kBk + c] = scale * q_r . k_c for r < nb, c < nk.
void qk_tile_portable(const float* q, int64_t qs, const float* k, int64_t ks, int64_t nb, int64_t nk, int64_t hd,
                      float scale, float* tile) {
  for (int64_t r = 0; r < nb; ++r)
    for (int64_t c = 0; c < nk; ++c) {
      const float* a = q + r * qs;
      const float* b = k + c * ks;
      float s0 = 0.f, s1 = 0.f, s2 = 0.f, s3 = 0.f;
      int64_t d = 0;
      for (; d + 4 <= hd; d += 4) {
        s0 += a[d] * b[d];
        s1 += a[d + 1] * b[d + 1];
        s2 += a[d + 2] * b[d + 2];
        s3 += a[d + 3] * b[d + 3];
      }
      for (; d < hd; ++d) s0 += a[d] * b[d];
      tile[r * kBk + c] = scale * ((s0 + s1) + (s2 + s3));
    }
}

// One query row against one key block: adds the bias, folds the block into (m, l, acc).
// `row` holds lim scores; bias (when set) is indexed by the key's offset in the block.
void row_update_portable(float* row, int64_t lim, const float* bias, const float* v, int64_t vs, int64_t hd,
                         float& m, float& l, float* acc) {
  float mx = kNegInf;
  for (int64_t j = 0; j < lim; ++j) {
    if (bias) row[j] += bias[j];
    mx = std::max(mx, row[j]);
  }
  const float m_new = std::max(m, mx);
  if (m_new == kNegInf) return;  // nothing visible with a finite score yet
  float sum = 0.f;
  for (int64_t j = 0; j < lim; ++j) {
    row[j] = std::exp(row[j] - m_new);
    sum += row[j];
  }
  const float corr = m == m_new ? 1.f : std::exp(m - m_new);
  l = l * corr + sum;
  m = m_new;
  if (corr != 1.f)
    for (int64_t d = 0; d < hd; ++d) acc[d] *= corr;
  for (int64_t j = 0; j < lim; ++j) {
    const float p = row[j];
    const float* vj = v + j * vs;
    for (int64_t d = 0; d < hd; ++d) acc[d] += p * vj[d];
  }
}

#ifdef ALM_X86_SIMD
alignas(32) const int32_t kTailLanes[16] = {-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};

// [sum(a0), ..., sum(a7)] in one vector: three rounds of hadd and a lane swap.
ALM_AVX2 inline __m256 hsum8(__m256 a0, __m256 a1, __m256 a2, __m256 a3, __m256 a4, __m256 a5, __m256 a6, __m256 a7) {
  const __m256 u0 = _mm256_hadd_ps(_mm256_hadd_ps(a0, a1), _mm256_hadd_ps(a2, a3));
  const __m256 u1 = _mm256_hadd_ps(_mm256_hadd_ps(a4, a5), _mm256_hadd_ps(a6, a7));
  return _mm256_add_ps(_mm256_permute2f128_ps(u0, u1, 0x20), _mm256_permute2f128_ps(u0, u1, 0x31));
}

// The kernels below name their accumulators one by one: with an array of __m256, GCC keeps the
// array in memory and stores every accumulator on every iteration.

// Scores of 1 query row x 8 keys (the decode shape).
ALM_AVX2 inline void qk_1x8(const float* q, const float* k, int64_t ks, int64_t hd8, __m256 scale, float* tile) {
  const float *k0 = k, *k1 = k + ks, *k2 = k + 2 * ks, *k3 = k + 3 * ks, *k4 = k + 4 * ks, *k5 = k + 5 * ks,
              *k6 = k + 6 * ks, *k7 = k + 7 * ks;
  __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
  for (int64_t d = 0; d < hd8; d += 8) {
    const __m256 x = _mm256_loadu_ps(q + d);
    a0 = _mm256_fmadd_ps(x, _mm256_loadu_ps(k0 + d), a0);
    a1 = _mm256_fmadd_ps(x, _mm256_loadu_ps(k1 + d), a1);
    a2 = _mm256_fmadd_ps(x, _mm256_loadu_ps(k2 + d), a2);
    a3 = _mm256_fmadd_ps(x, _mm256_loadu_ps(k3 + d), a3);
    a4 = _mm256_fmadd_ps(x, _mm256_loadu_ps(k4 + d), a4);
    a5 = _mm256_fmadd_ps(x, _mm256_loadu_ps(k5 + d), a5);
    a6 = _mm256_fmadd_ps(x, _mm256_loadu_ps(k6 + d), a6);
    a7 = _mm256_fmadd_ps(x, _mm256_loadu_ps(k7 + d), a7);
  }
  _mm256_storeu_ps(tile, _mm256_mul_ps(hsum8(a0, a1, a2, a3, a4, a5, a6, a7), scale));
}

// Scores of the few query rows of a decode step, straight from the strided K rows.
ALM_AVX2 void qk_tile_avx2(const float* q, int64_t qs, const float* k, int64_t ks, int64_t nb, int64_t nk,
                           int64_t hd, float scale, float* tile) {
  const int64_t hd8 = hd & ~int64_t(7);
  const __m256 sv = _mm256_set1_ps(scale);
  for (int64_t r = 0; r < nb; ++r) {
    const float* qr = q + r * qs;
    float* out = tile + r * kBk;
    int64_t c = 0;
    for (; c + 8 <= nk; c += 8) qk_1x8(qr, k + c * ks, ks, hd8, sv, out + c);
    for (; c < nk; ++c) {
      __m256 a = _mm256_setzero_ps();
      for (int64_t d = 0; d < hd8; d += 8) a = _mm256_fmadd_ps(_mm256_loadu_ps(qr + d), _mm256_loadu_ps(k + c * ks + d), a);
      out[c] = hsum(a) * scale;
    }
    // head_dim not a multiple of 8: the last few dims, scalar.
    for (c = 0; hd8 < hd && c < nk; ++c) {
      float sum = 0.f;
      for (int64_t d = hd8; d < hd; ++d) sum += qr[d] * k[c * ks + d];
      out[c] += scale * sum;
    }
  }
}

// Scores from packed K panels: 4 query rows x 16 keys per step, q broadcast one dim at a time,
// so the sums land in lanes of their own key and need no horizontal reduction.
ALM_AVX2 inline void qk_panel_4x16(const float* q, int64_t qs, const float* panel, int64_t hd, __m256 scale,
                                   float* tile) {
  const float *q0 = q, *q1 = q + qs, *q2 = q + 2 * qs, *q3 = q + 3 * qs;
  __m256 a00 = _mm256_setzero_ps(), a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00, a30 = a00, a31 = a00;
  for (int64_t d = 0; d < hd; ++d) {
    const __m256 b0 = _mm256_loadu_ps(panel + d * kPanel), b1 = _mm256_loadu_ps(panel + d * kPanel + 8);
    __m256 x = _mm256_broadcast_ss(q0 + d);
    a00 = _mm256_fmadd_ps(x, b0, a00);
    a01 = _mm256_fmadd_ps(x, b1, a01);
    x = _mm256_broadcast_ss(q1 + d);
    a10 = _mm256_fmadd_ps(x, b0, a10);
    a11 = _mm256_fmadd_ps(x, b1, a11);
    x = _mm256_broadcast_ss(q2 + d);
    a20 = _mm256_fmadd_ps(x, b0, a20);
    a21 = _mm256_fmadd_ps(x, b1, a21);
    x = _mm256_broadcast_ss(q3 + d);
    a30 = _mm256_fmadd_ps(x, b0, a30);
    a31 = _mm256_fmadd_ps(x, b1, a31);
  }
  _mm256_storeu_ps(tile, _mm256_mul_ps(a00, scale));
  _mm256_storeu_ps(tile + 8, _mm256_mul_ps(a01, scale));
  _mm256_storeu_ps(tile + kBk, _mm256_mul_ps(a10, scale));
  _mm256_storeu_ps(tile + kBk + 8, _mm256_mul_ps(a11, scale));
  _mm256_storeu_ps(tile + 2 * kBk, _mm256_mul_ps(a20, scale));
  _mm256_storeu_ps(tile + 2 * kBk + 8, _mm256_mul_ps(a21, scale));
  _mm256_storeu_ps(tile + 3 * kBk, _mm256_mul_ps(a30, scale));
  _mm256_storeu_ps(tile + 3 * kBk + 8, _mm256_mul_ps(a31, scale));
}

// The rows of a query block past a multiple of 4.
ALM_AVX2 inline void qk_panel_1x16(const float* q, const float* panel, int64_t hd, __m256 scale, float* tile) {
  __m256 a0 = _mm256_setzero_ps(), a1 = a0;
  for (int64_t d = 0; d < hd; ++d) {
    const __m256 x = _mm256_broadcast_ss(q + d);
    a0 = _mm256_fmadd_ps(x, _mm256_loadu_ps(panel + d * kPanel), a0);
    a1 = _mm256_fmadd_ps(x, _mm256_loadu_ps(panel + d * kPanel + 8), a1);
  }
  _mm256_storeu_ps(tile, _mm256_mul_ps(a0, scale));
  _mm256_storeu_ps(tile + 8, _mm256_mul_ps(a1, scale));
}

// The score tile from a contiguous q block (row stride qs) and the panels of this key block;
// columns up to nk rounded up to kPanel are written (the padding keys score 0).
ALM_AVX2 void qk_tile_panels_avx2(const float* q, int64_t qs, const float* panels, int64_t nb, int64_t nk,
                                  int64_t hd, float scale, float* tile) {
  const __m256 sv = _mm256_set1_ps(scale);
  for (int64_t c = 0; c < nk; c += kPanel) {
    const float* panel = panels + c * hd;  // panel c / kPanel of the block, kPanel * hd floats each
    int64_t r = 0;
    for (; r + 4 <= nb; r += 4) qk_panel_4x16(q + r * qs, qs, panel, hd, sv, tile + r * kBk + c);
    for (; r < nb; ++r) qk_panel_1x16(q + r * qs, panel, hd, sv, tile + r * kBk + c);
  }
}

// acc[0, 64) += sum_j p[j] * v_j[0, 64), the accumulators in registers.
ALM_AVX2 inline void pv_64(const float* p, int64_t lim, const float* v, int64_t vs, float* acc) {
  __m256 a0 = _mm256_loadu_ps(acc), a1 = _mm256_loadu_ps(acc + 8), a2 = _mm256_loadu_ps(acc + 16),
         a3 = _mm256_loadu_ps(acc + 24), a4 = _mm256_loadu_ps(acc + 32), a5 = _mm256_loadu_ps(acc + 40),
         a6 = _mm256_loadu_ps(acc + 48), a7 = _mm256_loadu_ps(acc + 56);
  for (int64_t j = 0; j < lim; ++j) {
    const __m256 pj = _mm256_broadcast_ss(p + j);
    const float* vj = v + j * vs;
    a0 = _mm256_fmadd_ps(pj, _mm256_loadu_ps(vj), a0);
    a1 = _mm256_fmadd_ps(pj, _mm256_loadu_ps(vj + 8), a1);
    a2 = _mm256_fmadd_ps(pj, _mm256_loadu_ps(vj + 16), a2);
    a3 = _mm256_fmadd_ps(pj, _mm256_loadu_ps(vj + 24), a3);
    a4 = _mm256_fmadd_ps(pj, _mm256_loadu_ps(vj + 32), a4);
    a5 = _mm256_fmadd_ps(pj, _mm256_loadu_ps(vj + 40), a5);
    a6 = _mm256_fmadd_ps(pj, _mm256_loadu_ps(vj + 48), a6);
    a7 = _mm256_fmadd_ps(pj, _mm256_loadu_ps(vj + 56), a7);
  }
  _mm256_storeu_ps(acc, a0);
  _mm256_storeu_ps(acc + 8, a1);
  _mm256_storeu_ps(acc + 16, a2);
  _mm256_storeu_ps(acc + 24, a3);
  _mm256_storeu_ps(acc + 32, a4);
  _mm256_storeu_ps(acc + 40, a5);
  _mm256_storeu_ps(acc + 48, a6);
  _mm256_storeu_ps(acc + 56, a7);
}

// acc[0, 8) += sum_j p[j] * v_j[0, 8).
ALM_AVX2 inline void pv_8(const float* p, int64_t lim, const float* v, int64_t vs, float* acc) {
  __m256 a = _mm256_loadu_ps(acc);
  for (int64_t j = 0; j < lim; ++j) a = _mm256_fmadd_ps(_mm256_broadcast_ss(p + j), _mm256_loadu_ps(v + j * vs), a);
  _mm256_storeu_ps(acc, a);
}

// The softmax half of folding one key block into one query row: adds the bias, updates m and l,
// rescales acc, and leaves the probabilities in row[0, lim) and zeros in row[lim, n) (all of
// row[0, n) zero when nothing visible has a finite score yet), ready for pv_rows_avx2.
ALM_AVX2 void softmax_update_avx2(float* row, int64_t lim, int64_t n, const float* bias, int64_t hd, float& m,
                                  float& l, float* acc) {
  const int64_t full = lim & ~int64_t(7), tail = lim - full;
  const __m256i tm = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(kTailLanes + 8 - (tail ? tail : 8)));
  const __m256 tmask = _mm256_castsi256_ps(tm);
  const __m256 ninf = _mm256_set1_ps(kNegInf);
  // Bias and running max. The tile row has room for kBk >= full + 8 values, so the tail group
  // is read whole and its lanes past lim are masked.
  __m256 mv = ninf;
  for (int64_t j = 0; j < full; j += 8) {
    __m256 s = _mm256_loadu_ps(row + j);
    if (bias) s = _mm256_add_ps(s, _mm256_loadu_ps(bias + j));
    _mm256_storeu_ps(row + j, s);
    mv = _mm256_max_ps(mv, s);
  }
  if (tail) {
    __m256 s = _mm256_loadu_ps(row + full);
    if (bias) s = _mm256_add_ps(s, _mm256_maskload_ps(bias + full, tm));
    s = _mm256_blendv_ps(ninf, s, tmask);
    _mm256_storeu_ps(row + full, s);
    mv = _mm256_max_ps(mv, s);
  }
  __m128 h = _mm_max_ps(_mm256_castps256_ps128(mv), _mm256_extractf128_ps(mv, 1));
  h = _mm_max_ps(h, _mm_movehl_ps(h, h));
  h = _mm_max_ss(h, _mm_movehdup_ps(h));
  const float m_new = std::max(m, _mm_cvtss_f32(h));
  if (m_new == kNegInf) {
    std::fill(row, row + n, 0.f);
    return;
  }
  // Probabilities in place; lanes past lim become exactly 0.
  const __m256 mn = _mm256_set1_ps(m_new);
  __m256 sum = _mm256_setzero_ps();
  for (int64_t j = 0; j < full; j += 8) {
    const __m256 e = exp_avx2_clamped(_mm256_sub_ps(_mm256_loadu_ps(row + j), mn));
    _mm256_storeu_ps(row + j, e);
    sum = _mm256_add_ps(sum, e);
  }
  if (tail) {
    const __m256 e = _mm256_and_ps(exp_avx2_clamped(_mm256_sub_ps(_mm256_loadu_ps(row + full), mn)), tmask);
    _mm256_storeu_ps(row + full, e);
    sum = _mm256_add_ps(sum, e);
  }
  const float corr = m == m_new ? 1.f : std::exp(m - m_new);
  l = l * corr + hsum(sum);
  m = m_new;
  if (corr != 1.f) {
    const __m256 c = _mm256_set1_ps(corr);
    int64_t d = 0;
    for (; d + 8 <= hd; d += 8) _mm256_storeu_ps(acc + d, _mm256_mul_ps(_mm256_loadu_ps(acc + d), c));
    for (; d < hd; ++d) acc[d] *= corr;
  }
  for (int64_t jj = lim; jj < n; ++jj) row[jj] = 0.f;
}

// 4 rows x 16 output dims of acc += p . V: each V load feeds four rows.
ALM_AVX2 inline void pv_4x16(const float* p, int64_t n, const float* v, int64_t vs, float* acc, int64_t as) {
  const float *p0 = p, *p1 = p + kBk, *p2 = p + 2 * kBk, *p3 = p + 3 * kBk;
  __m256 a0 = _mm256_loadu_ps(acc), a1 = _mm256_loadu_ps(acc + 8), b0 = _mm256_loadu_ps(acc + as),
         b1 = _mm256_loadu_ps(acc + as + 8), c0 = _mm256_loadu_ps(acc + 2 * as), c1 = _mm256_loadu_ps(acc + 2 * as + 8),
         e0 = _mm256_loadu_ps(acc + 3 * as), e1 = _mm256_loadu_ps(acc + 3 * as + 8);
  for (int64_t j = 0; j < n; ++j) {
    const float* vj = v + j * vs;
    const __m256 v0 = _mm256_loadu_ps(vj), v1 = _mm256_loadu_ps(vj + 8);
    __m256 x = _mm256_broadcast_ss(p0 + j);
    a0 = _mm256_fmadd_ps(x, v0, a0);
    a1 = _mm256_fmadd_ps(x, v1, a1);
    x = _mm256_broadcast_ss(p1 + j);
    b0 = _mm256_fmadd_ps(x, v0, b0);
    b1 = _mm256_fmadd_ps(x, v1, b1);
    x = _mm256_broadcast_ss(p2 + j);
    c0 = _mm256_fmadd_ps(x, v0, c0);
    c1 = _mm256_fmadd_ps(x, v1, c1);
    x = _mm256_broadcast_ss(p3 + j);
    e0 = _mm256_fmadd_ps(x, v0, e0);
    e1 = _mm256_fmadd_ps(x, v1, e1);
  }
  _mm256_storeu_ps(acc, a0);
  _mm256_storeu_ps(acc + 8, a1);
  _mm256_storeu_ps(acc + as, b0);
  _mm256_storeu_ps(acc + as + 8, b1);
  _mm256_storeu_ps(acc + 2 * as, c0);
  _mm256_storeu_ps(acc + 2 * as + 8, c1);
  _mm256_storeu_ps(acc + 3 * as, e0);
  _mm256_storeu_ps(acc + 3 * as + 8, e1);
}

// acc[r] += sum_j p[r][j] * v_j for the nb rows of the tile (row stride kBk) over keys [0, n).
ALM_AVX2 void pv_rows_avx2(const float* p, int64_t nb, int64_t n, const float* v, int64_t vs, int64_t hd, float* acc) {
  int64_t r = 0, d = 0;
  const int64_t hd16 = hd & ~int64_t(15);
  if (hd16 > 0)
    for (; r + 4 <= nb; r += 4)
      for (d = 0; d < hd16; d += 16) pv_4x16(p + r * kBk, n, v + d, vs, acc + r * hd + d, hd);
  // Rows left over, and the dims past hd16 of the rows done above.
  for (int64_t rr = 0; rr < nb; ++rr) {
    const float* pr = p + rr * kBk;
    float* ar = acc + rr * hd;
    d = rr < r ? hd16 : 0;
    for (; d + 64 <= hd; d += 64) pv_64(pr, n, v + d, vs, ar + d);
    for (; d + 8 <= hd; d += 8) pv_8(pr, n, v + d, vs, ar + d);
    for (; d < hd; ++d) {
      float sum = ar[d];
      for (int64_t j = 0; j < n; ++j) sum += pr[j] * v[j * vs + d];
      ar[d] = sum;
    }
  }
}
#endif

// Queries [i0, i1) of head h.
void run_head(const Problem& p, int64_t h, int64_t i0, int64_t i1, bool avx2) {
  const AttentionShape& s = p.s;
  const int64_t hd = s.head_dim, qs = s.heads * hd, kvh = h / (s.heads / s.kv_heads);
  const float* qh = p.q + h * hd;
  const float* kh = p.k + kvh * hd;
  const float* vh = p.v + kvh * hd;
  float* oh = p.out + h * hd;
  const float* bias = p.rel_bias ? p.rel_bias + h * p.rel_len + p.rel_offset : nullptr;
  Scratch& sc = scratch_for(hd);
  float* tile = sc.tile.data();
  // Rows of q, k and v lie heads * head_dim apart: with 16 heads of 64 that is 4 KiB, so a block
  // of key rows maps onto a few L1 sets and evicts itself before the next query row reuses it.
  // When several query rows will reuse them, the visible keys and each query block are copied
  // back to back first; the copy costs under a tenth of the work that reads it.
  const bool pack = i1 - i0 >= kPackRows;
  const int64_t kmax = s.causal ? std::min(p.Tk, p.q_pos0 + i1) : p.Tk;
  // The AVX2 kernel takes K as panels; the portable one as plain rows.
  const float* kpanels = pack && avx2 ? pack_panels(kh, p.kv_stride, kmax, hd, sc.kpack) : nullptr;
  const float* kbase = pack && !avx2 ? pack_rows(kh, p.kv_stride, kmax, hd, sc.kpack) : kh;
  const int64_t ks = pack ? hd : p.kv_stride;
  const float* vbase = pack ? pack_rows(vh, p.kv_stride, kmax, hd, sc.vpack) : vh;
  const int64_t vs = pack ? hd : p.kv_stride;
  for (int64_t b0 = i0; b0 < i1; b0 += kBq) {
    const int64_t nb = std::min(kBq, i1 - b0), pos0 = p.q_pos0 + b0;
    const int64_t kend = s.causal ? std::min(p.Tk, pos0 + nb) : p.Tk;
    std::fill(sc.m.begin(), sc.m.begin() + nb, kNegInf);
    std::fill(sc.l.begin(), sc.l.begin() + nb, 0.f);
    std::fill(sc.acc.begin(), sc.acc.begin() + nb * hd, 0.f);
    const float* qblk = pack ? pack_rows(qh + b0 * qs, qs, nb, hd, sc.qpack) : qh + b0 * qs;
    const int64_t qstride = pack ? hd : qs;
    for (int64_t kb = 0; kb < kend; kb += kBk) {
      const int64_t nk = std::min(kBk, kend - kb);
      const float* vblk = vbase + kb * vs;
#ifdef ALM_X86_SIMD
      if (kpanels) qk_tile_panels_avx2(qblk, qstride, kpanels + kb * hd, nb, nk, hd, s.scale, tile);
      else if (avx2) qk_tile_avx2(qblk, qstride, kbase + kb * ks, ks, nb, nk, hd, s.scale, tile);
      else
#endif
        qk_tile_portable(qblk, qstride, kbase + kb * ks, ks, nb, nk, hd, s.scale, tile);
      // Keys of this block that the block's last (most advanced) query row sees.
      const int64_t n = s.causal ? std::max<int64_t>(0, std::min(nk, pos0 + nb - kb)) : nk;
      for (int64_t r = 0; r < nb; ++r) {
        const int64_t pos = pos0 + r;
        const int64_t lim = s.causal ? std::min(nk, pos + 1 - kb) : nk;
        float* row = tile + r * kBk;
        const float* brow = bias ? bias + kb - pos : nullptr;
        if (p.seg) {  // this row's biases, the cross-segment constant where the segments differ
          const uint8_t qseg = p.seg->query[b0 + r];
          const float cross = p.seg->cross[h];
          float* sb = sc.segrow.data();
          for (int64_t c = 0; c < lim; ++c) sb[c] = p.seg->key[kb + c] != qseg ? cross : brow ? brow[c] : 0.f;
          brow = sb;
        }
        float* acc = sc.acc.data() + r * hd;
#ifdef ALM_X86_SIMD
        if (avx2) {
          if (lim > 0) softmax_update_avx2(row, lim, n, brow, hd, sc.m[size_t(r)], sc.l[size_t(r)], acc);
          else std::fill(row, row + n, 0.f);
          continue;
        }
#endif
        if (lim > 0) row_update_portable(row, lim, brow, vblk, vs, hd, sc.m[size_t(r)], sc.l[size_t(r)], acc);
      }
#ifdef ALM_X86_SIMD
      if (avx2 && n > 0) pv_rows_avx2(tile, nb, n, vblk, vs, hd, sc.acc.data());
#endif
    }
    for (int64_t r = 0; r < nb; ++r) {
      const float l = sc.l[size_t(r)];
      const float inv = l > 0.f ? 1.f / l : 0.f;
      const float* acc = sc.acc.data() + r * hd;
      float* o = oh + (b0 + r) * qs;
      for (int64_t d = 0; d < hd; ++d) o[d] = acc[d] * inv;
    }
  }
  (void)avx2;
}

}  // namespace

void attention(const AttentionShape& shape, const float* q, int64_t Tq, int64_t q_pos0, const float* k,
               const float* v, int64_t Tk, int64_t kv_stride, const float* rel_bias, int64_t rel_len,
               int64_t rel_offset, float* out) {
  const Problem p{shape, q, Tq, q_pos0, k, v, Tk, kv_stride, rel_bias, rel_len, rel_offset, out};
  check_problem("attention", p);
  if (Tq == 0) return;
  const bool avx2 = simd_avx2_active();
  // Whole heads when there are enough of them to share out (K and V are then packed once per
  // head); otherwise query chunks, a multiple of the query block, about four tasks per thread.
  const int64_t want_chunks = (4 * int64_t(num_threads()) + shape.heads - 1) / shape.heads;
  const int64_t nqc0 = std::min((Tq + kBq - 1) / kBq, std::max<int64_t>(1, want_chunks));
  const int64_t qchunk = (((Tq + nqc0 - 1) / nqc0 + kBq - 1) / kBq) * kBq, nqc = (Tq + qchunk - 1) / qchunk;
  // Enough work per chunk (in multiply-adds) to be worth waking the pool for.
  const int64_t task_work = std::max<int64_t>(1, std::min(qchunk, Tq) * std::max<int64_t>(Tk, 1) * shape.head_dim);
  const int64_t grain = std::max<int64_t>(1, (int64_t(1) << 16) / task_work);
  // Later query chunks see more keys under a causal mask: hand them out first so that the cheap
  // ones fill the gaps at the end.
  parallel_for(shape.heads * nqc, grain, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t qc = nqc - 1 - t / shape.heads, h = t % shape.heads;
      run_head(p, h, qc * qchunk, std::min(Tq, (qc + 1) * qchunk), avx2);
    }
  });
}

void attention_head(const AttentionShape& shape, const float* q, int64_t Tq, int64_t q_pos0, const float* k,
                    const float* v, int64_t Tk, int64_t kv_stride, const float* rel_bias, int64_t rel_len,
                    int64_t rel_offset, int64_t head, float* out, const SegmentBias* seg) {
  const Problem p{shape, q, Tq, q_pos0, k, v, Tk, kv_stride, rel_bias, rel_len, rel_offset, out, seg};
  check_problem("attention_head", p);
  ALM_CHECK_ARG(head >= 0 && head < shape.heads, "attention_head: head ", head, " outside [0, ", shape.heads, ")");
  if (Tq == 0) return;
  run_head(p, head, 0, Tq, simd_avx2_active());
}

void attention_ref(const AttentionShape& shape, const float* q, int64_t Tq, int64_t q_pos0, const float* k,
                   const float* v, int64_t Tk, int64_t kv_stride, const float* rel_bias, int64_t rel_len,
                   int64_t rel_offset, float* out, const SegmentBias* seg) {
  const Problem p{shape, q, Tq, q_pos0, k, v, Tk, kv_stride, rel_bias, rel_len, rel_offset, out, seg};
  check_problem("attention_ref", p);
  const int64_t hd = shape.head_dim, qs = shape.heads * hd, group = shape.heads / shape.kv_heads;
  std::vector<double> scores(static_cast<size_t>(std::max<int64_t>(Tk, 1)));
  std::vector<double> o(static_cast<size_t>(hd));
  for (int64_t h = 0; h < shape.heads; ++h) {
    const int64_t kvh = h / group;
    for (int64_t i = 0; i < Tq; ++i) {
      const int64_t pos = q_pos0 + i;
      const int64_t n = shape.causal ? std::min(Tk, pos + 1) : Tk;  // visible keys are 0..n-1
      double mx = -std::numeric_limits<double>::infinity();
      for (int64_t j = 0; j < n; ++j) {
        double dot = 0;
        for (int64_t d = 0; d < hd; ++d) dot += double(q[i * qs + h * hd + d]) * k[j * kv_stride + kvh * hd + d];
        double sc = double(shape.scale) * dot;
        if (seg && seg->key[j] != seg->query[i]) sc += seg->cross[h];
        else if (rel_bias) sc += rel_bias[h * rel_len + (j - pos) + rel_offset];
        scores[size_t(j)] = sc;
        mx = std::max(mx, sc);
      }
      std::fill(o.begin(), o.end(), 0.0);
      if (n > 0 && mx > -std::numeric_limits<double>::infinity()) {
        double sum = 0;
        for (int64_t j = 0; j < n; ++j) sum += (scores[size_t(j)] = std::exp(scores[size_t(j)] - mx));
        for (int64_t j = 0; j < n; ++j)
          for (int64_t d = 0; d < hd; ++d) o[size_t(d)] += scores[size_t(j)] / sum * v[j * kv_stride + kvh * hd + d];
      }
      for (int64_t d = 0; d < hd; ++d) out[i * qs + h * hd + d] = float(o[size_t(d)]);
    }
  }
}

}  // namespace alm
