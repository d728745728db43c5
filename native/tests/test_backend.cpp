// The backend interface (core/backend.h): every op of the CPU backend against a plain reference
// or the kernel it wraps, on random inputs; the strict backend giving the same results bit for
// bit; and the strict backend's promise, that host code cannot touch its memory (a read through
// a handle kills the process that tries it: checked in a forked child), shown to hold.
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <csignal>
#include <cstring>

#include "core/backend.h"
#include "cpu/act.h"
#include "cpu/attention.h"
#include "cpu/conv.h"
#include "cpu/gemm.h"
#include "cpu/lstm.h"
#include "cpu/norm.h"
#include "cpu/rvq.h"
#include "cpu/sample.h"
#include "harness.h"

using namespace alm;
using alm_test::random_vec;

namespace {

constexpr double kTol = 1e-6;  // relative L2 against the plain references below (f32 kernels)

// The CPU backend, the strict one, and the CUDA backend where a GPU is usable (its results are
// compared with the CPU's within kGpuTol instead of bit for bit).
constexpr double kGpuTol = 1e-5;
std::vector<Backend*> all_backends() {
  std::vector<Backend*> out = {&cpu_backend(), &strict_backend()};
  try {
    out.push_back(&cuda_backend(0));
  } catch (const Error& e) {
    static bool said = false;
    if (!said) std::printf("     (cuda backend not tested: %s)\n", e.what());
    said = true;
  }
  return out;
}
const std::vector<Backend*>& backends_list() {
  static const std::vector<Backend*> list = all_backends();
  return list;
}

Buffer up(Backend& be, const std::vector<float>& v) { return be.upload_f32(v.data(), int64_t(v.size())); }
std::vector<float> down(Backend& be, const Buffer& b, size_t n) { return be.download_f32(b, int64_t(n)); }
Weight weight(Backend& be, const std::vector<float>& v, Shape shape) {
  Tensor t = Tensor::empty(std::move(shape));
  std::copy(v.begin(), v.end(), t.data());
  return be.weight(t);
}

void expect_same(const std::vector<float>& a, const std::vector<float>& b, const std::string& what) {
  EXPECT_MSG(a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * 4) == 0, what + ": cpu and strict differ");
}

// Runs fn(backend) on each backend: the strict one must give the CPU's floats exactly, a GPU
// within kGpuTol. Returns the CPU's.
template <typename Fn>
std::vector<float> on_both(const std::string& what, const Fn& fn) {
  const auto& list = backends_list();
  std::vector<float> first = fn(*list[0]);
  expect_same(first, fn(*list[1]), what);
  for (size_t i = 2; i < list.size(); ++i) {
    std::vector<float> got = fn(*list[i]);
    EXPECT_MSG(got.size() == first.size(), what + ": " + list[i]->name() + " gave " + std::to_string(got.size()) + " values");
    const double e = alm_test::rel_l2(got.data(), first.data(), first.size());
    EXPECT_MSG(e <= kGpuTol, what + ": " + list[i]->name() + " differs from cpu by " + std::to_string(e) + " (relative L2)");
  }
  return first;
}

// True when fn, run in a child process, dies of a signal (SIGSEGV or SIGBUS).
template <typename Fn>
bool child_faults(const Fn& fn) {
  std::fflush(stdout);
  pid_t pid = fork();
  if (pid == 0) {
    fn();
    _exit(0);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFSIGNALED(status) && (WTERMSIG(status) == SIGSEGV || WTERMSIG(status) == SIGBUS);
}

}  // namespace

TEST(transfers_round_trip_and_copy_and_fill) {
  const auto x = random_vec(1000, 1);
  on_both("transfers", [&](Backend& be) {
    Buffer a = up(be, x), b = be.alloc_f32(1000);
    be.copy(Span(b), Span(a).at(10), 990 * 4);
    be.fill(Span(b).at(990), 2.5f, 10);
    std::vector<float> got = down(be, b, 1000);
    for (int i = 0; i < 990; ++i) EXPECT(got[size_t(i)] == x[size_t(i + 10)]);
    for (int i = 990; i < 1000; ++i) EXPECT(got[size_t(i)] == 2.5f);
    return got;
  });
}

