// The CPU kernels against their scalar references on random data, with the AVX2 kernels and
// with the portable ones, plus the argument errors callers rely on.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/threadpool.h"
#include "cpu/act.h"
#include "cpu/conv.h"
#include "cpu/gemm.h"
#include "cpu/lstm.h"
#include "cpu/rvq.h"
#include "tests/harness.h"

using namespace alm;
using alm_test::random_vec;

namespace {

constexpr double kTol = 1e-5;
const char* const kBadArg = "ERR_AUDIOLM_INVALID_ARGUMENT";

// Runs fn on every kernel level this CPU has: AVX-512 (gemm's micro-kernel), AVX2 + FMA and
// the portable kernels, then lifts the cap again.
template <typename Fn>
void for_each_isa(const Fn& fn) {
  try {
    for (int level = simd_max_level(); level >= 0; --level) {
      set_simd_level(level);
      fn();
    }
  } catch (...) {
    set_simd_enabled(true);
    throw;
  }
  set_simd_enabled(true);
}

// One gemm call against gemm_ref, with padded leading dimensions and a NaN-filled C when beta
// is 0 (it must not be read).
void check_gemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, float beta, uint32_t seed) {
  const int64_t lda = (ta ? M : K) + 3, ldb = (tb ? K : N) + 5, ldc = N + 2;
  const auto A = random_vec(size_t((ta ? K : M) * lda), seed);
  const auto B = random_vec(size_t((tb ? N : K) * ldb), seed + 1);
  auto C0 = random_vec(size_t(M * ldc), seed + 2);
  if (beta == 0.f)
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) C0[size_t(i * ldc + j)] = std::numeric_limits<float>::quiet_NaN();
  auto want = C0, got = C0;
  gemm_ref(ta, tb, M, N, K, alpha, A.data(), lda, B.data(), ldb, beta, want.data(), ldc);
  gemm(ta, tb, M, N, K, alpha, A.data(), lda, B.data(), ldb, beta, got.data(), ldc);
  // Padding columns of C must be left alone.
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = N; j < ldc; ++j) {
      const float g = got[size_t(i * ldc + j)], c = C0[size_t(i * ldc + j)];
      EXPECT_MSG(g == c || (std::isnan(g) && std::isnan(c)), "gemm wrote outside N");
    }
  const double err = alm_test::rel_l2(got.data(), want.data(), got.size());
  EXPECT_MSG(err < kTol, "gemm ta=" + std::to_string(ta) + " tb=" + std::to_string(tb) + " M=" +
                             std::to_string(M) + " N=" + std::to_string(N) + " K=" + std::to_string(K) +
                             " error " + std::to_string(err));
}

struct Mnk { int64_t m, n, k; };

// Largest |got - want| / (|want| + floor) over the array.
double max_rel(const std::vector<float>& got, const std::vector<float>& want, double floor) {
  double worst = 0;
  for (size_t i = 0; i < got.size(); ++i)
    worst = std::max(worst, std::fabs(double(got[i]) - want[i]) / (std::fabs(double(want[i])) + floor));
  return worst;
}

}  // namespace

TEST(gemm_shapes_and_transposes) {
  const std::vector<Mnk> shapes = {{1, 1, 1},     {1, 37, 19},   {1, 2048, 512}, {3, 2048, 128},
                                   {4, 33, 300},  {37, 1, 29},   {300, 3, 70},   {2, 3, 4},
                                   {5, 5, 5},     {7, 33, 300},  {64, 64, 64},   {130, 70, 513},
                                   {200, 300, 257}, {13, 4100, 40}, {6, 16, 1},  {171, 49, 3},
                                   // several column blocks (deep K narrows them), several M blocks
                                   {50, 600, 2000}, {400, 40, 300},
                                   // edges of the 12x32 and 6x16 tiles
                                   {12, 32, 17}, {13, 33, 31}, {23, 31, 64}, {25, 65, 257},
                                   {11, 97, 5}, {169, 47, 300},
                                   // A too big to pack whole up front: the M-blocked path
                                   {520, 70, 520}, {700, 45, 400}};
  for_each_isa([&] {
    uint32_t seed = 1;
    for (const auto& s : shapes)
      for (int t = 0; t < 4; ++t) check_gemm(t & 1, t & 2, s.m, s.n, s.k, 1.f, 0.f, seed += 7);
  });
}

