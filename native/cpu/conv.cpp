// Convolutions as GEMMs. conv1d unfolds a chunk of time into columns (im2col) and multiplies by
// the weight; conv_transpose1d multiplies first and folds the columns back (col2im). Time is cut
// into chunks whose column buffer stays about L2-sized, so memory does not grow with the audio
// length (24 kHz x 10 s x 32 channels x kernel 7 would otherwise need 215 MB of columns).
#include "cpu/conv.h"

#include <algorithm>
#include <cstring>
#include <utility>
#include <vector>

#include "core/error.h"
#include "core/threadpool.h"
#include "cpu/gemm.h"

namespace alm {
namespace {

// Floats of column buffer per chunk. conv1d's columns are GEMM input that is packed again, and
// both copies fit L2 at 512 KiB each; conv_transpose1d's are GEMM output, where wider chunks
// (2 MiB) keep its thin GEMMs (N = input steps) wider. Tuned on the EnCodec shapes.
constexpr int64_t kColBudget = int64_t(1) << 17;
constexpr int64_t kFoldBudget = int64_t(1) << 19;
// Chunks narrower than this make GEMMs too thin to run at speed, whatever the budget says.
constexpr int64_t kMinChunk = 64;
// conv1d with many rows per step (wide or long kernels: HuBERT's 768-channel convs, its
// positional conv with kernel 128) lets chunks grow towards kWideChunk steps, as long as the
// column buffer stays within kWideBudget floats (4 MiB): narrow chunks there mean thin GEMMs
// that pack the whole weight again for every few dozen steps.
constexpr int64_t kWideChunk = 256;
constexpr int64_t kWideBudget = int64_t(1) << 20;

void check_shape(const Conv1dShape& s, const char* op) {
  ALM_CHECK_ARG(s.in_channels >= 1 && s.out_channels >= 1 && s.kernel >= 1 && s.stride >= 1 &&
                    s.dilation >= 1 && s.groups >= 1,
                op, ": in_channels, out_channels, kernel, stride, dilation and groups must be >= 1 (got ",
                s.in_channels, ", ", s.out_channels, ", ", s.kernel, ", ", s.stride, ", ", s.dilation,
                ", ", s.groups, ")");
  ALM_CHECK_ARG(s.in_channels % s.groups == 0 && s.out_channels % s.groups == 0, op, ": groups=",
                s.groups, " does not divide in_channels=", s.in_channels, " and out_channels=",
                s.out_channels);
}

void check_pointers(const char* op, const float* x, const float* w, const float* y) {
  ALM_CHECK_ARG(x != nullptr && w != nullptr && y != nullptr, op, ": null input, weight or output");
}

// How time is cut: `len` steps per chunk, and whether chunks run side by side (each GEMM then
// single-threaded, as nested parallel_for runs serially) or one after another (each GEMM using
// every thread).
struct ChunkPlan {
  int64_t len, count;
  bool parallel;
};

// `rows` floats of columns per time step and `budget` per chunk, `total` steps, `macs`
// multiply-adds in all.
// `min_chunk` steps per chunk at least (unless `total` is less).
ChunkPlan plan_chunks(int64_t rows, int64_t budget, int64_t total, double macs, int64_t min_chunk = kMinChunk) {
  const int64_t threads = num_threads();
  const int64_t fit = std::max<int64_t>(1, budget / rows);
  int64_t count = (total + fit - 1) / fit;
  count = std::max<int64_t>(1, std::min(count, (total + min_chunk - 1) / min_chunk));
  // About four chunks per thread balance the load, when there is work enough to share.
  const bool worth_sharing = threads > 1 && macs >= double(1 << 21) && total >= 2 * threads * min_chunk;
  if (worth_sharing) count = std::max(count, std::min(4 * threads, total / min_chunk));
  // Equal chunks (rounded to 16 for the GEMM's panels) rather than a thin last one.
  const int64_t len = std::min(total, ((total + count - 1) / count + 15) / 16 * 16);
  count = (total + len - 1) / len;
  return {len, count, worth_sharing && count >= 2 * threads};
}

// col[c*K + k, t] = x[c, (t0 + t)*stride + k*dilation] for t < n.
void im2col(const float* x, int64_t in_len, int64_t channels, int64_t K, int64_t stride,
            int64_t dilation, int64_t t0, int64_t n, float* col) {
  for (int64_t c = 0; c < channels; ++c) {
    for (int64_t k = 0; k < K; ++k) {
      float* row = col + (c * K + k) * n;
      const float* src = x + c * in_len + t0 * stride + k * dilation;
      if (stride == 1) {
        std::memcpy(row, src, sizeof(float) * n);
      } else {
        for (int64_t t = 0; t < n; ++t) row[t] = src[t * stride];
      }
    }
  }
}

void add_bias(const float* bias, int64_t channels, float* y, int64_t ld, int64_t t0, int64_t n) {
  if (!bias) return;
  for (int64_t c = 0; c < channels; ++c) {
    float* row = y + c * ld + t0;
    const float b = bias[c];
    for (int64_t t = 0; t < n; ++t) row[t] += b;
  }
}

}  // namespace

int64_t conv1d_out_len(const Conv1dShape& s, int64_t in_len) {
  check_shape(s, "conv1d");
  const int64_t span = s.dilation * (s.kernel - 1) + 1;
  ALM_CHECK_ARG(in_len >= span, "conv1d: input of ", in_len, " samples is shorter than the kernel span ",
                span, " (kernel ", s.kernel, ", dilation ", s.dilation, ")");
  return (in_len - span) / s.stride + 1;
}

int64_t conv_transpose1d_out_len(const Conv1dShape& s, int64_t in_len) {
  check_shape(s, "conv_transpose1d");
  ALM_CHECK_ARG(in_len >= 1, "conv_transpose1d: input length ", in_len, " must be >= 1");
  return (in_len - 1) * s.stride + s.dilation * (s.kernel - 1) + 1;
}

void conv1d(const Conv1dShape& s, const float* x, int64_t in_len, const float* w,
            const float* bias, float* y) {
  const int64_t tout = conv1d_out_len(s, in_len);
  check_pointers("conv1d", x, w, y);
  const int64_t G = s.groups, K = s.kernel;
  const int64_t cin_g = s.in_channels / G, cout_g = s.out_channels / G, rows = cin_g * K;
  // A 1x1 kernel with stride 1 reads the input as the column matrix itself.
  const bool direct = K == 1 && s.stride == 1;
  const double macs = double(s.out_channels) * double(rows) * double(tout);
  const int64_t min_chunk = std::max(kMinChunk, std::min(kWideChunk, kWideBudget / rows));
  const ChunkPlan plan = plan_chunks(rows, kColBudget, tout, macs, min_chunk);
  // Grouped convolutions whose per-group GEMMs are too small to share between threads run
  // (chunk, group) pairs side by side instead, each GEMM on one thread.
  const int64_t threads = num_threads();
  const bool by_group = !plan.parallel && G > 1 && threads > 1 && macs >= double(1 << 21) &&
                        plan.count * G >= 2 * threads;
  auto run_one = [&](int64_t ci, int64_t g, std::vector<float>& col, bool side_by_side) {
    const int64_t t0 = ci * plan.len, n = std::min(plan.len, tout - t0);
    const float* xg = x + g * cin_g * in_len;
    if (!direct) {
      col.resize(size_t(rows * plan.len));
      im2col(xg, in_len, cin_g, K, s.stride, s.dilation, t0, n, col.data());
    }
    (side_by_side ? gemm_single_thread : gemm)(false, false, cout_g, n, rows, 1.f, w + g * cout_g * rows, rows,
         direct ? xg + t0 : col.data(), direct ? in_len : n, 0.f, y + g * cout_g * tout + t0, tout);
    return std::pair<int64_t, int64_t>(t0, n);
  };
  if (by_group) {
    parallel_for(plan.count * G, 1, [&](int64_t i0, int64_t i1) {
      std::vector<float> col;
      for (int64_t i = i0; i < i1; ++i) {
        const int64_t g = i % G;
        const auto tn = run_one(i / G, g, col, true);
        if (bias) add_bias(bias + g * cout_g, cout_g, y + g * cout_g * tout, tout, tn.first, tn.second);
      }
    });
    return;
  }
  auto run_chunks = [&](int64_t c0, int64_t c1) {
    std::vector<float> col;
    for (int64_t ci = c0; ci < c1; ++ci) {
      std::pair<int64_t, int64_t> tn;
      for (int64_t g = 0; g < G; ++g) tn = run_one(ci, g, col, plan.parallel);
      add_bias(bias, s.out_channels, y, tout, tn.first, tn.second);
    }
  };
  if (plan.parallel) parallel_for(plan.count, 1, run_chunks);
  else run_chunks(0, plan.count);
}

void conv1d_ref(const Conv1dShape& s, const float* x, int64_t in_len, const float* w,
                const float* bias, float* y) {
  const int64_t tout = conv1d_out_len(s, in_len);
  check_pointers("conv1d", x, w, y);
  const int64_t K = s.kernel, cin_g = s.in_channels / s.groups, cout_g = s.out_channels / s.groups;
  for (int64_t co = 0; co < s.out_channels; ++co) {
    const int64_t g = co / cout_g;
    for (int64_t t = 0; t < tout; ++t) {
      double acc = bias ? bias[co] : 0.0;
      for (int64_t ci = 0; ci < cin_g; ++ci)
        for (int64_t k = 0; k < K; ++k)
          acc += double(w[(co * cin_g + ci) * K + k]) *
                 double(x[(g * cin_g + ci) * in_len + t * s.stride + k * s.dilation]);
      y[co * tout + t] = float(acc);
    }
  }
}

void pad1d(const float* x, int64_t channels, int64_t len, int64_t left, int64_t right,
           PadMode mode, float* y) {
  ALM_CHECK_ARG(channels >= 0 && len >= 1, "pad1d: need channels >= 0 and len >= 1 (got ", channels,
                ", ", len, ")");
  ALM_CHECK_ARG(left >= 0 && right >= 0, "pad1d: negative padding (left ", left, ", right ", right, ")");
  ALM_CHECK_ARG(channels == 0 || (x != nullptr && y != nullptr), "pad1d: null input or output");
  if (mode == PadMode::Reflect)
    ALM_CHECK_ARG(left < len && right < len, "pad1d: reflect padding (left ", left, ", right ", right,
                  ") must be smaller than the input length ", len);
  const int64_t out_len = left + len + right;
  for (int64_t c = 0; c < channels; ++c) {
    const float* src = x + c * len;
    float* dst = y + c * out_len;
    std::memcpy(dst + left, src, sizeof(float) * len);
    for (int64_t i = 0; i < left; ++i) {
      const int64_t from = left - i;  // distance before the first sample
      dst[i] = mode == PadMode::Zero ? 0.f : mode == PadMode::Reflect ? src[from] : src[0];
    }
    for (int64_t i = 0; i < right; ++i) {
      dst[left + len + i] = mode == PadMode::Zero      ? 0.f
                            : mode == PadMode::Reflect ? src[len - 2 - i]
                                                       : src[len - 1];
    }
  }
}

void conv_transpose1d(const Conv1dShape& s, const float* x, int64_t in_len, const float* w,
                      const float* bias, float* y) {
  const int64_t tout = conv_transpose1d_out_len(s, in_len);
  check_pointers("conv_transpose1d", x, w, y);
  const int64_t G = s.groups, K = s.kernel, cout = s.out_channels;
  const int64_t cin_g = s.in_channels / G, cout_g = cout / G, rows_g = cout_g * K;
  const int64_t row_grain = std::max<int64_t>(1, 65536 / tout);

  parallel_for(cout, row_grain, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) std::fill(y + c * tout, y + (c + 1) * tout, bias ? bias[c] : 0.f);
  });

  if (K == 1 && s.stride == 1) {
    // Each input step maps to one output step: multiply straight into y.
    for (int64_t g = 0; g < G; ++g)
      gemm(true, false, cout_g, in_len, cin_g, 1.f, w + g * cin_g * cout_g, cout_g,
           x + g * cin_g * in_len, in_len, 1.f, y + g * cout_g * tout, tout);
    return;
  }

  // col[co*K + k, t] = sum_ci w[ci, co, k] x[ci, t0 + t] lands on y[co, (t0 + t)*stride + k*dilation].
  // A chunk's output reaches dilation*(K-1) past the start of the next chunk's, so side-by-side
  // chunks run in two rounds, even then odd, where chunks of one round never touch.
  const ChunkPlan plan = plan_chunks(cout * K, kFoldBudget, in_len, double(s.in_channels) * double(rows_g) * double(in_len));
  const bool rounds_disjoint = s.dilation * (K - 1) < (plan.len + 1) * s.stride;
  auto run_chunk = [&](int64_t ci, std::vector<float>& col) {
    const int64_t t0 = ci * plan.len, n = std::min(plan.len, in_len - t0);
    col.resize(size_t(cout * K * n));
    for (int64_t g = 0; g < G; ++g)
      gemm(true, false, rows_g, n, cin_g, 1.f, w + g * cin_g * rows_g, rows_g,
           x + g * cin_g * in_len + t0, in_len, 0.f, col.data() + g * rows_g * n, n);
    auto fold = [&](int64_t c0, int64_t c1) {
      for (int64_t co = c0; co < c1; ++co) {
        for (int64_t k = 0; k < K; ++k) {
          const float* crow = col.data() + (co * K + k) * n;
          float* dst = y + co * tout + t0 * s.stride + k * s.dilation;
          if (s.stride == 1) {
            for (int64_t t = 0; t < n; ++t) dst[t] += crow[t];
          } else {
            for (int64_t t = 0; t < n; ++t) dst[t * s.stride] += crow[t];
          }
        }
      }
    };
    // Inside a side-by-side chunk this runs serially anyway.
    parallel_for(cout, std::max<int64_t>(1, 32768 / (K * n)), fold);
  };
  if (plan.parallel && rounds_disjoint) {
    for (int64_t parity = 0; parity < 2; ++parity) {
      const int64_t count = (plan.count - parity + 1) / 2;
      parallel_for(count, 1, [&](int64_t i0, int64_t i1) {
        std::vector<float> col;
        for (int64_t i = i0; i < i1; ++i) run_chunk(2 * i + parity, col);
      });
    }
  } else {
    std::vector<float> col;
    for (int64_t ci = 0; ci < plan.count; ++ci) run_chunk(ci, col);
  }
}

