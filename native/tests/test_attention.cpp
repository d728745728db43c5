// Attention (flash-style kernel against the double-precision reference: decode, prefill, chunked,
// bidirectional, relative and segment biases), rotary embeddings and T5 buckets, with the AVX2
// kernels and with the portable ones.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "core/error.h"
#include "cpu/attention.h"
#include "tests/harness.h"
#include "tests/isa.h"

using namespace alm;
using alm_test::for_each_isa;
using alm_test::isa;
using alm_test::random_vec;

namespace {

constexpr double kTol = 1e-5;
const char* const kBadArg = "ERR_AUDIOLM_INVALID_ARGUMENT";

}  // namespace

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

// Segment biases (audiolm-pytorch's coarse stage): scores across segments take the head's constant
// instead of the relative bias. Decode and prefill (several key blocks, packed K/V), with and
// without a relative bias, two segment patterns; the override must also change the output.
TEST(attention_segments_match_ref) {
  struct Case { int64_t heads, hd, Tq, Tk, q_pos0; bool bias; bool blocks; };
  const std::vector<Case> cases = {
      {4, 64, 1, 150, 149, true, true}, {4, 64, 150, 150, 0, true, true},  {4, 13, 70, 70, 0, false, true},
      {2, 64, 20, 90, 70, true, false}, {4, 64, 150, 150, 0, true, false}, {2, 32, 1, 40, 39, false, false},
  };
  for_each_isa([&] {
    uint32_t seed = 77;
    for (const auto& c : cases) {
      const AttentionShape shape{c.heads, c.heads, c.hd, 1.f / std::sqrt(float(c.hd)), true};
      const int64_t qs = c.heads * c.hd;
      const auto q = random_vec(size_t(c.Tq * qs), seed += 5, -1.f, 1.f);
      const auto k = random_vec(size_t(c.Tk * qs), seed + 1, -1.f, 1.f);
      const auto v = random_vec(size_t(c.Tk * qs), seed + 2, -1.f, 1.f);
      const int64_t rel_len = 2 * c.Tk - 1, rel_offset = c.Tk - 1;
      const auto rel = random_vec(size_t(c.heads * rel_len), seed + 3, -2.f, 2.f);
      const auto cross = random_vec(size_t(c.heads), seed + 4, -2.f, 2.f);
      // a prefix part and the rest (the coarse layout), or alternating runs of 7
      std::vector<uint8_t> seg(size_t(c.Tk));
      for (int64_t j = 0; j < c.Tk; ++j) seg[size_t(j)] = c.blocks ? uint8_t(j >= c.Tk / 3) : uint8_t((j / 7) % 2);
      const SegmentBias sb{seg.data(), seg.data() + c.q_pos0, cross.data()};
      const float* bp = c.bias ? rel.data() : nullptr;
      std::vector<float> want(size_t(c.Tq * qs)), got(want.size(), std::nanf("")), plain(want.size());
      attention_ref(shape, q.data(), c.Tq, c.q_pos0, k.data(), v.data(), c.Tk, qs, bp, rel_len, rel_offset, want.data(), &sb);
      attention_ref(shape, q.data(), c.Tq, c.q_pos0, k.data(), v.data(), c.Tk, qs, bp, rel_len, rel_offset, plain.data());
      for (int64_t h = 0; h < c.heads; ++h)
        attention_head(shape, q.data(), c.Tq, c.q_pos0, k.data(), v.data(), c.Tk, qs, bp, rel_len, rel_offset, h, got.data(),
                       &sb);
      const double err = alm_test::rel_l2(got.data(), want.data(), want.size());
      const double moved = alm_test::rel_l2(plain.data(), want.data(), want.size());
      const std::string what = "segments Tq " + std::to_string(c.Tq) + " Tk " + std::to_string(c.Tk) + (c.bias ? " bias" : "") +
                               (c.blocks ? " prefix" : " runs") + isa();
      EXPECT_MSG(err < kTol, what + " error " + std::to_string(err));
      EXPECT_MSG(moved > 1e-2, what + ": the segment bias changed the output by only " + std::to_string(moved));
    }
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

TEST_MAIN()
