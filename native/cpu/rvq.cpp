// RVQ. The nearest-code search expands ||r - e||^2 = ||r||^2 - 2 r.e + ||e||^2; ||r||^2 is the
// same for every code of a frame, so the argmin only needs ||e||^2 - 2 r.e, and all the dot
// products of a block of frames are one GEMM against the codebook.
#include "cpu/rvq.h"

#include <algorithm>
#include <cstring>

#include "core/error.h"
#include "core/threadpool.h"
#include "cpu/gemm.h"

namespace alm {
namespace {

// Floats of scores held at once (4 MiB).
constexpr int64_t kScoreBudget = int64_t(1) << 20;

void check_codebooks(const RvqCodebooks& cb, int64_t levels, const char* op) {
  ALM_CHECK_ARG(cb.num_levels >= 1 && cb.codebook_size >= 1 && cb.dim >= 1, op,
                ": codebooks need num_levels, codebook_size and dim >= 1 (got ", cb.num_levels, ", ",
                cb.codebook_size, ", ", cb.dim, ")");
  ALM_CHECK_ARG(int64_t(cb.embed.size()) == cb.num_levels, op, ": ", cb.embed.size(),
                " codebooks given for ", cb.num_levels, " levels");
  ALM_CHECK_ARG(levels >= 1 && levels <= cb.num_levels, op, ": cannot use ", levels, " levels of ",
                cb.num_levels);
  for (int64_t l = 0; l < levels; ++l)
    ALM_CHECK_ARG(cb.embed[size_t(l)] != nullptr, op, ": codebook of level ", l, " is null");
  ALM_CHECK_ARG(cb.code_norms.empty() || int64_t(cb.code_norms.size()) == cb.num_levels * cb.codebook_size,
                op, ": code_norms holds ", cb.code_norms.size(), " values, expected ",
                cb.num_levels * cb.codebook_size);
}

void check_frames(const char* op, int64_t T, const void* in, const void* out) {
  ALM_CHECK_ARG(T >= 0, op, ": negative frame count ", T);
  ALM_CHECK_ARG(T == 0 || (in != nullptr && out != nullptr), op, ": null input or output");
}

void code_norms_of(const float* embed, int64_t size, int64_t dim, float* norms) {
  parallel_for(size, std::max<int64_t>(1, 16384 / dim), [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      double s = 0;
      for (int64_t d = 0; d < dim; ++d) s += double(embed[c * dim + d]) * embed[c * dim + d];
      norms[c] = float(s);
    }
  });
}

void check_codes(const RvqCodebooks& cb, int64_t levels, const int32_t* codes, int64_t T) {
  for (int64_t l = 0; l < levels; ++l)
    for (int64_t t = 0; t < T; ++t) {
      const int32_t code = codes[l * T + t];
      ALM_CHECK_ARG(code >= 0 && code < cb.codebook_size, "rvq_decode: code ", code, " at level ", l,
                    ", frame ", t, " is outside [0, ", cb.codebook_size, ")");
    }
}

}  // namespace

void rvq_cache_norms(RvqCodebooks& cb) {
  cb.code_norms.clear();
  check_codebooks(cb, cb.num_levels, "rvq_cache_norms");
  std::vector<float> norms(size_t(cb.num_levels * cb.codebook_size));
  for (int64_t l = 0; l < cb.num_levels; ++l)
    code_norms_of(cb.embed[size_t(l)], cb.codebook_size, cb.dim, norms.data() + l * cb.codebook_size);
  cb.code_norms = std::move(norms);
}