void conv_transpose1d_ref(const Conv1dShape& s, const float* x, int64_t in_len, const float* w,
                          const float* bias, float* y) {
  const int64_t tout = conv_transpose1d_out_len(s, in_len);
  check_pointers("conv_transpose1d", x, w, y);
  const int64_t K = s.kernel, cin_g = s.in_channels / s.groups, cout_g = s.out_channels / s.groups;
  std::vector<double> acc(size_t(s.out_channels * tout), 0.0);
  for (int64_t ci = 0; ci < s.in_channels; ++ci) {
    const int64_t g = ci / cin_g;
    for (int64_t co_g = 0; co_g < cout_g; ++co_g) {
      const int64_t co = g * cout_g + co_g;
      for (int64_t k = 0; k < K; ++k) {
        const double wv = w[(ci * cout_g + co_g) * K + k];
        for (int64_t t = 0; t < in_len; ++t)
          acc[size_t(co * tout + t * s.stride + k * s.dilation)] += wv * double(x[ci * in_len + t]);
      }
    }
  }
  for (int64_t co = 0; co < s.out_channels; ++co)
    for (int64_t t = 0; t < tout; ++t)
      y[co * tout + t] = float(acc[size_t(co * tout + t)] + (bias ? bias[co] : 0.f));
}

}  // namespace alm