TEST(linear_norm_activations_match_their_references) {
  const int64_t n = 7, in = 33, out = 19;
  const auto x = random_vec(size_t(n * in), 2), w = random_vec(size_t(out * in), 3), b = random_vec(size_t(out), 4);
  // y = x wᵀ + b in double.
  std::vector<float> ref(size_t(n * out));
  for (int64_t r = 0; r < n; ++r)
    for (int64_t o = 0; o < out; ++o) {
      double acc = b[size_t(o)];
      for (int64_t k = 0; k < in; ++k) acc += double(x[size_t(r * in + k)]) * w[size_t(o * in + k)];
      ref[size_t(r * out + o)] = float(acc);
    }
  auto got = on_both("linear", [&](Backend& be) {
    Linear L;
    L.w = weight(be, w, {out, in});
    L.b = weight(be, b, {out});
    L.out = out;
    L.in = in;
    Buffer xb = up(be, x), y = be.alloc_f32(n * out);
    be.linear(xb, n, L, y, false);
    return down(be, y, size_t(n * out));
  });
  EXPECT_CLOSE(got.data(), ref.data(), ref.size(), kTol);

  const auto g = random_vec(size_t(in), 5, 0.5f, 1.5f), gb = random_vec(size_t(in), 6);
  for (NormKind kind : {NormKind::Layer, NormKind::Rms}) {
    std::vector<float> want(x.size());
    if (kind == NormKind::Layer) layer_norm_ref(x.data(), n, in, g.data(), gb.data(), 1e-5f, want.data());
    else rms_norm_ref(x.data(), n, in, g.data(), 1e-5f, want.data());
    auto normed = on_both("norm", [&](Backend& be) {
      Buffer xb = up(be, x);
      Weight gw = weight(be, g, {in}), bw = kind == NormKind::Layer ? weight(be, gb, {in}) : Weight{};
      be.norm(kind, xb, n, in, gw, bw, 1e-5f, xb);  // in place
      return down(be, xb, x.size());
    });
    EXPECT_CLOSE(normed.data(), want.data(), want.size(), kTol);
  }

  for (Activation a : {Activation::Gelu, Activation::GeluTanh, Activation::Relu}) {
    std::vector<float> want = x;
    if (a == Activation::Gelu) gelu_ref(want.data(), int64_t(want.size()));
    else if (a == Activation::GeluTanh) gelu_tanh_ref(want.data(), int64_t(want.size()));
    else for (auto& v : want) v = v > 0 ? v : 0;
    auto act = on_both("activate", [&](Backend& be) {
      Buffer xb = up(be, x);
      be.activate(a, xb, int64_t(x.size()), 1.f);
      return down(be, xb, x.size());
    });
    EXPECT_CLOSE(act.data(), want.data(), want.size(), kTol);
  }
}

