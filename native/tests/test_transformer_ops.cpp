// The transformer-stage kernels (norms, softmax, attention, rotary, T5 buckets, sampling) against
// their scalar references on random data, with the AVX2 kernels and with the portable ones, plus
// the statistics of the sampler and the argument errors callers rely on.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "core/error.h"
#include "cpu/attention.h"
#include "cpu/gemm.h"
#include "cpu/gemv.h"
#include "cpu/norm.h"
#include "cpu/sample.h"
#include "tests/harness.h"

using namespace alm;
using alm_test::random_vec;

namespace {

constexpr double kTol = 1e-5;
const char* const kBadArg = "ERR_AUDIOLM_INVALID_ARGUMENT";
const float kInf = std::numeric_limits<float>::infinity();

// Runs fn with the AVX2 kernels (where the CPU has them) and again with the portable ones.
template <typename Fn>
void for_each_isa(const Fn& fn) {
  set_simd_enabled(true);
  fn();
  set_simd_enabled(false);
  try {
    fn();
  } catch (...) {
    set_simd_enabled(true);
    throw;
  }
  set_simd_enabled(true);
}

std::string isa() { return simd_avx2_active() ? " [avx2]" : " [portable]"; }

}  // namespace

// ---------------------------------------------------------------------------------------------
// Norms and softmax

TEST(layer_norm_matches_ref) {
  for_each_isa([] {
    const int64_t dims[] = {1, 7, 8, 33, 64, 100, 1024, 1031};
    const int64_t rows_list[] = {1, 3, 37};
    uint32_t seed = 10;
    for (int64_t dim : dims)
      for (int64_t rows : rows_list)
        for (int with_bias = 0; with_bias < 2; ++with_bias) {
          // An offset mean (values in [2, 5)) checks that the variance is taken about the mean.
          const auto x = random_vec(size_t(rows * dim), seed++, 2.f, 5.f);
          const auto w = random_vec(size_t(dim), seed++, 0.5f, 1.5f);
          const auto b = random_vec(size_t(dim), seed++);
          std::vector<float> got(x.size()), want(x.size());
          const float* bp = with_bias ? b.data() : nullptr;
          layer_norm_ref(x.data(), rows, dim, w.data(), bp, 1e-5f, want.data());
          layer_norm(x.data(), rows, dim, w.data(), bp, 1e-5f, got.data());
          const double err = alm_test::rel_l2(got.data(), want.data(), got.size());
          EXPECT_MSG(err < kTol, "layer_norm dim " + std::to_string(dim) + " rows " + std::to_string(rows) + isa() +
                                     " error " + std::to_string(err));
          // In place gives the same values.
          auto inplace = x;
          layer_norm(inplace.data(), rows, dim, w.data(), bp, 1e-5f, inplace.data());
          EXPECT(inplace == got);
        }
  });
}

TEST(rms_norm_matches_ref) {
  for_each_isa([] {
    const int64_t dims[] = {1, 5, 16, 63, 512, 1030};
    uint32_t seed = 100;
    for (int64_t dim : dims)
      for (int64_t rows : {1, 4, 29}) {
        const auto x = random_vec(size_t(rows * dim), seed++, -3.f, 3.f);
        const auto w = random_vec(size_t(dim), seed++, 0.5f, 1.5f);
        std::vector<float> got(x.size()), want(x.size());
        rms_norm_ref(x.data(), rows, dim, w.data(), 1e-6f, want.data());
        rms_norm(x.data(), rows, dim, w.data(), 1e-6f, got.data());
        const double err = alm_test::rel_l2(got.data(), want.data(), got.size());
        EXPECT_MSG(err < kTol, "rms_norm dim " + std::to_string(dim) + isa() + " error " + std::to_string(err));
        auto inplace = x;
        rms_norm(inplace.data(), rows, dim, w.data(), 1e-6f, inplace.data());
        EXPECT(inplace == got);
      }
  });
}

TEST(softmax_rows_matches_ref) {
  for_each_isa([] {
    uint32_t seed = 200;
    for (int64_t n : {1, 3, 8, 15, 16, 17, 100, 1024, 4099})
      for (int64_t rows : {1, 5, 40}) {
        auto x = random_vec(size_t(rows * n), seed++, -12.f, 12.f);
        // Some -inf entries (masked logits), never a whole row here.
        for (int64_t r = 0; r < rows; ++r)
          if (n > 2) x[size_t(r * n + (r % n))] = -kInf;
        auto got = x, want = x;
        softmax_rows_ref(want.data(), rows, n);
        softmax_rows(got.data(), rows, n);
        const double err = alm_test::rel_l2(got.data(), want.data(), got.size());
        EXPECT_MSG(err < kTol, "softmax n " + std::to_string(n) + isa() + " error " + std::to_string(err));
        for (int64_t r = 0; r < rows; ++r) {
          double s = 0;
          for (int64_t i = 0; i < n; ++i) s += got[size_t(r * n + i)];
          EXPECT(std::fabs(s - 1.0) < 1e-5);
        }
      }
    // A row of only -inf becomes zeros, not NaN.
    std::vector<float> x(19, -kInf);
    softmax_rows(x.data(), 1, 19);
    for (float v : x) EXPECT(v == 0.f);
  });
}