TEST(gemm_alpha_beta) {
  for_each_isa([] {
    const std::vector<Mnk> shapes = {{1, 50, 20}, {9, 40, 300}, {50, 2, 20}, {100, 100, 100},
                                     {25, 33, 600}, {249, 70, 96}};
    uint32_t seed = 100;
    for (const auto& s : shapes) {
      check_gemm(false, false, s.m, s.n, s.k, 0.5f, 1.f, seed++);
      check_gemm(true, false, s.m, s.n, s.k, -1.5f, 0.25f, seed++);
      check_gemm(false, true, s.m, s.n, s.k, 2.f, 1.f, seed++);
      check_gemm(true, true, s.m, s.n, s.k, 1.f, -1.f, seed++);
    }
    // The M-blocked path with two column blocks, accumulating into C.
    check_gemm(false, true, 260, 1060, 1030, 1.f, 0.5f, seed++);
    check_gemm(true, false, 260, 1060, 1030, 0.75f, 0.f, seed++);
  });
}

TEST(gemm_degenerate_and_odd_thread_counts) {
  // K == 0 and alpha == 0 scale C by beta (and clear it, NaN included, when beta is 0).
  std::vector<float> C = {std::nanf(""), 2.f, 3.f, 4.f};
  gemm(false, false, 2, 2, 0, 1.f, nullptr, 1, nullptr, 2, 0.f, C.data(), 2);
  EXPECT(C[0] == 0.f && C[3] == 0.f);
  C = {1.f, 2.f, 3.f, 4.f};
  const std::vector<float> A(4, 1.f);
  gemm(false, false, 2, 2, 2, 0.f, A.data(), 2, A.data(), 2, 2.f, C.data(), 2);
  EXPECT(C[0] == 2.f && C[3] == 8.f);
  // Splits that do not divide evenly over the pool.
  set_num_threads(3);
  try {
    for_each_isa([] {
      check_gemm(false, false, 97, 131, 260, 1.f, 0.f, 900);
      check_gemm(true, true, 1, 1000, 300, 1.f, 1.f, 901);
      check_gemm(false, true, 500, 2, 77, 1.f, 0.f, 902);
      check_gemm(true, false, 64, 300, 200, 1.f, 0.5f, 903);
    });
  } catch (...) {
    set_num_threads(0);
    throw;
  }
  set_num_threads(0);
}

TEST(simd_levels) {
  const int top = simd_max_level();
  EXPECT(top >= 0 && top <= 2);
  EXPECT(simd_level() == top);
  set_simd_level(0);
  EXPECT(simd_level() == 0 && !simd_avx2_active() && !simd_avx512_active());
  EXPECT(std::string(simd_kernel_name()) == "portable");
  set_simd_level(1);
  EXPECT(simd_level() == std::min(1, top) && simd_avx2_active() == (top >= 1) && !simd_avx512_active());
  set_simd_level(7);  // clamped, and never above the CPU's
  EXPECT(simd_level() == top && simd_avx512_active() == (top >= 2) && simd_avx2_active() == (top >= 1));
  EXPECT(std::string(simd_kernel_name()) == (top == 2 ? "avx512" : top == 1 ? "avx2+fma" : "portable"));
  set_simd_enabled(false);
  EXPECT(simd_level() == 0);
  set_simd_enabled(true);
  EXPECT(simd_level() == top);
}

TEST(gemm_errors) {
  std::vector<float> buf(64, 1.f);
  EXPECT_THROWS_CODE(gemm(false, false, 4, 4, 4, 1.f, buf.data(), 3, buf.data(), 4, 0.f, buf.data(), 4), kBadArg);
  EXPECT_THROWS_CODE(gemm(false, true, 4, 4, 4, 1.f, buf.data(), 4, buf.data(), 3, 0.f, buf.data(), 4), kBadArg);
  EXPECT_THROWS_CODE(gemm(false, false, 4, 4, 4, 1.f, buf.data(), 4, buf.data(), 4, 0.f, buf.data(), 3), kBadArg);
  EXPECT_THROWS_CODE(gemm(false, false, -1, 4, 4, 1.f, buf.data(), 4, buf.data(), 4, 0.f, buf.data(), 4), kBadArg);
  EXPECT_THROWS_CODE(gemm(false, false, 4, 4, 4, 1.f, nullptr, 4, buf.data(), 4, 0.f, buf.data(), 4), kBadArg);
}

