// CUDA kernels against the CPU ops, on random inputs, outputs poisoned with NaN before each
// launch so unwritten elements show. Without a GPU (or in a build without nvcc) every test prints
// "SKIP: <reason>" and counts as passed.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "core/error.h"
#include "cpu/act.h"
#include "cpu/attention.h"
#include "cpu/gemm.h"
#include "cpu/gemv.h"
#include "cpu/norm.h"
#include "cpu/rvq.h"
#include "cpu/sample.h"
#include "cuda/cuda_api.h"
#include "harness.h"

namespace cu = alm::cuda;
using alm_test::random_vec;

namespace {

bool gpu_or_skip() {
  static std::string why;
  static const bool ok = cu::available(&why);
  if (!ok) std::printf("SKIP: %s\n", why.c_str());
  return ok;
}
#define REQUIRE_GPU() \
  do { if (!gpu_or_skip()) return; } while (0)

// A device copy of a host vector, and back.
template <typename T>
struct Dev {
  cu::Buffer buf;
  size_t n = 0;
  explicit Dev(size_t count) : buf(count * sizeof(T)), n(count) {}
  explicit Dev(const std::vector<T>& v) : Dev(v.size()) { cu::copy_to_device(buf.get(), v.data(), n * sizeof(T)); }
  T* ptr() const { return buf.as<T>(); }
  std::vector<T> host() const {
    std::vector<T> v(n);
    cu::copy_to_host(v.data(), buf.get(), n * sizeof(T));
    cu::synchronize();
    return v;
  }
};
Dev<float> poisoned(size_t n) {
  Dev<float> d(n);
  cu::fill_nan(d.ptr(), n);
  return d;
}

uint16_t to_bf16(float f) {
  uint32_t b;
  std::memcpy(&b, &f, 4);
  b += 0x7fffu + ((b >> 16) & 1u);
  return uint16_t(b >> 16);
}
float from_bf16(uint16_t h) {
  uint32_t b = uint32_t(h) << 16;
  float f;
  std::memcpy(&f, &b, 4);
  return f;
}

bool all_finite(const std::vector<float>& v) {
  for (float x : v)
    if (!std::isfinite(x)) return false;
  return true;
}

}  // namespace

TEST(cuda_gemm_f32) {
  REQUIRE_GPU();
  const int64_t shapes[][3] = {{1, 1, 1}, {77, 133, 65}, {64, 64, 16}, {256, 512, 384}, {5, 1000, 257}};
  uint32_t seed = 1;
  for (auto& s : shapes) {
    const int64_t M = s[0], N = s[1], K = s[2];
    auto A = random_vec(size_t(M * K), seed++), B = random_vec(size_t(N * K), seed++);
    std::vector<float> want(size_t(M * N));
    alm::gemm_ref(false, true, M, N, K, 1.f, A.data(), K, B.data(), K, 0.f, want.data(), N);
    Dev<float> dA(A), dB(B);
    auto dC = poisoned(size_t(M * N));
    cu::gemm_f32(M, N, K, dA.ptr(), K, dB.ptr(), K, dC.ptr(), N);
    auto got = dC.host();
    EXPECT_MSG(all_finite(got), "gemm_f32 left unwritten (NaN) outputs at M=" + std::to_string(M));
    EXPECT_CLOSE(got.data(), want.data(), got.size(), 1e-5);
  }
}

