// The transformer-stage kernels (norms, softmax, sampling, few-row products) against their scalar
// references on random data, with the AVX2 kernels and with the portable ones, plus the statistics
// of the sampler and the argument errors callers rely on. Attention and positions: test_attention.cpp.
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
#include "tests/isa.h"

using namespace alm;
using alm_test::for_each_isa;
using alm_test::isa;
using alm_test::random_vec;

namespace {

constexpr double kTol = 1e-5;
const char* const kBadArg = "ERR_AUDIOLM_INVALID_ARGUMENT";
const float kInf = std::numeric_limits<float>::infinity();


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