namespace {

void check_conv(const Conv1dShape& s, int64_t in_len, bool with_bias, uint32_t seed) {
  const int64_t tout = conv1d_out_len(s, in_len);
  const auto x = random_vec(size_t(s.in_channels * in_len), seed);
  const auto w = random_vec(size_t(s.out_channels * (s.in_channels / s.groups) * s.kernel), seed + 1);
  const auto b = random_vec(size_t(s.out_channels), seed + 2);
  std::vector<float> got(size_t(s.out_channels * tout), std::nanf("")), want(got.size());
  conv1d_ref(s, x.data(), in_len, w.data(), with_bias ? b.data() : nullptr, want.data());
  conv1d(s, x.data(), in_len, w.data(), with_bias ? b.data() : nullptr, got.data());
  EXPECT_CLOSE(got.data(), want.data(), got.size(), kTol);
}

void check_conv_transpose(const Conv1dShape& s, int64_t in_len, bool with_bias, uint32_t seed) {
  const int64_t tout = conv_transpose1d_out_len(s, in_len);
  const auto x = random_vec(size_t(s.in_channels * in_len), seed);
  const auto w = random_vec(size_t(s.in_channels * (s.out_channels / s.groups) * s.kernel), seed + 1);
  const auto b = random_vec(size_t(s.out_channels), seed + 2);
  std::vector<float> got(size_t(s.out_channels * tout), std::nanf("")), want(got.size());
  conv_transpose1d_ref(s, x.data(), in_len, w.data(), with_bias ? b.data() : nullptr, want.data());
  conv_transpose1d(s, x.data(), in_len, w.data(), with_bias ? b.data() : nullptr, got.data());
  EXPECT_CLOSE(got.data(), want.data(), got.size(), kTol);
}

}  // namespace

TEST(conv1d_against_ref) {
  for_each_isa([] {
    uint32_t seed = 10;
    //                 Cin Cout K  stride dil groups    T
    check_conv({1, 32, 7}, 3001, true, seed++);
    check_conv({32, 16, 3, 1, 3}, 1000, true, seed++);
    check_conv({16, 32, 1}, 777, true, seed++);          // 1x1 fast path
    check_conv({16, 32, 1}, 777, false, seed++);
    check_conv({32, 64, 4, 2}, 999, true, seed++);
    check_conv({12, 18, 5, 3, 2, 3}, 500, false, seed++);  // stride, dilation and groups together
    check_conv({8, 8, 3, 1, 1, 8}, 300, true, seed++);     // depthwise
    check_conv({6, 4, 1, 2, 1, 2}, 101, true, seed++);     // 1x1 with stride is not the fast path
    check_conv({64, 24, 7}, 150, true, seed++);            // wide rows: chunks of kMinChunk
    check_conv({32, 1, 7}, 5000, true, seed++);            // one output channel: skinny GEMM
    check_conv({5, 3, 7}, 7, true, seed++);                // a single output sample
  });
}

TEST(conv1d_grouped_long_kernels_and_wide_rows) {
  // HuBERT's positional conv (groups 16, kernel 128, padded by the caller) scaled down in
  // channels, then its feature extractor's short strided convs at full width: (chunk, group)
  // pairs side by side, and chunks widened past the column budget.
  for_each_isa([] {
    uint32_t seed = 300;
    check_conv({128, 128, 128, 1, 1, 16}, 250 + 127, true, seed++);
    check_conv({64, 64, 128, 1, 1, 16}, 600, false, seed++);  // an uneven last chunk
    check_conv({512, 512, 3, 2}, 251, true, seed++);
    check_conv({512, 512, 2, 2}, 500, false, seed++);
    check_conv({96, 48, 5, 1, 2, 3}, 700, true, seed++);      // groups with dilation
  });
  // Once at full size.
  check_conv({768, 768, 128, 1, 1, 16}, 250 + 127, true, 399);
}

TEST(conv1d_long_input_chunks) {
  // Long enough for many time chunks run in parallel.
  check_conv({8, 16, 7}, 40000, true, 77);
  check_conv({512, 32, 7}, 300, true, 78);
}