TEST(cuda_gemm_bf16) {
  REQUIRE_GPU();
  const int64_t shapes[][3] = {{1, 1, 1}, {77, 133, 65}, {128, 128, 64}, {256, 512, 384}, {300, 200, 1000}};
  uint32_t seed = 11;
  for (auto& s : shapes) {
    const int64_t M = s[0], N = s[1], K = s[2];
    auto A = random_vec(size_t(M * K), seed++), B = random_vec(size_t(N * K), seed++);
    Dev<float> dA(A), dB(B);
    Dev<uint16_t> hA(A.size()), hB(B.size());
    cu::f32_to_bf16(dA.ptr(), hA.ptr(), A.size());
    cu::f32_to_bf16(dB.ptr(), hB.ptr(), B.size());
    // The device conversion rounds as the host one does.
    auto a16 = hA.host(), b16 = hB.host();
    for (size_t i = 0; i < A.size(); ++i) EXPECT(a16[i] == to_bf16(A[i]));
    std::vector<float> Ar(A.size()), Br(B.size());
    for (size_t i = 0; i < A.size(); ++i) Ar[i] = from_bf16(a16[i]);
    for (size_t i = 0; i < B.size(); ++i) Br[i] = from_bf16(b16[i]);
    std::vector<float> exact(size_t(M * N)), rounded(size_t(M * N));
    alm::gemm_ref(false, true, M, N, K, 1.f, A.data(), K, B.data(), K, 0.f, exact.data(), N);
    alm::gemm_ref(false, true, M, N, K, 1.f, Ar.data(), K, Br.data(), K, 0.f, rounded.data(), N);
    auto dC = poisoned(size_t(M * N));
    cu::gemm_bf16(M, N, K, hA.ptr(), K, hB.ptr(), K, dC.ptr(), N);
    auto got = dC.host();
    EXPECT_MSG(all_finite(got), "gemm_bf16 left unwritten (NaN) outputs at M=" + std::to_string(M));
    EXPECT_CLOSE(got.data(), rounded.data(), got.size(), 1e-5);  // same products, f32 sums
    EXPECT_CLOSE(got.data(), exact.data(), got.size(), 1e-2);    // bf16 rounding of the inputs
  }
}

TEST(cuda_gemv_rows) {
  REQUIRE_GPU();
  const int64_t Ms[] = {1, 3, 8, 17, 32};
  const int64_t NKs[][2] = {{1000, 512}, {257, 131}, {64, 4}};
  uint32_t seed = 21;
  for (int64_t M : Ms)
    for (auto& nk : NKs) {
      const int64_t N = nk[0], K = nk[1];
      auto x = random_vec(size_t(M * K), seed++), W = random_vec(size_t(N * K), seed++);
      std::vector<float> want(size_t(M * N));
      alm::gemv_rows_ref(M, N, K, x.data(), K, W.data(), K, want.data(), N);
      Dev<float> dx(x), dW(W);
      auto dy = poisoned(size_t(M * N));
      cu::gemv_rows(M, N, K, dx.ptr(), K, dW.ptr(), K, dy.ptr(), N);
      auto got = dy.host();
      EXPECT_MSG(all_finite(got), "gemv_rows left NaN at M=" + std::to_string(M) + " K=" + std::to_string(K));
      EXPECT_CLOSE(got.data(), want.data(), got.size(), 1e-5);
      // bf16 weights: against the product with the rounded weights.
      std::vector<uint16_t> W16(W.size());
      std::vector<float> Wr(W.size());
      for (size_t i = 0; i < W.size(); ++i) Wr[i] = from_bf16(W16[i] = to_bf16(W[i]));
      alm::gemv_rows_ref(M, N, K, x.data(), K, Wr.data(), K, want.data(), N);
      Dev<uint16_t> dW16(W16);
      auto dy2 = poisoned(size_t(M * N));
      cu::gemv_rows_bf16(M, N, K, dx.ptr(), K, dW16.ptr(), K, dy2.ptr(), N);
      got = dy2.host();
      EXPECT_MSG(all_finite(got), "gemv_rows_bf16 left NaN at M=" + std::to_string(M));
      EXPECT_CLOSE(got.data(), want.data(), got.size(), 1e-5);
    }
}

