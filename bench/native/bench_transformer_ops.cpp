// Times the transformer-stage kernels against their scalar references: attention for a decode
// step (one query against a 1024- or 4096-key cache) and a causal prefill, the norms, softmax,
// rotary and token sampling. Prints a table and, last, one JSON line. Medians of repeated runs
// after a warm-up, with the fastest run beside them: on a shared machine the gap shows noise.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "core/threadpool.h"
#include "cpu/attention.h"
#include "cpu/gemm.h"
#include "cpu/norm.h"
#include "cpu/sample.h"
#include "tests/harness.h"
#include "bench_util.h"

using namespace alm;
using alm_bench::Timing;
using alm_bench::time_calls;

namespace {

struct Row {
  std::string name;
  double flops;  // 0: not reported
  double bytes;  // 0: not reported
  Timing fast;
  double ref_s;  // median; < 0: not timed
};

std::vector<Row> g_rows;

void report(const std::string& name, double flops, double bytes, Timing fast, double ref_s) {
  g_rows.push_back({name, flops, bytes, fast, ref_s});
  std::printf("%-44s %9.3f ms (best %8.3f)", name.c_str(), fast.median_s * 1e3, fast.best_s * 1e3);
  if (flops > 0) std::printf(" %7.1f GFLOP/s", flops / fast.median_s * 1e-9);
  else std::printf(" %15s", "");
  if (bytes > 0) std::printf(" %7.1f GB/s", bytes / fast.median_s * 1e-9);
  else std::printf(" %12s", "");
  if (ref_s > 0) std::printf("   ref %9.3f ms   x%.1f", ref_s * 1e3, ref_s / fast.median_s);
  std::printf("\n");
  std::fflush(stdout);
}

// Causal self-attention of Tq queries ending at position Tk - 1 (Tq = 1: a decode step,
// Tq = Tk: a prefill). FLOPs count the visible pairs only: 2 * head_dim each for q.k and p.v.
void bench_attention(const std::string& label, int64_t heads, int64_t kv_heads, int64_t hd, int64_t Tq, int64_t Tk,
                     bool with_ref) {
  const AttentionShape shape{heads, kv_heads, hd, 1.f / std::sqrt(float(hd)), true};
  const int64_t kv_stride = kv_heads * hd, q_pos0 = Tk - Tq;
  const auto q = alm_test::random_vec(size_t(Tq * heads * hd), 1);
  const auto k = alm_test::random_vec(size_t(Tk * kv_stride), 2);
  const auto v = alm_test::random_vec(size_t(Tk * kv_stride), 3);
  std::vector<float> out(q.size());
  double pairs = 0;
  for (int64_t i = 0; i < Tq; ++i) pairs += double(std::min(Tk, q_pos0 + i + 1));
  const double flops = 4.0 * double(hd) * pairs * double(heads);
  const double bytes = Tq == 1 ? 2.0 * double(Tk) * double(kv_stride) * 4.0 : 0.0;  // the KV cache, read once
  const auto run = [&] {
    attention(shape, q.data(), Tq, q_pos0, k.data(), v.data(), Tk, kv_stride, nullptr, 0, 0, out.data());
  };
  const Timing fast = time_calls(run, 0.5, 5);
  double ref = -1;
  if (with_ref)
    ref = time_calls([&] {
            attention_ref(shape, q.data(), Tq, q_pos0, k.data(), v.data(), Tk, kv_stride, nullptr, 0, 0, out.data());
          }, 0, flops > 1e8 ? 1 : 3).median_s;
  report(label + " h" + std::to_string(heads) + "/" + std::to_string(kv_heads) + " hd" + std::to_string(hd) + " Tq" +
             std::to_string(Tq) + " Tk" + std::to_string(Tk),
         flops, bytes, fast, ref);
}

void bench_norms(int64_t rows, int64_t dim) {
  const auto x = alm_test::random_vec(size_t(rows * dim), 4);
  const auto w = alm_test::random_vec(size_t(dim), 5), b = alm_test::random_vec(size_t(dim), 6);
  std::vector<float> y(x.size());
  const double bytes = 8.0 * double(rows * dim);  // read x, write y
  const std::string shape = " " + std::to_string(rows) + "x" + std::to_string(dim);
  Timing fast = time_calls([&] { layer_norm(x.data(), rows, dim, w.data(), b.data(), 1e-5f, y.data()); }, 0.3, 5);
  double ref = time_calls([&] { layer_norm_ref(x.data(), rows, dim, w.data(), b.data(), 1e-5f, y.data()); }, 0.1, 3).median_s;
  report("layer_norm" + shape, 0, bytes, fast, ref);
  fast = time_calls([&] { rms_norm(x.data(), rows, dim, w.data(), 1e-5f, y.data()); }, 0.3, 5);
  ref = time_calls([&] { rms_norm_ref(x.data(), rows, dim, w.data(), 1e-5f, y.data()); }, 0.1, 3).median_s;
  report("rms_norm" + shape, 0, bytes, fast, ref);
}

void bench_softmax(int64_t rows, int64_t n) {
  const auto x0 = alm_test::random_vec(size_t(rows * n), 7, -8.f, 8.f);
  auto x = x0;
  // Restoring the input is part of each timed call (a memcpy, small against the exps).
  const Timing fast = time_calls([&] { x = x0; softmax_rows(x.data(), rows, n); }, 0.3, 5);
  const double ref = time_calls([&] { x = x0; softmax_rows_ref(x.data(), rows, n); }, 0.1, 3).median_s;
  report("softmax_rows " + std::to_string(rows) + "x" + std::to_string(n), 0, 8.0 * double(rows * n), fast, ref);
}

void bench_rotary(int64_t T, int64_t heads, int64_t hd) {
  auto x = alm_test::random_vec(size_t(T * heads * hd), 8);
  std::vector<int64_t> pos(static_cast<size_t>(T));
  for (int64_t t = 0; t < T; ++t) pos[size_t(t)] = t;
  const Timing fast = time_calls([&] { rotary(x.data(), T, heads, hd, hd, pos.data(), 10000.f); }, 0.3, 5);
  const double ref = time_calls([&] { rotary_ref(x.data(), T, heads, hd, hd, pos.data(), 10000.f); }, 0.1, 3).median_s;
  report("rotary T" + std::to_string(T) + " h" + std::to_string(heads) + " hd" + std::to_string(hd), 0,
         8.0 * double(T * heads * hd), fast, ref);
}

// Many draws with different u; the time is per call.
void bench_sample(const std::string& label, int64_t V, const SampleParams& p) {
  const auto logits = alm_test::random_vec(size_t(V), 9, -6.f, 6.f);
  std::vector<float> scratch;
  constexpr int kDraws = 200;
  int32_t sink = 0;
  uint64_t counter = 0;
  const Timing fast = time_calls([&] {
    for (int i = 0; i < kDraws; ++i) sink += sample_token(logits.data(), V, p, nullptr, rng_uniform(1, counter++), scratch);
  }, 0.3, 5);
  const double ref = time_calls([&] {
    for (int i = 0; i < kDraws; ++i) sink += sample_token_ref(logits.data(), V, p, nullptr, rng_uniform(1, counter++), scratch);
  }, 0.2, 3).median_s;
  if (sink == -1) std::printf(" ");
  report(label, 0, 0, {fast.median_s / kDraws, fast.best_s / kDraws}, ref / kDraws);
}

}  // namespace