TEST(pad1d_modes_then_conv) {
  const std::vector<float> x = {1, 2, 3, 4, 5, 6, 7, 8};  // 2 channels of 4
  std::vector<float> y(2 * 9);
  pad1d(x.data(), 2, 4, 3, 2, PadMode::Reflect, y.data());
  const std::vector<float> reflect = {4, 3, 2, 1, 2, 3, 4, 3, 2, 8, 7, 6, 5, 6, 7, 8, 7, 6};
  EXPECT(y == reflect);
  pad1d(x.data(), 2, 4, 3, 2, PadMode::Replicate, y.data());
  const std::vector<float> replicate = {1, 1, 1, 1, 2, 3, 4, 4, 4, 5, 5, 5, 5, 6, 7, 8, 8, 8};
  EXPECT(y == replicate);
  pad1d(x.data(), 2, 4, 3, 2, PadMode::Zero, y.data());
  const std::vector<float> zero = {0, 0, 0, 1, 2, 3, 4, 0, 0, 0, 0, 0, 5, 6, 7, 8, 0, 0};
  EXPECT(y == zero);

  // Each mode feeding a dilated, strided convolution, as the SEANet encoder pads.
  const Conv1dShape s{6, 10, 7, 2, 2};
  const int64_t len = 200, left = 9, right = 3;
  const auto xr = random_vec(size_t(6 * len), 5);
  const auto w = random_vec(size_t(10 * 6 * 7), 6);
  for (PadMode mode : {PadMode::Zero, PadMode::Reflect, PadMode::Replicate}) {
    std::vector<float> padded(size_t(6 * (len + left + right)));
    pad1d(xr.data(), 6, len, left, right, mode, padded.data());
    const int64_t tout = conv1d_out_len(s, len + left + right);
    std::vector<float> got(size_t(10 * tout)), want(got.size());
    conv1d_ref(s, padded.data(), len + left + right, w.data(), nullptr, want.data());
    conv1d(s, padded.data(), len + left + right, w.data(), nullptr, got.data());
    EXPECT_CLOSE(got.data(), want.data(), got.size(), kTol);
  }
}

TEST(conv_transpose1d_against_ref) {
  for_each_isa([] {
    uint32_t seed = 40;
    check_conv_transpose({64, 32, 16, 8}, 60, true, seed++);  // EnCodec's upsamplers, scaled down
    check_conv_transpose({32, 16, 10, 5}, 123, true, seed++);
    check_conv_transpose({16, 8, 8, 4}, 301, false, seed++);
    check_conv_transpose({8, 4, 4, 2}, 1000, true, seed++);
    check_conv_transpose({6, 9, 5, 3, 2, 3}, 77, true, seed++);  // groups and dilation
    check_conv_transpose({16, 8, 1}, 333, true, seed++);         // 1x1 fast path
    check_conv_transpose({4, 4, 1, 1, 1, 2}, 50, false, seed++);
    check_conv_transpose({3, 5, 3, 2}, 1, true, seed++);         // a single input sample
    check_conv_transpose({128, 4, 7, 1}, 5000, true, seed++);    // several time chunks
  });
}

TEST(conv_parallel_chunks) {
  // Chunks side by side, on a pool size that does not divide their count, including transposed
  // chunks whose outputs overlap (even/odd rounds) and ones that reach past a whole chunk.
  set_num_threads(3);
  try {
    uint32_t seed = 80;
    check_conv({16, 8, 7, 3, 2}, 30001, true, seed++);
    check_conv({32, 32, 1}, 9000, true, seed++);
    check_conv_transpose({64, 32, 4, 2}, 3001, true, seed++);
    check_conv_transpose({32, 16, 10, 5}, 2000, false, seed++);
    check_conv_transpose({64, 16, 3, 1, 100}, 3000, true, seed++);
    check_conv_transpose({64, 16, 3, 1, 300}, 3000, true, seed++);  // too far for two rounds
  } catch (...) {
    set_num_threads(0);
    throw;
  }
  set_num_threads(0);
}