TEST(norm_argument_errors) {
  std::vector<float> x(8, 1.f), w(8, 1.f);
  EXPECT_THROWS_CODE(layer_norm(x.data(), 1, 0, w.data(), nullptr, 1e-5f, x.data()), kBadArg);
  EXPECT_THROWS_CODE(layer_norm(x.data(), 1, 8, nullptr, nullptr, 1e-5f, x.data()), kBadArg);
  EXPECT_THROWS_CODE(rms_norm(x.data(), -1, 8, w.data(), 1e-5f, x.data()), kBadArg);
  EXPECT_THROWS_CODE(softmax_rows(nullptr, 2, 8), kBadArg);
}

// ---------------------------------------------------------------------------------------------
// Attention

namespace {

struct AttnCase {
  int64_t heads, kv_heads, hd, Tq, Tk, q_pos0;
  bool causal;
  int64_t pad;  // extra floats per key row of the KV buffers
  bool bias;
  float scale;  // 0: 1/sqrt(hd)
  float amp;    // q, k, v uniform in [-amp, amp)
};

std::string describe(const AttnCase& c) {
  return "heads " + std::to_string(c.heads) + "/" + std::to_string(c.kv_heads) + " hd " + std::to_string(c.hd) +
         " Tq " + std::to_string(c.Tq) + " Tk " + std::to_string(c.Tk) + " pos0 " + std::to_string(c.q_pos0) +
         (c.causal ? " causal" : "") + (c.bias ? " bias" : "") + isa();
}

void check_attention(const AttnCase& c, uint32_t seed) {
  const AttentionShape shape{c.heads, c.kv_heads, c.hd, c.scale > 0 ? c.scale : 1.f / std::sqrt(float(c.hd)), c.causal};
  const int64_t kv_stride = c.kv_heads * c.hd + c.pad, qs = c.heads * c.hd;
  const auto q = random_vec(size_t(c.Tq * qs), seed, -c.amp, c.amp);
  auto k = random_vec(size_t(c.Tk * kv_stride), seed + 1, -c.amp, c.amp);
  auto v = random_vec(size_t(c.Tk * kv_stride), seed + 2, -c.amp, c.amp);
  // Padding is NaN: reading it would show in the output.
  for (int64_t j = 0; j < c.Tk; ++j)
    for (int64_t d = c.kv_heads * c.hd; d < kv_stride; ++d)
      k[size_t(j * kv_stride + d)] = v[size_t(j * kv_stride + d)] = std::nanf("");
  // The tightest bias table the visible pairs need, with slack on both sides.
  std::vector<float> bias;
  int64_t rel_len = 0, rel_offset = 0;
  if (c.bias) {
    const int64_t lo = -(c.q_pos0 + c.Tq - 1);
    const int64_t hi = c.causal ? std::min<int64_t>(0, c.Tk - 1 - c.q_pos0) : c.Tk - 1 - c.q_pos0;
    rel_offset = 2 - lo;
    rel_len = hi + rel_offset + 3;
    bias = random_vec(size_t(c.heads * rel_len), seed + 3, -2.f, 2.f);
  }
  const float* bp = c.bias ? bias.data() : nullptr;
  std::vector<float> want(size_t(c.Tq * qs)), got(want.size(), std::nanf(""));
  attention_ref(shape, q.data(), c.Tq, c.q_pos0, k.data(), v.data(), c.Tk, kv_stride, bp, rel_len, rel_offset,
                want.data());
  attention(shape, q.data(), c.Tq, c.q_pos0, k.data(), v.data(), c.Tk, kv_stride, bp, rel_len, rel_offset, got.data());
  const double err = alm_test::rel_l2(got.data(), want.data(), got.size());
  EXPECT_MSG(err < kTol, "attention " + describe(c) + " error " + std::to_string(err));

  // attention_head, head by head, writes only its own slice and agrees with attention.
  std::vector<float> per_head(want.size(), std::nanf(""));
  for (int64_t h = 0; h < c.heads; ++h) {
    attention_head(shape, q.data(), c.Tq, c.q_pos0, k.data(), v.data(), c.Tk, kv_stride, bp, rel_len, rel_offset, h,
                   per_head.data());
    for (int64_t i = 0; i < c.Tq; ++i)
      for (int64_t hh = h + 1; hh < c.heads; ++hh)
        EXPECT_MSG(std::isnan(per_head[size_t(i * qs + hh * c.hd)]), "attention_head wrote another head's slice");
  }
  const double err_h = alm_test::rel_l2(per_head.data(), want.data(), want.size());
  EXPECT_MSG(err_h < kTol, "attention_head " + describe(c) + " error " + std::to_string(err_h));
}

}  // namespace