int main() {
  std::printf("threads %d, AVX2/FMA kernels %s\n", num_threads(), simd_avx2_active() ? "on" : "off");
  std::printf("%-44s %12s %15s %15s\n", "case", "median", "best", "rate");
  bench_attention("attention decode", 16, 16, 64, 1, 1024, true);
  bench_attention("attention decode", 16, 16, 64, 1, 4096, true);
  bench_attention("attention decode gqa", 16, 4, 64, 1, 4096, false);
  bench_attention("attention prefill", 16, 16, 64, 512, 512, true);
  bench_attention("attention prefill", 16, 16, 64, 1500, 1500, false);
  set_num_threads(1);
  bench_attention("attention prefill 1 thread", 16, 16, 64, 512, 512, false);
  set_num_threads(0);
  set_simd_enabled(false);
  bench_attention("attention prefill portable", 16, 16, 64, 512, 512, false);
  set_simd_enabled(true);

  bench_norms(1, 1024);
  bench_norms(512, 1024);
  bench_softmax(64, 4096);
  bench_rotary(512, 16, 64);

  SampleParams top_k;
  top_k.top_k = 250;
  bench_sample("sample_token V4096 top_k=250", 4096, top_k);
  bench_sample("sample_token V4096 T=1", 4096, SampleParams{});
  SampleParams top_p;
  top_p.top_p = 0.9f;
  bench_sample("sample_token V4096 top_p=0.9", 4096, top_p);

  std::printf("{\"bench\":\"transformer_ops\",\"threads\":%d,\"avx2\":%s,\"results\":[", num_threads(),
              simd_avx2_active() ? "true" : "false");
  for (size_t i = 0; i < g_rows.size(); ++i) {
    const Row& r = g_rows[i];
    std::printf("%s{\"case\":\"%s\",\"ms\":%.5f,\"best_ms\":%.5f", i ? "," : "", r.name.c_str(),
                r.fast.median_s * 1e3, r.fast.best_s * 1e3);
    if (r.flops > 0) std::printf(",\"gflops\":%.2f", r.flops / r.fast.median_s * 1e-9);
    if (r.bytes > 0) std::printf(",\"gbps\":%.2f", r.bytes / r.fast.median_s * 1e-9);
    if (r.ref_s > 0) std::printf(",\"ref_ms\":%.4f,\"speedup\":%.1f", r.ref_s * 1e3, r.ref_s / r.fast.median_s);
    std::printf("}");
  }
  std::printf("]}\n");
  return 0;
}