TEST(conv_errors) {
  std::vector<float> buf(1024, 1.f);
  // Kernel span 13 over 12 samples.
  EXPECT_THROWS_CODE(conv1d_out_len({1, 1, 7, 1, 2}, 12), kBadArg);
  EXPECT_THROWS_CODE(conv1d({2, 2, 5}, buf.data(), 4, buf.data(), nullptr, buf.data() + 512), kBadArg);
  EXPECT_THROWS_CODE(conv1d({3, 4, 3, 1, 1, 2}, buf.data(), 40, buf.data(), nullptr, buf.data() + 512), kBadArg);
  EXPECT_THROWS_CODE(conv1d({2, 2, 3, 0}, buf.data(), 40, buf.data(), nullptr, buf.data() + 512), kBadArg);
  EXPECT_THROWS_CODE(conv_transpose1d({2, 2, 3}, buf.data(), 0, buf.data(), nullptr, buf.data() + 512), kBadArg);
  EXPECT_THROWS_CODE(pad1d(buf.data(), 1, 4, 4, 0, PadMode::Reflect, buf.data() + 512), kBadArg);
  EXPECT_THROWS_CODE(pad1d(buf.data(), 1, 4, 0, 5, PadMode::Reflect, buf.data() + 512), kBadArg);
  EXPECT_THROWS_CODE(pad1d(buf.data(), 1, 4, -1, 0, PadMode::Zero, buf.data() + 512), kBadArg);
  pad1d(buf.data(), 1, 4, 3, 3, PadMode::Reflect, buf.data() + 512);  // the largest legal reflect
}

TEST(activations_special_values) {
  const float inf = std::numeric_limits<float>::infinity();
  for_each_isa([&] {
    // 9 values so that the AVX2 path covers both a full vector and its masked tail.
    auto run = [&](void (*fn)(float*, int64_t)) {
      std::vector<float> v = {-inf, inf, std::nanf(""), -inf, inf, std::nanf(""), -inf, inf, std::nanf("")};
      fn(v.data(), int64_t(v.size()));
      for (size_t i = 0; i < v.size(); i += 3) EXPECT(std::isnan(v[i + 2]));
      return v;
    };
    auto g = run(gelu);
    EXPECT(g[0] == 0.f && g[1] == inf && g[6] == 0.f);
    auto gt = run(gelu_tanh);
    EXPECT(gt[0] == 0.f && gt[1] == inf && gt[6] == 0.f);
    auto e = run([](float* p, int64_t n) { elu(p, n, 0.5f); });
    EXPECT(e[0] == -0.5f && e[1] == inf && e[6] == -0.5f);
    auto s = run(sigmoid);
    EXPECT(s[0] == 0.f && s[1] == 1.f && s[7] == 1.f);
    auto t = run(tanh_inplace);
    EXPECT(t[0] == -1.f && t[1] == 1.f && t[6] == -1.f);
  });
}

TEST(activations_against_ref) {
  auto x = random_vec(100003, 3, -12.f, 12.f);
  // Values near zero, where expm1 and tanh lose relative accuracy if done naively.
  const auto tiny = random_vec(1000, 4, -1e-3f, 1e-3f);
  std::copy(tiny.begin(), tiny.end(), x.begin());
  x[1000] = 0.f;
  x[1001] = -0.f;
  // Far tails, where exp's argument must be clamped as a whole.
  const float far[] = {-1e4f, -300.f, -100.f, -30.f, -16.f, -14.5f, -13.f, 13.f, 16.f, 30.f, 100.f, 1e4f};
  std::copy(std::begin(far), std::end(far), x.begin() + 1002);
  // Element-wise bound on |got - want| / (|want| + 1e-30).
  struct Case { const char* name; void (*fast)(float*, int64_t); void (*ref)(float*, int64_t); double tol; };
  const Case cases[] = {
      {"elu", [](float* p, int64_t n) { elu(p, n, 1.f); }, [](float* p, int64_t n) { elu_ref(p, n, 1.f); }, 2e-6},
      {"elu0.5", [](float* p, int64_t n) { elu(p, n, 0.5f); }, [](float* p, int64_t n) { elu_ref(p, n, 0.5f); }, 2e-6},
      {"gelu", gelu, gelu_ref, 2e-6},
      // The tail exp(-2u) inherits the float rounding of a cubic argument (about 1e-7 of |2u|,
      // which reaches 60 near x = -9), as torch's float kernel does.
      {"gelu_tanh", gelu_tanh, gelu_tanh_ref, 2e-5},
      {"sigmoid", sigmoid, sigmoid_ref, 2e-6},
      {"tanh", tanh_inplace, tanh_inplace_ref, 2e-6},
  };
  for_each_isa([&] {
    for (const auto& c : cases) {
      auto got = x, want = x;
      c.fast(got.data(), int64_t(got.size()));
      c.ref(want.data(), int64_t(want.size()));
      EXPECT_CLOSE(got.data(), want.data(), got.size(), kTol);
      const double worst = max_rel(got, want, 1e-30);
      EXPECT_MSG(worst < c.tol, std::string(c.name) + ": element-wise relative error " + std::to_string(worst));
    }
  });
}