TEST(geglu_axpby_gather_scatter_match_plain_loops) {
  const int64_t rows = 5, F = 12;
  const auto u = random_vec(size_t(rows * 2 * F), 7);
  std::vector<float> want(size_t(rows * F));
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < F; ++j) {
      float gate = u[size_t(i * 2 * F + F + j)];
      gelu_ref(&gate, 1);
      want[size_t(i * F + j)] = gate * u[size_t(i * 2 * F + j)];
    }
  auto got = on_both("geglu", [&](Backend& be) {
    Buffer ub = up(be, u), g = be.alloc_f32(rows * F);
    be.geglu(ub, rows, F, g);
    return down(be, g, size_t(rows * F));
  });
  EXPECT_CLOSE(got.data(), want.data(), want.size(), kTol);

  const auto y = random_vec(64, 8), x = random_vec(64, 9);
  auto mixed = on_both("axpby", [&](Backend& be) {
    Buffer yb = up(be, y), xb = up(be, x);
    be.axpby(yb, xb, 64, 0.25f, -2.f);
    return down(be, yb, 64);
  });
  for (size_t i = 0; i < 64; ++i) EXPECT(mixed[i] == 0.25f * y[i] + -2.f * x[i]);

  const auto src = random_vec(6 * 4, 10);
  const std::vector<int64_t> pick = {5, 0, 3};
  auto gathered = on_both("gather", [&](Backend& be) {
    Buffer s = up(be, src), d = be.alloc_f32(3 * 4);
    be.gather_rows(s, 4, pick, d);
    return down(be, d, 12);
  });
  for (size_t i = 0; i < pick.size(); ++i)
    for (size_t j = 0; j < 4; ++j) EXPECT(gathered[i * 4 + j] == src[size_t(pick[i]) * 4 + j]);
  auto scattered = on_both("scatter", [&](Backend& be) {
    Buffer s = up(be, gathered), d = up(be, std::vector<float>(24, -1.f));
    be.scatter_rows(s, 4, pick, d);
    return down(be, d, 24);
  });
  for (size_t r = 0; r < 6; ++r)
    for (size_t j = 0; j < 4; ++j) {
      const bool picked = r == 5 || r == 0 || r == 3;
      EXPECT(scattered[r * 4 + j] == (picked ? src[r * 4 + j] : -1.f));
    }
}

TEST(embed_sums_codebooks_and_positions) {
  const int64_t V = 11, D = 6, C = 2, n = 4, P = 8;
  const auto t0 = random_vec(size_t(V * D), 11), t1 = random_vec(size_t(V * D), 12), pe = random_vec(size_t(P * D), 13);
  const std::vector<int32_t> tokens = {3, 7, 10, -1, 0, 0, -1, 5};  // [n, C], -1: codebook not given
  const std::vector<int64_t> positions = {0, 7, 2, 4};
  auto got = on_both("embed", [&](Backend& be) {
    Weight w0 = weight(be, t0, {V, D}), w1 = weight(be, t1, {V, D}), wp = weight(be, pe, {P, D});
    Buffer x = be.alloc_f32(n * D);
    be.embed({&w0, &w1}, &wp, tokens.data(), positions.data(), n, D, x);
    return down(be, x, size_t(n * D));
  });
  for (int64_t i = 0; i < n; ++i)
    for (int64_t d = 0; d < D; ++d) {
      float want = 0.f;
      if (tokens[size_t(i * C)] >= 0) want += t0[size_t(tokens[size_t(i * C)] * D + d)];
      if (tokens[size_t(i * C + 1)] >= 0) want += t1[size_t(tokens[size_t(i * C + 1)] * D + d)];
      want += pe[size_t(positions[size_t(i)] * D + d)];
      EXPECT(got[size_t(i * D + d)] == want);
    }
}