TEST(attention_ref_semantics_by_hand) {
  // One head, head_dim 1, scale 1: scores 0 and ln 2 weigh the values 3 and 6 by 1/3 and 2/3.
  const AttentionShape shape{1, 1, 1, 1.f, false};
  const float q[] = {1.f}, k[] = {0.f, std::log(2.f)}, v[] = {3.f, 6.f};
  float out = 0;
  attention_ref(shape, q, 1, 0, k, v, 2, 1, nullptr, 0, 0, &out);
  EXPECT(std::fabs(out - 5.f) < 1e-6f);
  // Causal at position 0: only key 0.
  const AttentionShape causal{1, 1, 1, 1.f, true};
  attention_ref(causal, q, 1, 0, k, v, 2, 1, nullptr, 0, 0, &out);
  EXPECT(std::fabs(out - 3.f) < 1e-6f);
  // A bias of ln 2 on offset j - i = 0 (index 0 + offset 1) and 0 on offset +1: weights 2:2.
  const float bias[] = {0.f, std::log(2.f), 0.f};
  attention_ref(shape, q, 1, 0, k, v, 2, 1, bias, 3, 1, &out);
  EXPECT(std::fabs(out - 4.5f) < 1e-6f);
  attention(shape, q, 1, 0, k, v, 2, 1, bias, 3, 1, &out);
  EXPECT(std::fabs(out - 4.5f) < 1e-5f);
}

TEST(attention_matches_ref) {
  const std::vector<AttnCase> cases = {
      // decode: one query at the end of the cache
      {4, 4, 64, 1, 1, 0, true, 0, false, 0, 1},
      {4, 4, 64, 1, 7, 6, true, 3, false, 0, 1},
      {4, 2, 64, 1, 64, 63, true, 0, true, 0, 1},
      {4, 1, 64, 1, 65, 64, true, 8, false, 0, 1},
      {8, 8, 64, 1, 1000, 999, true, 8, true, 0, 2},
      {2, 1, 64, 1, 4096, 4095, true, 0, false, 0, 2},
      // prefill
      {4, 4, 64, 16, 16, 0, true, 0, false, 0, 1},
      {4, 4, 64, 17, 17, 0, true, 0, true, 0, 1},
      {2, 1, 64, 130, 130, 0, true, 4, false, 0, 2},
      {4, 2, 32, 100, 100, 0, true, 0, true, 0, 1},
      {4, 4, 64, 300, 300, 0, true, 0, true, 0, 2},
      // head sizes with tails
      {3, 3, 13, 20, 20, 0, true, 1, false, 0, 1},
      {2, 2, 80, 33, 33, 0, true, 0, true, 0, 1},
      {2, 1, 128, 40, 40, 0, true, 0, false, 0, 1},
      {2, 2, 8, 9, 9, 0, true, 0, false, 0, 1},
      {1, 1, 1, 5, 5, 0, true, 0, true, 0, 1},
      {1, 1, 5, 70, 70, 0, false, 2, false, 0, 1},
      // chunked prefill and queries that end before the keys do
      {4, 2, 64, 20, 50, 30, true, 0, true, 0, 1},
      {4, 4, 64, 5, 50, 10, true, 0, true, 0, 1},
      {2, 2, 16, 3, 10, 20, true, 0, true, 0, 1},
      // not causal (cross-attention, bidirectional encoders)
      {4, 4, 64, 7, 33, 0, false, 0, false, 0, 1},
      {4, 2, 64, 100, 77, 0, false, 0, true, 0, 1},
      {2, 2, 64, 3, 200, 5, false, 0, true, 0, 1},
      // T5 uses scale 1: sharper softmax, more rescaling of the running max
      {4, 4, 64, 64, 64, 0, true, 0, true, 1.f, 1},
  };
  for_each_isa([&] {
    uint32_t seed = 1000;
    for (const auto& c : cases) check_attention(c, seed += 7);
  });
}