namespace {

struct LstmWeights {
  std::vector<float> w_ih, w_hh, b_ih, b_hh;
  LstmLayerWeights view(int64_t I, int64_t H, bool bias) const {
    return {I, H, w_ih.data(), w_hh.data(), bias ? b_ih.data() : nullptr, bias ? b_hh.data() : nullptr};
  }
};

LstmWeights random_lstm(int64_t I, int64_t H, uint32_t seed) {
  // torch's init scale, 1/sqrt(H), keeps the gates away from saturation as in trained models.
  const float r = 1.f / std::sqrt(float(H));
  return {random_vec(size_t(4 * H * I), seed, -r, r), random_vec(size_t(4 * H * H), seed + 1, -r, r),
          random_vec(size_t(4 * H), seed + 2, -r, r), random_vec(size_t(4 * H), seed + 3, -r, r)};
}

}  // namespace

TEST(lstm_two_layers_batch3) {
  for_each_isa([] {
    const int64_t T = 23, B = 3, I = 20, H1 = 33, H2 = 16;
    const auto l1 = random_lstm(I, H1, 11), l2 = random_lstm(H1, H2, 21);
    const auto x = random_vec(size_t(T * B * I), 31, -2.f, 2.f);
    for (bool bias : {true, false}) {
      const std::vector<LstmLayerWeights> layers = {l1.view(I, H1, bias), l2.view(H1, H2, bias)};
      std::vector<float> got(size_t(T * B * H2)), want(got.size());
      lstm_ref(layers, x.data(), T, B, want.data());
      lstm(layers, x.data(), T, B, got.data());
      EXPECT_CLOSE(got.data(), want.data(), got.size(), kTol);
    }
  });
}

TEST(lstm_single_layer_wide) {
  const int64_t T = 12, B = 1, I = 128, H = 256;
  const auto l = random_lstm(I, H, 41);
  const auto x = random_vec(size_t(T * B * I), 42);
  std::vector<float> got(size_t(T * B * H)), want(got.size());
  lstm_layer_ref(l.view(I, H, true), x.data(), T, B, want.data());
  lstm_layer(l.view(I, H, true), x.data(), T, B, got.data());
  EXPECT_CLOSE(got.data(), want.data(), got.size(), kTol);
}

TEST(lstm_errors) {
  const auto l1 = random_lstm(4, 8, 1), l2 = random_lstm(5, 8, 2);
  std::vector<float> x(64), y(64);
  const std::vector<LstmLayerWeights> mismatched = {l1.view(4, 8, true), l2.view(5, 8, true)};
  EXPECT_THROWS_CODE(lstm(mismatched, x.data(), 2, 1, y.data()), kBadArg);
  EXPECT_THROWS_CODE(lstm({}, x.data(), 2, 1, y.data()), kBadArg);
  EXPECT_THROWS_CODE(lstm_layer(l1.view(4, 8, true), x.data(), 2, 0, y.data()), kBadArg);
}

namespace {

struct Codebooks {
  std::vector<std::vector<float>> data;
  RvqCodebooks cb;
};

Codebooks random_codebooks(int64_t levels, int64_t size, int64_t dim, uint32_t seed) {
  Codebooks c;
  for (int64_t l = 0; l < levels; ++l) {
    // Later levels quantise smaller residuals, so their codes are smaller.
    const float scale = 1.f / float(1 + l);
    c.data.push_back(random_vec(size_t(size * dim), seed + uint32_t(l), -scale, scale));
  }
  c.cb.num_levels = levels;
  c.cb.codebook_size = size;
  c.cb.dim = dim;
  for (auto& d : c.data) c.cb.embed.push_back(d.data());
  return c;
}

}  // namespace

