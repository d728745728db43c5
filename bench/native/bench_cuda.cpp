// Benchmarks of the CUDA kernels: median of event-timed runs after warm-up, reported against
// ceilings measured in the same run: device-to-device copy bandwidth (bytes read + written) and
// the rate of our own bf16 tensor-core GEMM on a large square product (no cuBLAS in this build,
// so that is the best measured FLOP rate here, not the chip's; an H100 SXM's dense bf16 datasheet
// rate is about 989 TFLOP/s). Without a GPU it says why and exits 0.
// Output: one table on stdout, and one JSON object per line after "#json".
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "cuda/cuda_api.h"
#include "tests/harness.h"

namespace cu = alm::cuda;

namespace {

struct Result {
  std::string name;
  double ms, gbs, tflops;
};

cu::Buffer random_device(size_t n, uint32_t seed, float lo = -1.f, float hi = 1.f) {
  auto v = alm_test::random_vec(n, seed, lo, hi);
  cu::Buffer b(n * sizeof(float));
  cu::copy_to_device(b.get(), v.data(), n * sizeof(float));
  cu::synchronize();
  return b;
}
cu::Buffer to_bf16(const cu::Buffer& f32, size_t n) {
  cu::Buffer b(n * sizeof(uint16_t));
  cu::f32_to_bf16(f32.as<float>(), b.as<uint16_t>(), n);
  return b;
}

}  // namespace