TEST(attention_zero_lengths) {
  const AttentionShape shape{2, 2, 8, 0.3f, false};
  std::vector<float> q(16, 1.f), out(16, 5.f);
  attention(shape, q.data(), 0, 0, nullptr, nullptr, 0, 16, nullptr, 0, 0, out.data());
  EXPECT(out[0] == 5.f);  // nothing to write
  attention(shape, q.data(), 1, 0, nullptr, nullptr, 0, 16, nullptr, 0, 0, out.data());
  for (float x : out) EXPECT(x == 0.f);  // no keys: zeros
  // The same with enough queries to take the packed (prefill) path.
  std::vector<float> q5(5 * 16, 1.f), out5(q5.size(), 5.f);
  for_each_isa([&] {
    attention(shape, q5.data(), 5, 0, nullptr, nullptr, 0, 16, nullptr, 0, 0, out5.data());
    for (float x : out5) EXPECT(x == 0.f);
  });
}

TEST(attention_argument_errors) {
  std::vector<float> q(64 * 4, 0.5f), k(64 * 4 * 8, 0.5f), v(k), out(q.size()), bias(4 * 16, 0.f);
  const AttentionShape bad_group{4, 3, 64, 0.125f, true};
  EXPECT_THROWS_CODE(attention(bad_group, q.data(), 1, 0, k.data(), v.data(), 8, 192, nullptr, 0, 0, out.data()), kBadArg);
  const AttentionShape shape{4, 2, 64, 0.125f, true};
  EXPECT_THROWS_CODE(attention(shape, q.data(), 1, 0, k.data(), v.data(), 8, 100, nullptr, 0, 0, out.data()), kBadArg);
  EXPECT_THROWS_CODE(attention(shape, q.data(), 1, -1, k.data(), v.data(), 8, 128, nullptr, 0, 0, out.data()), kBadArg);
  // Query at 7 against keys 0..7: offsets -7..0, so offset 7 fits a table of 8 and offset 6 does not.
  attention(shape, q.data(), 1, 7, k.data(), v.data(), 8, 128, bias.data(), 8, 7, out.data());
  EXPECT_THROWS_CODE(attention(shape, q.data(), 1, 7, k.data(), v.data(), 8, 128, bias.data(), 8, 6, out.data()), kBadArg);
  EXPECT_THROWS_CODE(attention(shape, q.data(), 1, 7, k.data(), v.data(), 8, 128, bias.data(), 7, 7, out.data()), kBadArg);
  EXPECT_THROWS_CODE(attention_head(shape, q.data(), 1, 7, k.data(), v.data(), 8, 128, nullptr, 0, 0, 4, out.data()), kBadArg);
}

// ---------------------------------------------------------------------------------------------
// Rotary

TEST(rotary_matches_ref) {
  for_each_isa([] {
    uint32_t seed = 3000;
    for (int64_t T : {1, 37})
      for (int64_t nheads : {1, 3})
        for (int64_t hd : {8, 64, 80})
          for (int64_t rot : {hd, hd / 2, int64_t(2), int64_t(0)}) {
            const auto x = random_vec(size_t(T * nheads * hd), seed++);
            std::vector<int64_t> pos(static_cast<size_t>(T));
            for (int64_t t = 0; t < T; ++t) pos[size_t(t)] = (t * 977 + int64_t(seed) * 13) % 5000;
            auto got = x, want = x;
            rotary_ref(want.data(), T, nheads, hd, rot, pos.data(), 10000.f);
            rotary(got.data(), T, nheads, hd, rot, pos.data(), 10000.f);
            EXPECT_CLOSE(got.data(), want.data(), got.size(), kTol);
            for (int64_t r = 0; r < T * nheads; ++r)
              for (int64_t d = rot; d < hd; ++d) EXPECT(got[size_t(r * hd + d)] == x[size_t(r * hd + d)]);
          }
  });
}

TEST(rotary_by_hand) {
  // head_dim 4 = rot_dim at position 1: pair (0, 2) turns by 1 rad, pair (1, 3) by 10000^-0.5.
  float x[] = {0.3f, -0.7f, 1.1f, 0.4f};
  const int64_t pos = 1;
  rotary(x, 1, 1, 4, 4, &pos, 10000.f);
  const double a = 1.0, b = 0.01;
  const double want[] = {0.3 * std::cos(a) - 1.1 * std::sin(a), -0.7 * std::cos(b) - 0.4 * std::sin(b),
                         1.1 * std::cos(a) + 0.3 * std::sin(a), 0.4 * std::cos(b) - 0.7 * std::sin(b)};
  for (int i = 0; i < 4; ++i) EXPECT(std::fabs(x[i] - want[i]) < 1e-6);
  EXPECT_THROWS_CODE(rotary(x, 1, 1, 4, 3, &pos, 10000.f), kBadArg);
  EXPECT_THROWS_CODE(rotary(x, 1, 1, 4, 6, &pos, 10000.f), kBadArg);
}

// ---------------------------------------------------------------------------------------------
// T5 relative buckets