TEST(cuda_norms) {
  REQUIRE_GPU();
  const int64_t shapes[][2] = {{1, 7}, {33, 512}, {5, 1283}};
  uint32_t seed = 31;
  for (auto& s : shapes) {
    const int64_t rows = s[0], dim = s[1];
    auto x = random_vec(size_t(rows * dim), seed++, -3.f, 5.f);
    auto w = random_vec(size_t(dim), seed++), b = random_vec(size_t(dim), seed++);
    Dev<float> dx(x), dw(w), db(b);
    std::vector<float> want(x.size());
    for (int with_bias = 0; with_bias < 2; ++with_bias) {
      alm::layer_norm_ref(x.data(), rows, dim, w.data(), with_bias ? b.data() : nullptr, 1e-5f, want.data());
      auto dy = poisoned(x.size());
      cu::layer_norm(dx.ptr(), rows, dim, dw.ptr(), with_bias ? db.ptr() : nullptr, 1e-5f, dy.ptr());
      auto got = dy.host();
      EXPECT(all_finite(got));
      EXPECT_CLOSE(got.data(), want.data(), got.size(), 1e-5);
    }
    alm::rms_norm_ref(x.data(), rows, dim, w.data(), 1e-6f, want.data());
    auto dy = poisoned(x.size());
    cu::rms_norm(dx.ptr(), rows, dim, dw.ptr(), 1e-6f, dy.ptr());
    auto got = dy.host();
    EXPECT(all_finite(got));
    EXPECT_CLOSE(got.data(), want.data(), got.size(), 1e-5);
    // Softmax in place, one row all -inf (zeros, not NaN) and one partly -inf.
    auto sx = random_vec(size_t(rows * dim), seed++, -20.f, 20.f);
    for (int64_t i = 0; i < dim; ++i) sx[size_t(i)] = -std::numeric_limits<float>::infinity();
    if (rows > 1) sx[size_t(dim)] = -std::numeric_limits<float>::infinity();
    want = sx;
    alm::softmax_rows_ref(want.data(), rows, dim);
    Dev<float> ds(sx);
    cu::softmax_rows(ds.ptr(), rows, dim);
    got = ds.host();
    EXPECT(all_finite(got));
    EXPECT_CLOSE(got.data(), want.data(), got.size(), 1e-5);
  }
}

TEST(cuda_activations) {
  REQUIRE_GPU();
  const int64_t n = 100003;
  auto x = random_vec(size_t(n), 41, -8.f, 8.f);
  struct Op { const char* name; void (*gpu)(float*, int64_t); void (*ref)(float*, int64_t); };
  const Op ops[] = {{"gelu", cu::gelu, alm::gelu_ref},
                    {"gelu_tanh", cu::gelu_tanh, alm::gelu_tanh_ref},
                    {"sigmoid", cu::sigmoid, alm::sigmoid_ref},
                    {"tanh", cu::tanh_inplace, alm::tanh_inplace_ref}};
  for (const Op& op : ops) {
    auto want = x;
    op.ref(want.data(), n);
    Dev<float> d(x);
    op.gpu(d.ptr(), n);
    auto got = d.host();
    EXPECT_MSG(all_finite(got), std::string(op.name) + " produced non-finite values");
    EXPECT_CLOSE(got.data(), want.data(), got.size(), 1e-5);
  }
  auto want = x;
  alm::elu_ref(want.data(), n, 1.3f);
  Dev<float> d(x);
  cu::elu(d.ptr(), n, 1.3f);
  auto got = d.host();
  EXPECT_CLOSE(got.data(), want.data(), got.size(), 1e-5);
}