void rvq_encode(const RvqCodebooks& cb, int64_t levels, const float* x, int64_t T, int32_t* codes) {
  check_codebooks(cb, levels, "rvq_encode");
  check_frames("rvq_encode", T, x, codes);
  if (T == 0) return;
  const int64_t S = cb.codebook_size, D = cb.dim;
  std::vector<float> own_norms;
  const float* norms = cb.code_norms.data();
  if (cb.code_norms.empty()) {
    own_norms.resize(size_t(levels * S));
    for (int64_t l = 0; l < levels; ++l) code_norms_of(cb.embed[size_t(l)], S, D, own_norms.data() + l * S);
    norms = own_norms.data();
  }
  std::vector<float> residual(x, x + T * D);
  const int64_t block = std::max<int64_t>(1, std::min<int64_t>(T, kScoreBudget / S));
  std::vector<float> scores(size_t(block * S));
  for (int64_t l = 0; l < levels; ++l) {
    const float* embed = cb.embed[size_t(l)];
    const float* norm = norms + l * S;
    for (int64_t t0 = 0; t0 < T; t0 += block) {
      const int64_t n = std::min(block, T - t0);
      gemm(false, true, n, S, D, -2.f, residual.data() + t0 * D, D, embed, D, 0.f, scores.data(), S);
      parallel_for(n, std::max<int64_t>(1, 8192 / S), [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) {
          const float* score = scores.data() + r * S;
          int64_t best = 0;
          float best_d = norm[0] + score[0];
          for (int64_t c = 1; c < S; ++c) {
            const float d = norm[c] + score[c];
            if (d < best_d) best_d = d, best = c;
          }
          codes[l * T + t0 + r] = int32_t(best);
          float* res = residual.data() + (t0 + r) * D;
          const float* e = embed + best * D;
          for (int64_t d = 0; d < D; ++d) res[d] -= e[d];
        }
      });
    }
  }
}

void rvq_encode_ref(const RvqCodebooks& cb, int64_t levels, const float* x, int64_t T, int32_t* codes) {
  check_codebooks(cb, levels, "rvq_encode");
  check_frames("rvq_encode", T, x, codes);
  const int64_t S = cb.codebook_size, D = cb.dim;
  std::vector<float> res(static_cast<size_t>(D));
  for (int64_t t = 0; t < T; ++t) {
    std::copy(x + t * D, x + (t + 1) * D, res.begin());
    for (int64_t l = 0; l < levels; ++l) {
      const float* embed = cb.embed[size_t(l)];
      int64_t best = 0;
      double best_d = 0;
      for (int64_t c = 0; c < S; ++c) {
        double d2 = 0;
        for (int64_t d = 0; d < D; ++d) {
          const double diff = double(res[size_t(d)]) - double(embed[c * D + d]);
          d2 += diff * diff;
        }
        if (c == 0 || d2 < best_d) best_d = d2, best = c;
      }
      codes[l * T + t] = int32_t(best);
      for (int64_t d = 0; d < D; ++d) res[size_t(d)] -= embed[best * D + d];
    }
  }
}

void rvq_decode(const RvqCodebooks& cb, int64_t levels, const int32_t* codes, int64_t T, float* y) {
  check_codebooks(cb, levels, "rvq_decode");
  check_frames("rvq_decode", T, codes, y);
  check_codes(cb, levels, codes, T);
  const int64_t D = cb.dim;
  // Levels are added in order from zero, as in the reference, so the sums match bit for bit.
  parallel_for(T, std::max<int64_t>(1, 8192 / (D * levels)), [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      float* out = y + t * D;
      std::fill(out, out + D, 0.f);
      for (int64_t l = 0; l < levels; ++l) {
        const float* e = cb.embed[size_t(l)] + int64_t(codes[l * T + t]) * D;
        for (int64_t d = 0; d < D; ++d) out[d] += e[d];
      }
    }
  });
}

void rvq_decode_ref(const RvqCodebooks& cb, int64_t levels, const int32_t* codes, int64_t T, float* y) {
  check_codebooks(cb, levels, "rvq_decode");
  check_frames("rvq_decode", T, codes, y);
  check_codes(cb, levels, codes, T);
  const int64_t D = cb.dim;
  for (int64_t t = 0; t < T; ++t)
    for (int64_t d = 0; d < D; ++d) {
      float s = 0.f;
      for (int64_t l = 0; l < levels; ++l) s += cb.embed[size_t(l)][int64_t(codes[l * T + t]) * D + d];
      y[t * D + d] = s;
    }
}

}  // namespace alm