TEST(ragged_attention_and_rotary_match_the_reference_per_row) {
  AttentionShape shape{4, 2, 8, 0.35f, true};
  const int64_t qd = shape.heads * shape.head_dim, kvd = shape.kv_heads * shape.head_dim;
  // Two rows: 3 new queries at positions 5..7 over 8 keys, and 1 query at position 2 over 3 keys.
  const std::vector<int64_t> tq = {3, 1}, pos0 = {5, 2}, tk = {8, 3};
  const auto q = random_vec(size_t(4 * qd), 14), k0 = random_vec(size_t(8 * kvd), 15), v0 = random_vec(size_t(8 * kvd), 16);
  const auto k1 = random_vec(size_t(3 * kvd), 17), v1 = random_vec(size_t(3 * kvd), 18);
  const int64_t cap = 8, R = 2 * cap - 1;
  const auto rel = random_vec(size_t(shape.heads * R), 19);
  std::vector<float> want(q.size());
  attention_ref(shape, q.data(), 3, 5, k0.data(), v0.data(), 8, kvd, rel.data(), R, cap - 1, want.data());
  attention_ref(shape, q.data() + 3 * qd, 1, 2, k1.data(), v1.data(), 3, kvd, rel.data(), R, cap - 1, want.data() + 3 * qd);
  auto got = on_both("attention", [&](Backend& be) {
    Buffer qb = up(be, q), out = be.alloc_f32(int64_t(q.size()));
    Buffer kb0 = up(be, k0), vb0 = up(be, v0), kb1 = up(be, k1), vb1 = up(be, v1), rb = up(be, rel);
    std::vector<AttentionRow> rows(2);
    rows[0] = {0, 3, 5, kb0, vb0, 8, kvd, Span()};
    rows[1] = {3, 1, 2, kb1, vb1, 3, kvd, Span()};
    AttentionBias bias;
    bias.rel = rb;
    bias.rel_len = R;
    bias.rel_offset = cap - 1;
    be.attention(shape, qb, rows, bias, out);
    return down(be, out, q.size());
  });
  EXPECT_CLOSE(got.data(), want.data(), want.size(), 1e-5);

  const std::vector<int64_t> positions = {3, 9, 0, 4};
  std::vector<float> rot = q;
  rotary_ref(rot.data(), 4, shape.heads, shape.head_dim, 6, positions.data(), 10000.f);
  auto rotated = on_both("rotary", [&](Backend& be) {
    Buffer qb = up(be, q);
    be.rotary(qb, 4, shape.heads, shape.head_dim, 6, positions.data(), 10000.f);
    return down(be, qb, q.size());
  });
  EXPECT_CLOSE(rotated.data(), rot.data(), rot.size(), 1e-6);
}

TEST(sample_picks_the_reference_token_with_and_without_guidance) {
  const int64_t V = 50, B = 3;
  const auto logits = random_vec(size_t(B * V), 20, -4.f, 4.f);
  TokenRange range{10, 30, {2}};
  std::vector<SampleJob> jobs(3);
  for (int j = 0; j < 3; ++j) {
    jobs[size_t(j)].row = j;
    jobs[size_t(j)].seed = 1000 + uint64_t(j);
    jobs[size_t(j)].counter = 17;
  }
  jobs[1].range = &range;
  jobs[1].params.top_k = 5;
  jobs[2].guide = 0;
  jobs[2].scale = 1.5f;
  jobs[2].params.temperature = 0.7f;
  std::vector<int32_t> want(3);
  std::vector<float> scratch, mixed(static_cast<size_t>(V));
  want[0] = sample_token_ref(logits.data(), V, jobs[0].params, nullptr, rng_uniform(1000, 17), scratch);
  want[1] = sample_token_ref(logits.data() + V, V, jobs[1].params, &range, rng_uniform(1001, 17), scratch);
  for (int64_t v = 0; v < V; ++v) mixed[size_t(v)] = logits[size_t(2 * V + v)] + 1.5f * (logits[size_t(2 * V + v)] - logits[size_t(v)]);
  want[2] = sample_token_ref(mixed.data(), V, jobs[2].params, nullptr, rng_uniform(1002, 17), scratch);
  for (Backend* be : backends_list()) {
    Buffer lb = up(*be, logits);
    std::vector<int32_t> got(3);
    be->sample(lb, V, jobs, got.data());
    EXPECT_MSG(got == want, std::string(be->name()) + ": sampled tokens differ from the reference");
  }
}