// Expected buckets for relative positions -300..300, 32 buckets, max_distance 128, generated once
// with torch 1.13 by the Hugging Face T5 rule:
//   import math, torch
//   def bucket(rel, bidirectional, num_buckets, max_distance):
//       ret = 0
//       if bidirectional:
//           num_buckets //= 2
//           ret += (rel > 0).to(torch.long) * num_buckets
//           n = torch.abs(rel)
//       else:
//           n = -torch.min(rel, torch.zeros_like(rel))
//       max_exact = num_buckets // 2
//       is_small = n < max_exact
//       large = max_exact + (torch.log(n.float() / max_exact) / math.log(max_distance / max_exact)
//                            * (num_buckets - max_exact)).to(torch.long)
//       large = torch.min(large, torch.full_like(large, num_buckets - 1))
//       return ret + torch.where(is_small, n, large)
//   rel = torch.arange(-300, 301)
//   for bi in (True, False): print(bucket(rel, bi, 32, 128).tolist())
// (Element-wise and vectorised torch.log agreed on every entry.)
const int kT5Bidirectional[601] = {
    15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15,
    15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15,
    15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15,
    15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15,
    15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 15,
    15, 15, 15, 15, 15, 15, 15, 15, 15, 15, 14, 14, 14, 14, 14, 14, 14, 14, 14, 14, 14, 14, 14, 14, 14, 14, 14, 14, 14, 14, 14, 14, 14, 14, 14, 14, 14, 13, 13, 13,
    13, 13, 13, 13, 13, 13, 13, 13, 13, 13, 13, 13, 13, 13, 13, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12, 12, 11, 11, 11, 11, 11, 11, 11, 11, 11, 10, 10,
    10, 10, 10, 10, 10, 9, 9, 9, 9, 8, 8, 8, 8, 7, 6, 5, 4, 3, 2, 1, 0, 17, 18, 19, 20, 21, 22, 23, 24, 24, 24, 24, 25, 25, 25, 25, 26, 26, 26, 26,
    26, 26, 26, 27, 27, 27, 27, 27, 27, 27, 27, 27, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 29, 29, 29, 29, 29, 29, 29, 29, 29, 29, 29, 29, 29, 29,
    29, 29, 29, 29, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 31, 31, 31, 31, 31, 31, 31, 31, 31,
    31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31,
    31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31,
    31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31,
    31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31,
    31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31,
    31,
};
const int kT5Causal[601] = {
    31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31,
    31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31,
    31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31,
    31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31,
    31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 31, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30,
    30, 30, 29, 29, 29, 29, 29, 29, 29, 29, 29, 29, 29, 29, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 27, 27, 27, 27, 27, 27, 27, 27, 27, 27, 26, 26, 26, 26, 26, 26,
    26, 26, 25, 25, 25, 25, 25, 25, 25, 24, 24, 24, 24, 24, 24, 23, 23, 23, 23, 23, 23, 22, 22, 22, 22, 22, 21, 21, 21, 21, 20, 20, 20, 20, 19, 19, 19, 18, 18, 18,
    17, 17, 16, 16, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0,
};

TEST(t5_buckets_match_torch) {
  for (int64_t rel = -300; rel <= 300; ++rel) {
    const int64_t bi = t5_relative_bucket(rel, true, 32, 128), uni = t5_relative_bucket(rel, false, 32, 128);
    EXPECT_MSG(bi == kT5Bidirectional[rel + 300], "bidirectional bucket of " + std::to_string(rel) + ": got " +
                                                       std::to_string(bi) + ", torch " +
                                                       std::to_string(kT5Bidirectional[rel + 300]));
    EXPECT_MSG(uni == kT5Causal[rel + 300], "causal bucket of " + std::to_string(rel) + ": got " + std::to_string(uni) +
                                                ", torch " + std::to_string(kT5Causal[rel + 300]));
  }
  EXPECT_THROWS_CODE(t5_relative_bucket(1, true, 0, 128), kBadArg);
  EXPECT_THROWS_CODE(t5_relative_bucket(1, true, 32, 8), kBadArg);
}

// ---------------------------------------------------------------------------------------------
// Sampling