TEST(rvq_encode_decode_against_ref) {
  const int64_t L = 6, S = 256, D = 32, T = 777, used = 4;
  auto books = random_codebooks(L, S, D, 50);
  const auto x = random_vec(size_t(T * D), 60);
  std::vector<int32_t> want(size_t(used * T));
  rvq_encode_ref(books.cb, used, x.data(), T, want.data());
  for (bool cached : {false, true}) {
    if (cached) rvq_cache_norms(books.cb);
    for_each_isa([&] {
      std::vector<int32_t> got(size_t(used * T), -1);
      rvq_encode(books.cb, used, x.data(), T, got.data());
      int64_t same = 0;
      for (size_t i = 0; i < got.size(); ++i) same += got[i] == want[i];
      EXPECT_MSG(double(same) >= 0.999 * double(got.size()),
                 "only " + std::to_string(same) + " of " + std::to_string(got.size()) + " codes agree");
    });
  }
  std::vector<float> got(size_t(T * D)), ref(got.size());
  rvq_decode(books.cb, used, want.data(), T, got.data());
  rvq_decode_ref(books.cb, used, want.data(), T, ref.data());
  EXPECT(std::memcmp(got.data(), ref.data(), got.size() * sizeof(float)) == 0);
  // Quantising a sum of codes recovers them: each level's code is the exact nearest.
  std::vector<int32_t> codes(size_t(used * T)), back(codes.size());
  for (size_t i = 0; i < codes.size(); ++i) codes[i] = int32_t((i * 37) % size_t(S));
  rvq_decode(books.cb, 1, codes.data(), T, got.data());
  rvq_encode(books.cb, 1, got.data(), T, back.data());
  EXPECT(std::equal(back.begin(), back.begin() + T, codes.begin()));
}

TEST(rvq_ties_go_to_the_lowest_index) {
  auto books = random_codebooks(1, 64, 16, 90);
  // Codes 40 and 9 equal code 50, and x is code 50 itself: three exact ties at distance 0.
  std::copy(books.data[0].begin() + 50 * 16, books.data[0].begin() + 51 * 16, books.data[0].begin() + 40 * 16);
  std::copy(books.data[0].begin() + 50 * 16, books.data[0].begin() + 51 * 16, books.data[0].begin() + 9 * 16);
  std::vector<float> x(books.data[0].begin() + 50 * 16, books.data[0].begin() + 51 * 16);
  for (int rep = 0; rep < 2; ++rep) x.insert(x.end(), x.begin(), x.begin() + 16);
  for_each_isa([&] {
    std::vector<int32_t> fast(3), ref(3);
    rvq_encode(books.cb, 1, x.data(), 3, fast.data());
    rvq_encode_ref(books.cb, 1, x.data(), 3, ref.data());
    EXPECT(fast == std::vector<int32_t>(3, 9) && ref == std::vector<int32_t>(3, 9));
  });
}

TEST(rvq_errors) {
  auto books = random_codebooks(2, 8, 4, 70);
  std::vector<int32_t> codes = {0, 1, 2, 3, 4, 8};  // level 1, frame 2 is out of range
  std::vector<float> y(12), x(12, 0.5f);
  EXPECT_THROWS_CODE(rvq_decode(books.cb, 2, codes.data(), 3, y.data()), kBadArg);
  EXPECT_THROWS_CODE(rvq_decode_ref(books.cb, 2, codes.data(), 3, y.data()), kBadArg);
  codes[5] = -1;
  EXPECT_THROWS_CODE(rvq_decode(books.cb, 2, codes.data(), 3, y.data()), kBadArg);
  try {
    rvq_decode(books.cb, 2, codes.data(), 3, y.data());
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT(msg.find("level 1") != std::string::npos && msg.find("frame 2") != std::string::npos);
  }
  EXPECT_THROWS_CODE(rvq_encode(books.cb, 3, x.data(), 3, codes.data()), kBadArg);
  EXPECT_THROWS_CODE(rvq_encode(books.cb, 0, x.data(), 3, codes.data()), kBadArg);
}

TEST_MAIN()
