// Times the CPU kernels against their scalar references: GEMM at a few sizes (square, skinny
// LSTM-step shapes, one thread, portable kernels), the convolutions, activations, LSTM and RVQ
// of an EnCodec 24 kHz model. Prints a table and, last, one JSON line. Medians of repeated runs
// after a warm-up, with the fastest run beside them: on a shared machine the gap shows noise.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "core/threadpool.h"
#include "cpu/act.h"
#include "cpu/conv.h"
#include "cpu/gemm.h"
#include "cpu/lstm.h"
#include "cpu/rvq.h"
#include "tests/harness.h"
#include "bench_util.h"

using namespace alm;
using alm_bench::Timing;

namespace {
// This bench keeps to 50 repetitions per case (its GEMMs are large).
Timing time_calls(const std::function<void()>& fn, double budget_s, int min_reps) {
  return alm_bench::time_calls(fn, budget_s, min_reps, 50);
}
}  // namespace

namespace {

struct Row {
  std::string name;
  double flops;  // 0: report elements per second instead
  Timing fast;
  double ref_s;  // median; < 0: not timed (too slow)
};

std::vector<Row> g_rows;

void report(const std::string& name, double flops, Timing fast, double ref_s) {
  g_rows.push_back({name, flops, fast, ref_s});
  std::printf("%-40s %9.3f ms (best %8.3f)", name.c_str(), fast.median_s * 1e3, fast.best_s * 1e3);
  if (flops > 0) std::printf(" %7.1f GFLOP/s", flops / fast.median_s * 1e-9);
  else std::printf(" %15s", "");
  if (ref_s > 0) std::printf("   ref %9.2f ms   x%.1f", ref_s * 1e3, ref_s / fast.median_s);
  std::printf("\n");
  std::fflush(stdout);
}

void bench_gemm(const std::string& label, bool ta, bool tb, int64_t M, int64_t N, int64_t K, bool with_ref) {
  const auto A = alm_test::random_vec(size_t(M * K), 1), B = alm_test::random_vec(size_t(K * N), 2);
  std::vector<float> C(size_t(M * N));
  const int64_t lda = ta ? M : K, ldb = tb ? K : N;
  const double flops = 2.0 * double(M) * double(N) * double(K);
  const Timing fast = time_calls(
      [&] { gemm(ta, tb, M, N, K, 1.f, A.data(), lda, B.data(), ldb, 0.f, C.data(), N); }, 0.5, 5);
  double ref = -1;
  if (with_ref) {
    const int reps = flops > 1e8 ? 1 : 3;
    ref = time_calls(
        [&] { gemm_ref(ta, tb, M, N, K, 1.f, A.data(), lda, B.data(), ldb, 0.f, C.data(), N); }, 0, reps).median_s;
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
  const Timing fast = time_calls([&] { conv1d(s, x.data(), in_len, w.data(), b.data(), y.data()); }, 0.5, 5);
  const double ref = with_ref
      ? time_calls([&] { conv1d_ref(s, x.data(), in_len, w.data(), b.data(), y.data()); }, 0, 1).median_s : -1;
  char name[96];
  std::snprintf(name, sizeof name, "conv1d %ld->%ld k%ld s%ld d%ld%s T=%ld", long(s.in_channels),
                long(s.out_channels), long(s.kernel), long(s.stride), long(s.dilation),
                s.groups > 1 ? (" g" + std::to_string(s.groups)).c_str() : "", long(in_len));
  report(name, flops, fast, ref);
}

void bench_conv_transpose(const Conv1dShape& s, int64_t in_len, bool with_ref) {
  const int64_t tout = conv_transpose1d_out_len(s, in_len);
  const auto x = alm_test::random_vec(size_t(s.in_channels * in_len), 6);
  const auto w = alm_test::random_vec(size_t(s.in_channels * s.out_channels / s.groups * s.kernel), 7);
  std::vector<float> y(size_t(s.out_channels * tout));
  const double flops = 2.0 * double(s.in_channels) * double(in_len) * double(s.out_channels / s.groups * s.kernel);
  const Timing fast = time_calls([&] { conv_transpose1d(s, x.data(), in_len, w.data(), nullptr, y.data()); }, 0.5, 5);
  const double ref = with_ref
      ? time_calls([&] { conv_transpose1d_ref(s, x.data(), in_len, w.data(), nullptr, y.data()); }, 0, 1).median_s : -1;
  char name[96];
  std::snprintf(name, sizeof name, "conv_transpose1d %ld->%ld k%ld s%ld T=%ld", long(s.in_channels),
                long(s.out_channels), long(s.kernel), long(s.stride), long(in_len));
  report(name, flops, fast, ref);
}

void bench_activation(const char* name, void (*fast)(float*, int64_t), void (*ref)(float*, int64_t)) {
  // 32 channels of 1 s at 24 kHz, refreshed from a pristine copy so every call sees the same data.
  const auto x0 = alm_test::random_vec(size_t(32 * 24000), 8, -4.f, 4.f);
  auto x = x0;
  const Timing t = time_calls([&] { std::copy(x0.begin(), x0.end(), x.begin()); fast(x.data(), int64_t(x.size())); }, 0.3, 5);
  const double r = time_calls([&] { std::copy(x0.begin(), x0.end(), x.begin()); ref(x.data(), int64_t(x.size())); }, 0, 1).median_s;
  report(std::string(name) + " 32x24000 (incl. copy)", 0, t, r);
}

void bench_lstm() {
  // EnCodec's 2-layer LSTM at 512 units over 1 s of frames.
  const int64_t T = 75, H = 512;
  const float scale = 1.f / 22.6f;
  const auto w_ih = alm_test::random_vec(size_t(4 * H * H), 9, -scale, scale);
  const auto w_hh = alm_test::random_vec(size_t(4 * H * H), 10, -scale, scale);
  const auto bias = alm_test::random_vec(size_t(4 * H), 11, -scale, scale);
  const LstmLayerWeights layer{H, H, w_ih.data(), w_hh.data(), bias.data(), bias.data()};
  const std::vector<LstmLayerWeights> layers = {layer, layer};
  const auto x = alm_test::random_vec(size_t(T * H), 12);
  std::vector<float> y(size_t(T * H));
  const double flops = 2.0 * 2 * double(T) * 4 * H * (H + H);
  const Timing t = time_calls([&] { lstm(layers, x.data(), T, 1, y.data()); }, 0.5, 5);
  const double r = time_calls([&] { lstm_ref(layers, x.data(), T, 1, y.data()); }, 0, 1).median_s;
  report("lstm 2x512 T=75 B=1", flops, t, r);
}

void bench_rvq() {
  // EnCodec 24 kHz at 6 kbps: 8 of 32 levels, 1024 codes of 128 dims, 10 s of frames.
  const int64_t L = 8, S = 1024, D = 128, T = 750;
  std::vector<std::vector<float>> books;
  RvqCodebooks cb;
  cb.num_levels = L;
  cb.codebook_size = S;
  cb.dim = D;
  for (int64_t l = 0; l < L; ++l) books.push_back(alm_test::random_vec(size_t(S * D), 20 + uint32_t(l)));
  for (auto& b : books) cb.embed.push_back(b.data());
  rvq_cache_norms(cb);
  const auto x = alm_test::random_vec(size_t(T * D), 13);
  std::vector<int32_t> codes(size_t(L * T));
  const double flops = 2.0 * double(L) * double(T) * double(S) * double(D);
  const Timing t = time_calls([&] { rvq_encode(cb, L, x.data(), T, codes.data()); }, 0.5, 5);
  const double r = time_calls([&] { rvq_encode_ref(cb, L, x.data(), T, codes.data()); }, 0, 1).median_s;
  report("rvq_encode 8x1024x128 T=750", flops, t, r);
  std::vector<float> y(size_t(T * D));
  const Timing td = time_calls([&] { rvq_decode(cb, L, codes.data(), T, y.data()); }, 0.2, 5);
  const double rd = time_calls([&] { rvq_decode_ref(cb, L, codes.data(), T, y.data()); }, 0, 3).median_s;
  report("rvq_decode 8x1024x128 T=750", 0, td, rd);
}

}  // namespace

int main() {
  std::printf("threads %d, kernels %s\n", num_threads(), simd_kernel_name());
  std::printf("%-40s %12s %15s %15s\n", "case", "median", "best", "rate");
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
  // Transformer and conv-as-GEMM shapes, on each kernel level this CPU has (same run, so the
  // levels compare on equal terms).
  for (int level = simd_max_level(); level >= 1; --level) {
    set_simd_level(level);
    const std::string tag = std::string("gemm ") + simd_kernel_name();
    bench_gemm(tag, false, false, 512, 512, 512, false);
    bench_gemm(tag, false, true, 249, 768, 768, false);
    bench_gemm(tag, false, false, 64, 4096, 1024, false);
    bench_gemm(tag, false, false, 512, 8000, 1536, false);
  }
  set_simd_enabled(true);

  // EnCodec 24 kHz encoder/decoder layers on 1 s of audio (24000 samples, 75 frames).
  bench_conv({1, 32, 7}, 24006, true);
  bench_conv({32, 16, 3}, 24002, true);
  bench_conv({16, 32, 1}, 24000, true);
  bench_conv({32, 64, 4, 2}, 24002, true);
  bench_conv({512, 128, 7}, 81, true);
  // HuBERT: the positional conv (grouped, long kernel; the caller pads) and the feature
  // extractor's short strided convs.
  bench_conv({768, 768, 128, 1, 1, 16}, 250 + 127, false);
  bench_conv({512, 512, 3, 2}, 499, false);
  bench_conv({512, 512, 2, 2}, 250, false);
  bench_conv({512, 512, 3, 2}, 251, false);
  bench_conv_transpose({512, 256, 16, 8}, 75, true);
  bench_conv_transpose({256, 128, 10, 5}, 600, true);
  bench_conv_transpose({64, 32, 4, 2}, 12000, true);

  bench_activation("elu", [](float* p, int64_t n) { elu(p, n, 1.f); }, [](float* p, int64_t n) { elu_ref(p, n, 1.f); });
  bench_activation("gelu", gelu, gelu_ref);
  bench_lstm();
  bench_rvq();

  std::printf("{\"bench\":\"ops\",\"threads\":%d,\"avx2\":%s,\"kernels\":\"%s\",\"results\":[", num_threads(),
              simd_avx2_active() ? "true" : "false", simd_kernel_name());
  for (size_t i = 0; i < g_rows.size(); ++i) {
    const Row& r = g_rows[i];
    std::printf("%s{\"case\":\"%s\",\"ms\":%.4f,\"best_ms\":%.4f", i ? "," : "", r.name.c_str(),
                r.fast.median_s * 1e3, r.fast.best_s * 1e3);
    if (r.flops > 0) std::printf(",\"gflops\":%.2f", r.flops / r.fast.median_s * 1e-9);
    if (r.ref_s > 0) std::printf(",\"ref_ms\":%.3f,\"speedup\":%.1f", r.ref_s * 1e3, r.ref_s / r.fast.median_s);
    std::printf("}");
  }
  std::printf("]}\n");
  return 0;
}