namespace {

// The probabilities the sampling rule gives, from first principles in double: restrict, order,
// top-k, softmax with temperature, top-p prefix, renormalise.
std::vector<double> rule_probs(const std::vector<float>& logits, const SampleParams& p, const TokenRange* range) {
  const int64_t V = int64_t(logits.size());
  std::vector<int> ids;
  for (int i = 0; i < V; ++i) {
    bool ok = range == nullptr || (i >= range->lo && i < range->hi);
    if (range)
      for (int32_t e : range->extra) ok = ok || e == i;
    if (ok) ids.push_back(i);
  }
  std::sort(ids.begin(), ids.end(), [&](int a, int b) { return logits[size_t(a)] > logits[size_t(b)] || (logits[size_t(a)] == logits[size_t(b)] && a < b); });
  if (p.top_k > 0 && size_t(p.top_k) < ids.size()) ids.resize(size_t(p.top_k));
  std::vector<double> w;
  double total = 0;
  for (int id : ids) total += w.emplace_back(std::exp((logits[size_t(id)] - logits[size_t(ids[0])]) / double(p.temperature)));
  if (p.top_p < 1.f) {
    double cum = 0;
    size_t n = 0;
    while (n < ids.size() && cum < double(p.top_p) * total) cum += w[n++];
    ids.resize(n), w.resize(n), total = cum;
  }
  std::vector<double> probs(size_t(V), 0.0);
  for (size_t i = 0; i < ids.size(); ++i) probs[size_t(ids[i])] = w[i] / total;
  return probs;
}

// 0.999 quantiles of the chi-square distribution for 1..11 degrees of freedom
// (scipy.stats.chi2.ppf(0.999, df)).
const double kChi2Q999[12] = {0, 10.828, 13.816, 16.266, 18.467, 20.515, 22.458, 24.322, 26.124, 27.877, 29.588, 31.264};

}  // namespace

TEST(rng_is_counter_based_and_uniform) {
  EXPECT(rng_bits(42, 7) == rng_bits(42, 7));
  EXPECT(rng_bits(42, 7) != rng_bits(42, 8));
  EXPECT(rng_bits(42, 7) != rng_bits(43, 7));
  // Pinned values: the stream must not change between versions or platforms.
  EXPECT(rng_bits(0, 0) == 0x93118a61ed9e9e14ULL);
  EXPECT(rng_bits(12345, 678) == 0x2ff87431e7da5d6fULL);
  const int64_t n = 1000000;
  double sum = 0, lag = 0, prev = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double u = rng_uniform(2024, uint64_t(i));
    EXPECT(u >= 0.0 && u < 1.0);
    sum += u;
    lag += (u - 0.5) * (prev - 0.5);
    prev = u;
  }
  EXPECT(std::fabs(sum / double(n) - 0.5) < 1e-3);
  // Correlation of consecutive counters (variance of a uniform is 1/12); its noise is about 1e-3.
  EXPECT(std::fabs(lag / double(n) * 12.0) < 5e-3);
}

TEST(sample_fast_matches_ref) {
  std::vector<float> scratch_fast, scratch_ref;
  std::mt19937 gen(77);
  auto uni = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(gen); };
  auto real = [&](double lo, double hi) { return std::uniform_real_distribution<double>(lo, hi)(gen); };
  int thrown = 0;
  for (int cs = 0; cs < 2000; ++cs) {
    const int64_t V = uni(0, 3) == 0 ? uni(1, 20) : uni(21, 3000);
    std::vector<float> logits(static_cast<size_t>(V));
    const double spread = real(0.1, 12.0);
    const bool coarse = uni(0, 3) == 0;  // quantised logits: many exact ties
    for (auto& l : logits) {
      l = float(real(-spread, spread));
      if (coarse) l = std::round(l * 2.f) / 2.f;
      if (uni(0, 30) == 0) l = -kInf;
    }
    SampleParams p;
    p.temperature = uni(0, 9) == 0 ? 0.f : float(real(0.2, 2.0));
    const int tk = uni(0, 4);
    p.top_k = tk == 0 ? 0 : tk == 1 ? 1 : tk == 2 ? uni(2, 10) : tk == 3 ? uni(2, int(V) + 5) : int(V) + 1;
    const int tp = uni(0, 4);
    p.top_p = tp <= 1 ? 1.f : tp == 2 ? float(real(0.5, 0.99)) : tp == 3 ? float(real(0.0, 0.3)) : 0.9f;
    TokenRange range;
    const bool use_range = uni(0, 9) < 6;
    if (use_range) {
      range.lo = uni(0, int(V) - 1);
      range.hi = uni(0, 4) == 0 ? range.lo : uni(range.lo + 1, int(V));
      for (int e = uni(range.hi > range.lo ? 0 : 1, 6); e > 0; --e) range.extra.push_back(uni(0, int(V) - 1));
      if (!range.extra.empty() && uni(0, 1)) range.extra.push_back(range.extra[0]);  // a duplicate
    }
    const TokenRange* rp = use_range ? &range : nullptr;
    const double u = rng_uniform(99, uint64_t(cs));
    int32_t got = -1, want = -1;
    bool got_err = false, want_err = false;
    try { got = sample_token(logits.data(), V, p, rp, u, scratch_fast); } catch (const Error&) { got_err = true; }
    try { want = sample_token_ref(logits.data(), V, p, rp, u, scratch_ref); } catch (const Error&) { want_err = true; }
    EXPECT_MSG(got_err == want_err, "case " + std::to_string(cs) + ": only one version threw");
    if (got_err) {
      ++thrown;
      continue;
    }
    EXPECT_MSG(got == want, "case " + std::to_string(cs) + ": fast picked " + std::to_string(got) + ", ref " +
                                std::to_string(want));
    const auto probs = rule_probs(logits, p, rp);
    if (p.temperature > 0) EXPECT_MSG(probs[size_t(got)] > 0, "case " + std::to_string(cs) + ": token outside the kept set");
  }
  EXPECT(thrown < 40);  // only the rare all -inf allowed sets
}