TEST(signal_ops_match_their_references) {
  // conv1d (grouped, dilated, strided) and conv_transpose1d against the double references.
  const Conv1dShape cs{4, 6, 3, 2, 2, 2};
  const int64_t len = 29, tout = conv1d_out_len(cs, len);
  const auto x = random_vec(size_t(4 * len), 30), w = random_vec(size_t(6 * 2 * 3), 31), b = random_vec(6, 32);
  std::vector<float> want(size_t(6 * tout));
  conv1d_ref(cs, x.data(), len, w.data(), b.data(), want.data());
  auto got = on_both("conv1d", [&](Backend& be) {
    Buffer xb = up(be, x), y = be.alloc_f32(6 * tout);
    be.conv1d(cs, xb, len, weight(be, w, {6, 2, 3}), weight(be, b, {6}), y);
    return down(be, y, want.size());
  });
  EXPECT_CLOSE(got.data(), want.data(), want.size(), kTol);
  const Conv1dShape ts{6, 4, 4, 2, 1, 1};
  const int64_t tlen = conv_transpose1d_out_len(ts, 9);
  const auto tx = random_vec(6 * 9, 33), tw = random_vec(6 * 4 * 4, 34);
  std::vector<float> twant(size_t(4 * tlen));
  conv_transpose1d_ref(ts, tx.data(), 9, tw.data(), nullptr, twant.data());
  auto tgot = on_both("conv_transpose1d", [&](Backend& be) {
    Buffer xb = up(be, tx), y = be.alloc_f32(4 * tlen);
    be.conv_transpose1d(ts, xb, 9, weight(be, tw, {6, 4, 4}), Weight{}, y);
    return down(be, y, twant.size());
  });
  EXPECT_CLOSE(tgot.data(), twant.data(), twant.size(), kTol);

  // pad (reflect), transpose, copy_rows, affine_rows against plain loops.
  auto padded = on_both("pad", [&](Backend& be) {
    Buffer xb = up(be, x), y = be.alloc_f32(4 * (len + 5));
    be.pad(xb, 4, len, 2, 3, PadMode::Reflect, y);
    return down(be, y, size_t(4 * (len + 5)));
  });
  for (int64_t c = 0; c < 4; ++c) {
    EXPECT(padded[size_t(c * (len + 5))] == x[size_t(c * len + 2)]);         // mirrors without the edge
    EXPECT(padded[size_t(c * (len + 5) + 2)] == x[size_t(c * len)]);
    EXPECT(padded[size_t(c * (len + 5) + len + 4)] == x[size_t(c * len + len - 4)]);
  }
  auto moved = on_both("transpose + copy_rows + affine_rows", [&](Backend& be) {
    Buffer xb = up(be, x), t = be.alloc_f32(4 * len), r = be.alloc_f32(3 * 5);
    be.fill(r, 0.f, 15);  // columns 3 and 4 are never copied into
    be.transpose(xb, 4, len, t);  // [len, 4]
    be.copy_rows(r, 5, Span(t).at(4 * 2 + 1), 4, 3, 3);  // rows 2..4 of t, columns 1..3, into [3, 5]
    be.affine_rows(r, 3, 5, {1.f, 2.f, 3.f}, {0.5f, -1.f, 2.f}, {0.f, 1.f, -1.f});
    std::vector<float> out = down(be, r, 15);
    std::vector<float> tt = down(be, t, size_t(4 * len));
    out.insert(out.end(), tt.begin(), tt.end());
    return out;
  });
  for (int64_t i = 0; i < len; ++i)
    for (int64_t c = 0; c < 4; ++c) EXPECT(moved[size_t(15 + i * 4 + c)] == x[size_t(c * len + i)]);
  const float sub[3] = {1.f, 2.f, 3.f}, mul[3] = {0.5f, -1.f, 2.f}, add[3] = {0.f, 1.f, -1.f};
  for (int r = 0; r < 3; ++r)
    for (int j = 0; j < 3; ++j) EXPECT(moved[size_t(r * 5 + j)] == (x[size_t((1 + j) * len + 2 + r)] - sub[r]) * mul[r] + add[r]);

  // group_norm, ELU and log-floor against the references.
  const auto gw = random_vec(4, 35, 0.5f, 1.5f), gb = random_vec(4, 36);
  std::vector<float> gwant(x.size());
  group_norm_ref(x.data(), 4, len, 2, gw.data(), gb.data(), 1e-5f, gwant.data());
  auto gn = on_both("group_norm", [&](Backend& be) {
    Buffer xb = up(be, x);
    be.group_norm(xb, 4, len, 2, weight(be, gw, {4}), weight(be, gb, {4}), 1e-5f, xb);
    return down(be, xb, x.size());
  });
  EXPECT_CLOSE(gn.data(), gwant.data(), gwant.size(), kTol);
  std::vector<float> ewant = x;
  elu_ref(ewant.data(), int64_t(ewant.size()), 0.7f);
  auto e = on_both("elu", [&](Backend& be) {
    Buffer xb = up(be, x);
    be.activate(Activation::Elu, xb, int64_t(x.size()), 0.7f);
    return down(be, xb, x.size());
  });
  EXPECT_CLOSE(e.data(), ewant.data(), ewant.size(), kTol);
  auto lf = on_both("log floor", [&](Backend& be) {
    Buffer xb = up(be, x);
    be.activate(Activation::LogFloor, xb, int64_t(x.size()), 0.25f);
    return down(be, xb, x.size());
  });
  for (size_t i = 0; i < x.size(); ++i) EXPECT(std::fabs(lf[i] - std::log(std::max(x[i], 0.25f))) <= 1e-6f);
}