TEST(cuda_attention_decode) {
  REQUIRE_GPU();
  struct Case { int64_t batch, heads, kv_heads, head_dim; std::vector<int32_t> lens; };
  const Case cases[] = {{3, 8, 2, 64, {1, 100, 700}}, {2, 4, 4, 80, {0, 333}}, {1, 16, 1, 128, {2048}},
                        {4, 2, 1, 256, {65, 64, 63, 5}}};
  uint32_t seed = 51;
  for (const Case& c : cases) {
    int64_t max_len = 0;
    for (int32_t l : c.lens) max_len = std::max<int64_t>(max_len, l);
    const int64_t kv_stride = c.kv_heads * c.head_dim + 8;  // a padded cache
    const int64_t tmax = max_len + 3, batch_stride = tmax * kv_stride;
    cu::DecodeAttentionShape s{c.batch, c.heads, c.kv_heads, c.head_dim, 1.f / std::sqrt(float(c.head_dim)),
                               kv_stride, batch_stride, max_len};
    auto q = random_vec(size_t(c.batch * c.heads * c.head_dim), seed++, -2.f, 2.f);
    auto k = random_vec(size_t(c.batch * batch_stride), seed++, -2.f, 2.f);
    auto v = random_vec(size_t(c.batch * batch_stride), seed++);
    std::vector<float> want(q.size());
    alm::AttentionShape as{c.heads, c.kv_heads, c.head_dim, s.scale, true};
    for (int64_t b = 0; b < c.batch; ++b) {
      const int64_t len = c.lens[size_t(b)];
      float* o = want.data() + b * c.heads * c.head_dim;
      if (len == 0) {
        std::fill(o, o + c.heads * c.head_dim, 0.f);
        continue;
      }
      alm::attention_ref(as, q.data() + b * c.heads * c.head_dim, 1, len - 1, k.data() + b * batch_stride,
                         v.data() + b * batch_stride, len, kv_stride, nullptr, 0, 0, o);
    }
    Dev<float> dq(q), dk(k), dv(v);
    Dev<int32_t> dl(c.lens);
    cu::Buffer ws(cu::attention_decode_workspace_bytes(s));
    auto dout = poisoned(q.size());
    cu::attention_decode(s, dq.ptr(), dk.ptr(), dv.ptr(), dl.ptr(), ws.get(), dout.ptr());
    auto got = dout.host();
    EXPECT_MSG(all_finite(got), "attention_decode left NaN, head_dim " + std::to_string(c.head_dim));
    EXPECT_CLOSE(got.data(), want.data(), got.size(), 1e-5);
  }
}

TEST(cuda_rvq) {
  REQUIRE_GPU();
  const int64_t L = 4, S = 1024, D = 128, T = 37;
  std::vector<std::vector<float>> books;
  std::vector<float> flat;
  for (int64_t l = 0; l < L; ++l) {
    books.push_back(random_vec(size_t(S * D), uint32_t(61 + l), -1.f / float(l + 1), 1.f / float(l + 1)));
    flat.insert(flat.end(), books.back().begin(), books.back().end());
  }
  alm::RvqCodebooks cb;
  cb.num_levels = L;
  cb.codebook_size = S;
  cb.dim = D;
  for (auto& b : books) cb.embed.push_back(b.data());
  alm::rvq_cache_norms(cb);
  auto x = random_vec(size_t(T * D), 71);
  std::vector<int32_t> want(size_t(L * T));
  alm::rvq_encode_ref(cb, L, x.data(), T, want.data());
  Dev<float> dE(flat), dx(x), dN(size_t(L * S));
  cu::rvq_code_norms(L, S, D, dE.ptr(), dN.ptr());
  auto norms = dN.host();
  EXPECT_CLOSE(norms.data(), cb.code_norms.data(), norms.size(), 1e-6);
  cu::RvqDeviceCodebooks dcb{L, S, D, dE.ptr(), dN.ptr()};
  Dev<int32_t> dcodes(static_cast<size_t>(L * T));
  cu::rvq_encode(dcb, L, dx.ptr(), T, dcodes.ptr());
  auto got = dcodes.host();
  int diff = 0;
  for (size_t i = 0; i < got.size(); ++i) diff += got[i] != want[i];
  EXPECT_MSG(diff == 0, std::to_string(diff) + " of " + std::to_string(got.size()) + " codes differ from the CPU's");
  std::vector<float> y(size_t(T * D));
  alm::rvq_decode_ref(cb, L, want.data(), T, y.data());
  auto dy = poisoned(y.size());
  cu::rvq_decode(dcb, L, dcodes.ptr(), T, dy.ptr());
  auto gy = dy.host();
  EXPECT(all_finite(gy));
  EXPECT_CLOSE(gy.data(), y.data(), y.size(), 1e-6);
}