TEST(sample_distribution_chi_square) {
  const std::vector<float> logits = {1.2f, -0.3f, 0.5f, 2.0f, -1.0f, 0.0f, 0.8f, -2.0f, 1.5f, 0.3f, -0.7f, 1.0f};
  TokenRange range;
  range.lo = 3, range.hi = 9, range.extra = {11};
  struct Config { SampleParams p; const TokenRange* r; const char* name; };
  const Config configs[] = {{{0.7f, 0, 1.f}, nullptr, "T=0.7"},
                            {{1.f, 5, 1.f}, nullptr, "top_k=5"},
                            {{1.3f, 0, 0.8f}, nullptr, "T=1.3 top_p=0.8"},
                            {{1.f, 0, 1.f}, &range, "range [3,9)+{11}"}};
  const int64_t N = 200000;
  std::vector<float> scratch;
  uint64_t seed = 0xC0FFEE;
  for (const auto& cfg : configs) {
    const auto probs = rule_probs(logits, cfg.p, cfg.r);
    std::vector<int64_t> counts(logits.size(), 0);
    for (int64_t i = 0; i < N; ++i)
      ++counts[size_t(sample_token(logits.data(), 12, cfg.p, cfg.r, rng_uniform(seed, uint64_t(i)), scratch))];
    double chi2 = 0;
    int cats = 0;
    for (size_t t = 0; t < logits.size(); ++t) {
      if (probs[t] == 0) {
        EXPECT_MSG(counts[t] == 0, std::string(cfg.name) + ": drew token " + std::to_string(t) + " outside the kept set");
        continue;
      }
      const double e = probs[t] * double(N);
      chi2 += (double(counts[t]) - e) * (double(counts[t]) - e) / e;
      ++cats;
    }
    const int df = cats - 1;
    EXPECT(df >= 1 && df <= 11);
    EXPECT_MSG(chi2 < kChi2Q999[df], std::string(cfg.name) + ": chi-square " + std::to_string(chi2) + " with " +
                                         std::to_string(df) + " dof exceeds " + std::to_string(kChi2Q999[df]));
    ++seed;
  }
  // top-p 0.8 at T = 1.3 keeps 7 tokens (cumulative 0.786 at 6, 0.848 at 7): far from the edge.
  const auto kept = rule_probs(logits, configs[2].p, nullptr);
  EXPECT(std::count_if(kept.begin(), kept.end(), [](double x) { return x > 0; }) == 7);
}

TEST(sample_rule_by_hand) {
  // Probabilities 0.5, 0.3, 0.15, 0.05 in shuffled ids. top_p 0.75 keeps {0.5, 0.3}, renormalised
  // to 0.625 / 0.375; the inverse CDF runs in descending order.
  const std::vector<float> logits = {std::log(0.15f), std::log(0.5f), std::log(0.05f), std::log(0.3f)};
  std::vector<float> scratch;
  SampleParams p;
  p.top_p = 0.75f;
  EXPECT(sample_token(logits.data(), 4, p, nullptr, 0.0, scratch) == 1);
  EXPECT(sample_token(logits.data(), 4, p, nullptr, 0.62, scratch) == 1);
  EXPECT(sample_token(logits.data(), 4, p, nullptr, 0.63, scratch) == 3);
  EXPECT(sample_token(logits.data(), 4, p, nullptr, 0.999, scratch) == 3);
  // No filtering: cumulative 0.5, 0.8, 0.95, 1.
  p.top_p = 1.f;
  EXPECT(sample_token(logits.data(), 4, p, nullptr, 0.49, scratch) == 1);
  EXPECT(sample_token(logits.data(), 4, p, nullptr, 0.79, scratch) == 3);
  EXPECT(sample_token(logits.data(), 4, p, nullptr, 0.94, scratch) == 0);
  EXPECT(sample_token(logits.data(), 4, p, nullptr, 0.96, scratch) == 2);
  // top_k 1 is greedy whatever u is.
  p.top_k = 1;
  EXPECT(sample_token(logits.data(), 4, p, nullptr, 0.99, scratch) == 1);
}