int main(int argc, char** argv) {
  std::string why;
  if (!cu::available(&why)) {
    std::printf("bench_cuda: no GPU, nothing to time (%s)\n", why.c_str());
    return 0;
  }
  const int warm = 5, reps = argc > 1 ? std::atoi(argv[1]) : 30;
  try {
    std::printf("device: %s\n", cu::device_summary().c_str());
    std::vector<Result> res;
    auto add = [&](const std::string& name, double ms, double bytes, double flops) {
      res.push_back({name, ms, bytes / ms * 1e-6, flops / ms * 1e-9});
    };

    // Ceiling 1: device-to-device copy of 1 GiB.
    const size_t copy_bytes = size_t(1) << 30;
    cu::Buffer src(copy_bytes), dst(copy_bytes);
    cu::fill_nan(src.as<float>(), copy_bytes / 4);
    double ms = cu::time_median_ms([&] { cu::copy_device(dst.get(), src.get(), copy_bytes); }, warm, reps);
    add("ceiling: d2d copy 1 GiB", ms, 2.0 * copy_bytes, 0);
    const double peak_gbs = res.back().gbs;
    src = cu::Buffer();
    dst = cu::Buffer();

    // Ceiling 2 (and the bf16 GEMM itself): large square bf16 products.
    double peak_tflops = 0;
    for (int64_t n : {4096, 8192}) {
      const size_t e = size_t(n * n);
      cu::Buffer a32 = random_device(e, 1), b32 = random_device(e, 2);
      cu::Buffer a = to_bf16(a32, e), b = to_bf16(b32, e), c(e * 4);
      ms = cu::time_median_ms([&] { cu::gemm_bf16(n, n, n, a.as<uint16_t>(), n, b.as<uint16_t>(), n, c.as<float>(), n); },
                              warm, reps);
      add("gemm_bf16 " + std::to_string(n) + "^3", ms, 2.0 * e * 2 + 4.0 * e, 2.0 * n * n * n);
      peak_tflops = std::max(peak_tflops, res.back().tflops);
      if (n == 4096) {
        ms = cu::time_median_ms([&] { cu::gemm_f32(n, n, n, a32.as<float>(), n, b32.as<float>(), n, c.as<float>(), n); },
                                warm, reps);
        add("gemm_f32 4096^3", ms, 12.0 * e, 2.0 * n * n * n);
      }
    }
    // Linear layers at prefill size: 2048 tokens x 1024 -> 4096.
    {
      const int64_t M = 2048, N = 4096, K = 1024;
      cu::Buffer a32 = random_device(size_t(M * K), 3), w32 = random_device(size_t(N * K), 4), c(size_t(M * N) * 4);
      cu::Buffer a = to_bf16(a32, size_t(M * K)), w = to_bf16(w32, size_t(N * K));
      ms = cu::time_median_ms([&] { cu::gemm_bf16(M, N, K, a.as<uint16_t>(), K, w.as<uint16_t>(), K, c.as<float>(), N); },
                              warm, reps);
      add("gemm_bf16 2048x4096x1024", ms, 2.0 * (M * K + N * K) + 4.0 * M * N, 2.0 * M * N * K);
    }
    // Decode-step products: weights 4096 x 4096 (64 MiB f32, beyond L2), M = 1 and 8 rows.
    {
      const int64_t N = 4096, K = 4096;
      cu::Buffer w32 = random_device(size_t(N * K), 5), x = random_device(size_t(32 * K), 6), y(size_t(32 * N) * 4);
      cu::Buffer w16 = to_bf16(w32, size_t(N * K));
      for (int64_t M : {1, 8, 32}) {
        ms = cu::time_median_ms([&] { cu::gemv_rows(M, N, K, x.as<float>(), K, w32.as<float>(), K, y.as<float>(), N); },
                                warm, reps);
        add("gemv_rows f32 M=" + std::to_string(M) + " 4096x4096", ms, 4.0 * (N * K + M * K + M * N), 2.0 * M * N * K);
        ms = cu::time_median_ms(
            [&] { cu::gemv_rows_bf16(M, N, K, x.as<float>(), K, w16.as<uint16_t>(), K, y.as<float>(), N); }, warm, reps);
        add("gemv_rows bf16 M=" + std::to_string(M) + " 4096x4096", ms, 2.0 * N * K + 4.0 * (M * K + M * N),
            2.0 * M * N * K);
      }
    }
    // Row ops on 8192 x 1024 (32 MiB).
    {
      const int64_t rows = 8192, dim = 1024;
      const size_t n = size_t(rows * dim);
      cu::Buffer x = random_device(n, 7), y(n * 4), w = random_device(size_t(dim), 8), b = random_device(size_t(dim), 9);
      ms = cu::time_median_ms(
          [&] { cu::layer_norm(x.as<float>(), rows, dim, w.as<float>(), b.as<float>(), 1e-5f, y.as<float>()); }, warm,
          reps);
      add("layer_norm 8192x1024", ms, 8.0 * n, 0);
      ms = cu::time_median_ms([&] { cu::rms_norm(x.as<float>(), rows, dim, w.as<float>(), 1e-6f, y.as<float>()); },
                              warm, reps);
      add("rms_norm 8192x1024", ms, 8.0 * n, 0);
      ms = cu::time_median_ms([&] { cu::softmax_rows(x.as<float>(), rows, dim); }, warm, reps);
      add("softmax_rows 8192x1024", ms, 8.0 * n, 0);
    }
    {
      const size_t n = size_t(64) << 20;
      cu::Buffer x = random_device(n, 10, -4.f, 4.f);
      ms = cu::time_median_ms([&] { cu::gelu(x.as<float>(), int64_t(n)); }, warm, reps);
      add("gelu 64M", ms, 8.0 * n, 0);
      ms = cu::time_median_ms([&] { cu::elu(x.as<float>(), int64_t(n), 1.f); }, warm, reps);
      add("elu 64M", ms, 8.0 * n, 0);
    }
    // Decode attention: batch 8, 16 heads of 64, 2048 cached keys (f32 cache).
    for (int64_t len : {256, 2048}) {
      const int64_t B = 8, H = 16, D = 64;
      cu::DecodeAttentionShape s{B, H, H, D, 0.125f, H * D, len * H * D, len};
      const size_t kv = size_t(B * len * H * D);
      cu::Buffer q = random_device(size_t(B * H * D), 11), k = random_device(kv, 12), v = random_device(kv, 13);
      cu::Buffer out(size_t(B * H * D) * 4), ws(cu::attention_decode_workspace_bytes(s)), lens(size_t(B) * 4);
      std::vector<int32_t> hl(static_cast<size_t>(B), static_cast<int32_t>(len));
      cu::copy_to_device(lens.get(), hl.data(), hl.size() * 4);
      ms = cu::time_median_ms(
          [&] { cu::attention_decode(s, q.as<float>(), k.as<float>(), v.as<float>(), lens.as<int32_t>(), ws.get(), out.as<float>()); },
          warm, reps);
      add("attention_decode B8 H16 D64 len " + std::to_string(len), ms, 8.0 * kv, 4.0 * kv);
    }
    // RVQ: 750 frames (10 s of EnCodec 24 kHz), 8 levels of 1024 x 128.
    {
      const int64_t L = 8, S = 1024, D = 128, T = 750;
      cu::Buffer e = random_device(size_t(L * S * D), 14), nrm(size_t(L * S) * 4), x = random_device(size_t(T * D), 15);
      cu::Buffer codes(size_t(L * T) * 4), y(size_t(T * D) * 4);
      cu::rvq_code_norms(L, S, D, e.as<float>(), nrm.as<float>());
      cu::RvqDeviceCodebooks cb{L, S, D, e.as<float>(), nrm.as<float>()};
      ms = cu::time_median_ms([&] { cu::rvq_encode(cb, L, x.as<float>(), T, codes.as<int32_t>()); }, warm, reps);
      add("rvq_encode T750 L8 1024x128", ms, 4.0 * (L * S * D + T * D), 2.0 * T * L * S * D);
      ms = cu::time_median_ms([&] { cu::rvq_decode(cb, L, codes.as<int32_t>(), T, y.as<float>()); }, warm, reps);
      add("rvq_decode T750 L8 1024x128", ms, 4.0 * (T * L * D + T * D), 0);
    }
    // Sampling: 64 rows of a 10k vocabulary, top-k 250 + top-p 0.95 (three radix selects).
    {
      const int64_t rows = 64, V = 10000;
      cu::Buffer logits = random_device(size_t(rows * V), 16, -10.f, 10.f), tok(size_t(rows) * 4);
      std::vector<uint64_t> seeds(static_cast<size_t>(rows), 7), ctr(static_cast<size_t>(rows));
      for (size_t i = 0; i < ctr.size(); ++i) ctr[i] = i;
      cu::Buffer ds(size_t(rows) * 8), dc(size_t(rows) * 8);
      cu::copy_to_device(ds.get(), seeds.data(), seeds.size() * 8);
      cu::copy_to_device(dc.get(), ctr.data(), ctr.size() * 8);
      cu::DeviceSampleParams p;
      p.temperature = 0.8f;
      p.top_k = 250;
      p.top_p = 0.95f;
      ms = cu::time_median_ms(
          [&] { cu::sample_tokens(logits.as<float>(), rows, V, V, p, ds.as<uint64_t>(), dc.as<uint64_t>(), tok.as<int32_t>()); },
          warm, reps);
      add("sample_tokens 64x10000 k250 p0.95", ms, 4.0 * rows * V, 0);
      p = cu::DeviceSampleParams{};
      p.temperature = 0.f;
      ms = cu::time_median_ms(
          [&] { cu::sample_tokens(logits.as<float>(), rows, V, V, p, ds.as<uint64_t>(), dc.as<uint64_t>(), tok.as<int32_t>()); },
          warm, reps);
      add("sample_tokens 64x10000 greedy", ms, 4.0 * rows * V, 0);
    }
    cu::synchronize();

    std::printf("\n%-40s %10s %10s %7s %10s %7s\n", "kernel", "ms", "GB/s", "%copy", "TFLOP/s", "%gemm");
    for (const Result& r : res)
      std::printf("%-40s %10.4f %10.1f %6.1f%% %10.2f %6.1f%%\n", r.name.c_str(), r.ms, r.gbs, 100.0 * r.gbs / peak_gbs,
                  r.tflops, peak_tflops > 0 ? 100.0 * r.tflops / peak_tflops : 0.0);
    std::printf("\n#json\n");
    for (const Result& r : res)
      std::printf("{\"kernel\":\"%s\",\"ms\":%.6f,\"gbps\":%.2f,\"tflops\":%.4f,\"copy_gbps\":%.2f,\"gemm_tflops\":%.3f}\n",
                  r.name.c_str(), r.ms, r.gbs, r.tflops, peak_gbs, peak_tflops);
  } catch (const std::exception& e) {
    std::printf("bench_cuda: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