TEST(cuda_sample_tokens) {
  REQUIRE_GPU();
  const int64_t rows = 64, V = 1500;
  // Well-separated logits: a shuffled ladder with steps of 0.013, so no two tokens tie.
  std::vector<float> logits(size_t(rows * V));
  std::mt19937 gen(81);
  for (int64_t r = 0; r < rows; ++r) {
    std::vector<int> perm(static_cast<size_t>(V));
    for (int64_t i = 0; i < V; ++i) perm[size_t(i)] = int(i);
    std::shuffle(perm.begin(), perm.end(), gen);
    for (int64_t i = 0; i < V; ++i) logits[size_t(r * V + i)] = 4.f - 0.013f * float(perm[size_t(i)]);
  }
  std::vector<uint64_t> seeds(static_cast<size_t>(rows)), counters(static_cast<size_t>(rows));
  for (int64_t r = 0; r < rows; ++r) {
    seeds[size_t(r)] = 1000 + uint64_t(r % 5);
    counters[size_t(r)] = uint64_t(r * 7);
  }
  Dev<float> dl(logits);
  Dev<uint64_t> ds(seeds), dc(counters);
  std::vector<int32_t> extra = {5, 1499, 120};
  Dev<int32_t> dextra(extra);
  struct Mode { float temperature; int32_t top_k; float top_p; bool range; };
  const Mode modes[] = {{0.f, 0, 1.f, false}, {0.f, 0, 1.f, true},   {1.f, 0, 1.f, false}, {0.7f, 0, 1.f, true},
                        {1.f, 40, 1.f, false}, {1.f, 0, 0.9f, false}, {1.3f, 200, 0.8f, true}, {0.5f, 1, 1.f, true}};
  std::vector<float> scratch;
  for (const Mode& m : modes) {
    alm::SampleParams p;
    p.temperature = m.temperature;
    p.top_k = m.top_k;
    p.top_p = m.top_p;
    alm::TokenRange range{100, 900, extra};
    cu::DeviceSampleParams dp;
    dp.temperature = m.temperature;
    dp.top_k = m.top_k;
    dp.top_p = m.top_p;
    if (m.range) {
      dp.has_range = true;
      dp.lo = 100;
      dp.hi = 900;
      dp.extra = dextra.ptr();
      dp.n_extra = int32_t(extra.size());
    }
    Dev<int32_t> dt(static_cast<size_t>(rows));
    cu::sample_tokens(dl.ptr(), rows, V, V, dp, ds.ptr(), dc.ptr(), dt.ptr());
    auto got = dt.host();
    for (int64_t r = 0; r < rows; ++r) {
      const double u = alm::rng_uniform(seeds[size_t(r)], counters[size_t(r)]);
      const int32_t want =
          alm::sample_token(logits.data() + r * V, V, p, m.range ? &range : nullptr, u, scratch);
      EXPECT_MSG(got[size_t(r)] == want, "row " + std::to_string(r) + ": device token " +
                                             std::to_string(got[size_t(r)]) + ", CPU token " + std::to_string(want) +
                                             " (temperature " + std::to_string(m.temperature) + ", top_k " +
                                             std::to_string(m.top_k) + ", top_p " + std::to_string(m.top_p) + ")");
    }
  }
  // A NaN logit: the CPU op throws; the device row reports -1.
  auto bad = logits;
  bad[7] = std::numeric_limits<float>::quiet_NaN();
  Dev<float> dbad(bad);
  Dev<int32_t> dt(static_cast<size_t>(rows));
  cu::sample_tokens(dbad.ptr(), rows, V, V, cu::DeviceSampleParams{}, ds.ptr(), dc.ptr(), dt.ptr());
  auto got = dt.host();
  EXPECT(got[0] == -1 && got[1] != -1);
}

TEST(cuda_errors_are_exceptions) {
  REQUIRE_GPU();
  // Bad arguments never reach a launch, and an impossible allocation is an alm::Error.
  EXPECT_THROWS_CODE(cu::gemm_f32(4, 4, 8, nullptr, 4, nullptr, 8, nullptr, 4), "ERR_AUDIOLM_INVALID_ARGUMENT");
  EXPECT_THROWS_CODE(cu::Buffer(size_t(1) << 50), "ERR_AUDIOLM_OUT_OF_MEMORY");
}

TEST_MAIN()