TEST(matmul_power_lstm_and_rvq_match_their_references) {
  const int64_t M = 5, N = 7, K = 9;
  const auto a = random_vec(size_t(M * K), 40), bm = random_vec(size_t(K * N), 41);
  std::vector<float> want(size_t(M * N)), wantT(size_t(M * N));
  gemm_ref(false, false, M, N, K, 1.f, a.data(), K, bm.data(), N, 0.f, want.data(), N);
  gemm_ref(false, true, M, N, K, 1.f, a.data(), K, bm.data(), K, 0.f, wantT.data(), N);  // bm read as [N, K]
  auto got = on_both("matmul", [&](Backend& be) {
    Buffer ab = up(be, a), bb = up(be, bm), c = be.alloc_f32(2 * M * N);
    be.matmul(false, M, N, K, ab, K, bb, N, c, N);
    be.matmul(true, M, N, K, ab, K, bb, K, Span(c).at(M * N), N);
    return down(be, c, size_t(2 * M * N));
  });
  EXPECT_CLOSE(got.data(), want.data(), want.size(), kTol);
  EXPECT_CLOSE(got.data() + M * N, wantT.data(), wantT.size(), kTol);

  const auto spec = random_vec(3 * 2 * 4, 42);
  auto power = on_both("power_spectrum", [&](Backend& be) {
    Buffer sb = up(be, spec), p = be.alloc_f32(12);
    be.power_spectrum(sb, 3, 4, p);
    return down(be, p, 12);
  });
  for (int t = 0; t < 3; ++t)
    for (int k = 0; k < 4; ++k) {
      const float re = spec[size_t(t * 8 + k)], im = spec[size_t(t * 8 + 4 + k)];
      EXPECT(power[size_t(t * 4 + k)] == re * re + im * im);
    }

  const int64_t T = 6, B = 2, I = 5, H = 4;
  const auto lx = random_vec(size_t(T * B * I), 43), wih = random_vec(size_t(4 * H * I), 44), whh = random_vec(size_t(4 * H * H), 45);
  const auto bih = random_vec(size_t(4 * H), 46), bhh = random_vec(size_t(4 * H), 47);
  std::vector<float> lwant(size_t(T * B * H));
  lstm_layer_ref({I, H, wih.data(), whh.data(), bih.data(), bhh.data()}, lx.data(), T, B, lwant.data());
  auto lgot = on_both("lstm", [&](Backend& be) {
    LstmLayer L;
    L.input_size = I;
    L.hidden_size = H;
    L.w_ih = weight(be, wih, {4 * H, I});
    L.w_hh = weight(be, whh, {4 * H, H});
    L.b_ih = weight(be, bih, {4 * H});
    L.b_hh = weight(be, bhh, {4 * H});
    Buffer xb = up(be, lx), y = be.alloc_f32(T * B * H);
    be.lstm({L}, xb, T, B, y);
    return down(be, y, lwant.size());
  });
  EXPECT_CLOSE(lgot.data(), lwant.data(), lwant.size(), 1e-5);

  // Two levels of 8 codes of width 3: encode against the reference, then decode the codes.
  const auto e0 = random_vec(24, 48), e1 = random_vec(24, 49, -0.3f, 0.3f), rx = random_vec(10 * 3, 50);
  RvqCodebooks ref;
  ref.num_levels = 2;
  ref.codebook_size = 8;
  ref.dim = 3;
  ref.embed = {e0.data(), e1.data()};
  std::vector<int32_t> cwant(20);
  rvq_encode_ref(ref, 2, rx.data(), 10, cwant.data());
  std::vector<float> dwant(30);
  rvq_decode_ref(ref, 2, cwant.data(), 10, dwant.data());
  for (Backend* be : backends_list()) {
    Codebooks cb;
    cb.embed = {weight(*be, e0, {8, 3}), weight(*be, e1, {8, 3})};
    cb.codebook_size = 8;
    cb.dim = 3;
    be->rvq_norms(cb);
    Buffer xb = up(*be, rx), y = be->alloc_f32(30);
    std::vector<int32_t> codes(20);
    be->rvq_encode(cb, 2, xb, 10, codes.data());
    EXPECT_MSG(codes == cwant, std::string(be->name()) + ": rvq codes differ from the reference");
    be->rvq_decode(cb, 2, codes.data(), 10, y);
    std::vector<float> d = down(*be, y, 30);
    EXPECT_CLOSE(d.data(), dwant.data(), dwant.size(), kTol);
    std::vector<int32_t> bad = codes;
    bad[3] = 8;
    EXPECT_THROWS_CODE(be->rvq_decode(cb, 2, bad.data(), 10, y), "ERR_AUDIOLM_INVALID_ARGUMENT");
  }
}