TEST(sample_greedy_ignores_u) {
  std::vector<float> logits = random_vec(500, 5, -4.f, 4.f);
  logits[123] = 9.f;
  logits[321] = 9.f;  // a tie: the lower id wins
  logits[400] = 7.f;
  std::vector<float> scratch;
  SampleParams greedy;
  greedy.temperature = 0.f;
  TokenRange range;
  range.lo = 350, range.hi = 450;
  for (double u : {0.0, 0.25, 0.5, 0.999999}) {
    EXPECT(sample_token(logits.data(), 500, greedy, nullptr, u, scratch) == 123);
    EXPECT(sample_token_ref(logits.data(), 500, greedy, nullptr, u, scratch) == 123);
    EXPECT(sample_token(logits.data(), 500, greedy, &range, u, scratch) == 400);
  }
  greedy.temperature = -1.f;
  EXPECT(sample_token(logits.data(), 500, greedy, nullptr, 0.7, scratch) == 123);
}

TEST(sample_argument_errors) {
  std::vector<float> logits = random_vec(50, 9);
  std::vector<float> scratch;
  const SampleParams p;
  logits[7] = std::nanf("");
  bool named = false;
  try {
    sample_token(logits.data(), 50, p, nullptr, 0.5, scratch);
  } catch (const Error& e) {
    named = std::string(e.code()) == kBadArg && std::string(e.what()).find("logit 7 ") != std::string::npos;
  }
  EXPECT(named);
  EXPECT_THROWS_CODE(sample_token_ref(logits.data(), 50, p, nullptr, 0.5, scratch), kBadArg);
  logits[7] = 0.f;
  TokenRange empty;
  empty.lo = 5, empty.hi = 5;
  EXPECT_THROWS_CODE(sample_token(logits.data(), 50, p, &empty, 0.5, scratch), kBadArg);
  EXPECT_THROWS_CODE(sample_token_ref(logits.data(), 50, p, &empty, 0.5, scratch), kBadArg);
  TokenRange masked;
  masked.lo = 10, masked.hi = 20;
  for (int i = 10; i < 20; ++i) logits[size_t(i)] = -kInf;
  EXPECT_THROWS_CODE(sample_token(logits.data(), 50, p, &masked, 0.5, scratch), kBadArg);
  EXPECT_THROWS_CODE(sample_token_ref(logits.data(), 50, p, &masked, 0.5, scratch), kBadArg);
  TokenRange outside;
  outside.lo = 40, outside.hi = 60;
  EXPECT_THROWS_CODE(sample_token(logits.data(), 50, p, &outside, 0.5, scratch), kBadArg);
  outside.lo = outside.hi = 0;
  outside.extra = {50};
  EXPECT_THROWS_CODE(sample_token(logits.data(), 50, p, &outside, 0.5, scratch), kBadArg);
  EXPECT_THROWS_CODE(sample_token(logits.data(), 50, p, nullptr, 1.0, scratch), kBadArg);
  EXPECT_THROWS_CODE(sample_token(logits.data(), 50, p, nullptr, -0.1, scratch), kBadArg);
}

// Few-row products (decode steps) against their reference, on every kernel path, with strided
// operands and sizes that leave remainders in every loop.
TEST(gemv_rows_matches_reference) {
  struct S { int64_t M, N, K; };
  for (int level : {2, 1, 0}) {  // AVX-512 (where the CPU has it), AVX2, portable
    alm::set_simd_level(level);
    for (S s : {S{1, 1024, 1024}, S{6, 40, 33}, S{11, 21, 17}, S{4, 96, 64}, S{7, 37, 29}, S{16, 515, 300}, S{32, 64, 1031}, S{3, 5, 7}}) {
      const int64_t ldx = s.K + 3, ldw = s.K + 5, ldy = s.N + 2;
      auto x = alm_test::random_vec(size_t(s.M * ldx), 11);
      auto w = alm_test::random_vec(size_t(s.N * ldw), 12);
      std::vector<float> got(size_t(s.M * ldy), 0.f), want(size_t(s.M * ldy), 0.f);
      alm::gemv_rows(s.M, s.N, s.K, x.data(), ldx, w.data(), ldw, got.data(), ldy);
      alm::gemv_rows_ref(s.M, s.N, s.K, x.data(), ldx, w.data(), ldw, want.data(), ldy);
      EXPECT_CLOSE(got.data(), want.data(), got.size(), 1e-5);
    }
  }
  alm::set_simd_enabled(true);
  std::vector<float> x(8), w(8), y(8);
  EXPECT_THROWS_CODE(alm::gemv_rows(alm::kGemvMaxRows + 1, 1, 1, x.data(), 1, w.data(), 1, y.data(), 1), "ERR_AUDIOLM_INVALID_ARGUMENT");
}

TEST_MAIN()
