// Times the CPU kernels against their scalar references: GEMM at a few sizes (square, skinny
// LSTM-step shapes, one thread, portable kernels) and the convolutions of an EnCodec 24 kHz
// model. Prints a table and, last, one JSON line. Medians of repeated runs after a warm-up.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "core/threadpool.h"
#include "cpu/conv.h"
#include "cpu/gemm.h"
#include "tests/harness.h"

using namespace alm;

namespace {

// Median seconds per call: one warm-up call, then repeats until `budget_s` is spent (at least
// `min_reps`, at most 50).
double median_seconds(const std::function<void()>& fn, double budget_s, int min_reps) {
  using clock = std::chrono::steady_clock;
  fn();
  std::vector<double> times;
  const auto start = clock::now();
  while (times.size() < size_t(min_reps) ||
         (times.size() < 50 && std::chrono::duration<double>(clock::now() - start).count() < budget_s)) {
    const auto t0 = clock::now();
    fn();
    times.push_back(std::chrono::duration<double>(clock::now() - t0).count());
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

struct Row {
  std::string name;
  double flops, fast_s, ref_s;  // ref_s < 0: not timed (too slow)
};

std::vector<Row> g_rows;

void report(const std::string& name, double flops, double fast_s, double ref_s) {
  g_rows.push_back({name, flops, fast_s, ref_s});
  const double gf = flops / fast_s * 1e-9;
  if (ref_s > 0)
    std::printf("%-40s %9.3f ms %8.1f GFLOP/s   ref %9.2f ms %7.2f GFLOP/s   x%.1f\n", name.c_str(),
                fast_s * 1e3, gf, ref_s * 1e3, flops / ref_s * 1e-9, ref_s / fast_s);
  else
    std::printf("%-40s %9.3f ms %8.1f GFLOP/s\n", name.c_str(), fast_s * 1e3, gf);
  std::fflush(stdout);
}

void bench_gemm(const std::string& label, bool ta, bool tb, int64_t M, int64_t N, int64_t K, bool with_ref) {
  const auto A = alm_test::random_vec(size_t(M * K), 1), B = alm_test::random_vec(size_t(K * N), 2);
  std::vector<float> C(size_t(M * N));
  const int64_t lda = ta ? M : K, ldb = tb ? K : N;
  const double flops = 2.0 * double(M) * double(N) * double(K);
  const double fast = median_seconds(
      [&] { gemm(ta, tb, M, N, K, 1.f, A.data(), lda, B.data(), ldb, 0.f, C.data(), N); }, 0.5, 5);
  double ref = -1;
  if (with_ref) {
    const int reps = flops > 1e8 ? 1 : 3;
    ref = median_seconds(
        [&] { gemm_ref(ta, tb, M, N, K, 1.f, A.data(), lda, B.data(), ldb, 0.f, C.data(), N); }, 0, reps);
  }
  const std::string name = label + " " + std::to_string(M) + "x" + std::to_string(N) + "x" + std::to_string(K) +
                           (ta ? " At" : "") + (tb ? " Bt" : "");
  report(name, flops, fast, ref);
}

void bench_conv(const Conv1dShape& s, int64_t in_len, bool with_ref) {
  const int64_t tout = conv1d_out_len(s, in_len);
  const auto x = alm_test::random_vec(size_t(s.in_channels * in_len), 3);
  const auto w = alm_test::random_vec(size_t(s.out_channels * s.in_channels / s.groups * s.kernel), 4);
  const auto b = alm_test::random_vec(size_t(s.out_channels), 5);
  std::vector<float> y(size_t(s.out_channels * tout));
  const double flops = 2.0 * double(s.out_channels) * double(tout) * double(s.in_channels / s.groups * s.kernel);
  const double fast = median_seconds([&] { conv1d(s, x.data(), in_len, w.data(), b.data(), y.data()); }, 0.5, 5);
  const double ref = with_ref
      ? median_seconds([&] { conv1d_ref(s, x.data(), in_len, w.data(), b.data(), y.data()); }, 0, 1) : -1;
  char name[96];
  std::snprintf(name, sizeof name, "conv1d %ld->%ld k%ld s%ld d%ld T=%ld", long(s.in_channels),
                long(s.out_channels), long(s.kernel), long(s.stride), long(s.dilation), long(in_len));
  report(name, flops, fast, ref);
}

void bench_conv_transpose(const Conv1dShape& s, int64_t in_len, bool with_ref) {
  const int64_t tout = conv_transpose1d_out_len(s, in_len);
  const auto x = alm_test::random_vec(size_t(s.in_channels * in_len), 6);
  const auto w = alm_test::random_vec(size_t(s.in_channels * s.out_channels / s.groups * s.kernel), 7);
  std::vector<float> y(size_t(s.out_channels * tout));
  const double flops = 2.0 * double(s.in_channels) * double(in_len) * double(s.out_channels / s.groups * s.kernel);
  const double fast = median_seconds([&] { conv_transpose1d(s, x.data(), in_len, w.data(), nullptr, y.data()); }, 0.5, 5);
  const double ref = with_ref
      ? median_seconds([&] { conv_transpose1d_ref(s, x.data(), in_len, w.data(), nullptr, y.data()); }, 0, 1) : -1;
  char name[96];
  std::snprintf(name, sizeof name, "conv_transpose1d %ld->%ld k%ld s%ld T=%ld", long(s.in_channels),
                long(s.out_channels), long(s.kernel), long(s.stride), long(in_len));
  report(name, flops, fast, ref);
}

}  // namespace

int main() {
  std::printf("threads %d, AVX2/FMA kernels %s\n", num_threads(), simd_avx2_active() ? "on" : "off");
  std::printf("%-40s %12s %16s\n", "case", "median", "rate");
  for (int64_t n : {64, 256, 512}) bench_gemm("gemm", false, false, n, n, n, true);
  bench_gemm("gemm", false, false, 1024, 1024, 1024, false);
  bench_gemm("gemm", true, true, 512, 512, 512, false);
  bench_gemm("gemm", false, true, 750, 2048, 512, false);  // LSTM input projection
  bench_gemm("gemm lstm step", false, true, 1, 2048, 512, true);
  bench_gemm("gemm lstm step", false, true, 3, 2048, 512, true);
  bench_gemm("gemm matvec", false, false, 1, 4096, 1024, true);
  set_num_threads(1);
  bench_gemm("gemm 1 thread", false, false, 512, 512, 512, false);
  set_num_threads(0);
  set_simd_enabled(false);
  bench_gemm("gemm portable", false, false, 512, 512, 512, false);
  set_simd_enabled(true);

  // EnCodec 24 kHz encoder/decoder layers on 1 s of audio (24000 samples, 75 frames).
  bench_conv({1, 32, 7}, 24006, true);
  bench_conv({32, 16, 3}, 24002, true);
  bench_conv({16, 32, 1}, 24000, true);
  bench_conv({32, 64, 4, 2}, 24002, true);
  bench_conv({512, 128, 7}, 81, true);
  bench_conv_transpose({512, 256, 16, 8}, 75, true);
  bench_conv_transpose({64, 32, 4, 2}, 12000, true);

  std::printf("{\"bench\":\"ops\",\"threads\":%d,\"avx2\":%s,\"results\":[", num_threads(),
              simd_avx2_active() ? "true" : "false");
  for (size_t i = 0; i < g_rows.size(); ++i) {
    const Row& r = g_rows[i];
    std::printf("%s{\"case\":\"%s\",\"ms\":%.4f,\"gflops\":%.2f", i ? "," : "", r.name.c_str(), r.fast_s * 1e3,
                r.flops / r.fast_s * 1e-9);
    if (r.ref_s > 0)
      std::printf(",\"ref_ms\":%.3f,\"ref_gflops\":%.3f,\"speedup\":%.1f", r.ref_s * 1e3, r.flops / r.ref_s * 1e-9,
                  r.ref_s / r.fast_s);
    std::printf("}");
  }
  std::printf("]}\n");
  return 0;
}