TEST(strict_memory_cannot_be_read_from_the_host) {
  const auto x = random_vec(256, 21);
  Buffer cpu = up(cpu_backend(), x), strict = up(strict_backend(), x);
  // The same deliberate host read: harmless on the CPU backend, fatal on the strict one.
  volatile float sink = 0;
  EXPECT_MSG(!child_faults([&] { sink = static_cast<const float*>(cpu->handle())[7]; }), "reading a cpu buffer from the host faulted");
  EXPECT_MSG(child_faults([&] { sink = static_cast<const float*>(strict->handle())[7]; }),
             "reading a strict buffer from the host did not fault: the strict backend proves nothing");
  EXPECT_MSG(child_faults([&] { static_cast<float*>(strict->handle())[0] = 1.f; }), "writing a strict buffer from the host did not fault");
  // Through the backend's own transfers the data is there.
  EXPECT(down(strict_backend(), strict, 256) == x);
  (void)sink;
}

TEST(strict_memory_nothing_wrote_reads_nan) {
  Buffer b = strict_backend().alloc_f32(16);
  for (float v : down(strict_backend(), b, 16)) EXPECT(std::isnan(v));
}

TEST(buffers_stay_with_their_backend) {
  Buffer a = cpu_backend().alloc_f32(8), b = strict_backend().alloc_f32(8);
  EXPECT_THROWS_CODE(strict_backend().copy(Span(b), Span(a), 32), "ERR_AUDIOLM_INVALID_ARGUMENT");
  EXPECT_THROWS_CODE(cpu_backend().upload(Span(a).at(4), b.get(), 32), "ERR_AUDIOLM_INVALID_ARGUMENT");
  EXPECT_THROWS_CODE(backend_named("tpu"), "ERR_AUDIOLM_UNSUPPORTED");
}

TEST_MAIN()
