// Position encodings beside attention: GPT-NeoX rotary embeddings (applied to q and k before the
// dot product) and T5's relative-position buckets (the bias added to the scores).
#include <algorithm>
#include <cmath>
#include <vector>

#include "core/error.h"
#include "core/threadpool.h"
#include "cpu/attention.h"

namespace alm {

// ---- rotary ----

namespace {
void check_rotary(const char* name, const float* x, int64_t T, int64_t nheads, int64_t head_dim, int64_t rot_dim,
                  const int64_t* positions, float base) {
  ALM_CHECK_ARG(T >= 0 && nheads > 0 && head_dim > 0, name, ": bad shape T ", T, ", heads ", nheads, ", head_dim ",
                head_dim);
  ALM_CHECK_ARG(rot_dim >= 0 && rot_dim <= head_dim && rot_dim % 2 == 0, name, ": rot_dim ", rot_dim,
                " must be even and within [0, ", head_dim, "]");
  ALM_CHECK_ARG(base > 0.f, name, ": base must be positive, got ", base);
  ALM_CHECK_ARG(T == 0 || (x != nullptr && positions != nullptr), name, ": null data");
}
}  // namespace

void rotary(float* x, int64_t T, int64_t nheads, int64_t head_dim, int64_t rot_dim, const int64_t* positions,
            float base) {
  check_rotary("rotary", x, T, nheads, head_dim, rot_dim, positions, base);
  const int64_t half = rot_dim / 2;
  if (T == 0 || half == 0) return;
  // The angles depend on (t, j) only: one cos/sin per pair, shared by all heads.
  std::vector<double> inv_freq(static_cast<size_t>(half));
  for (int64_t j = 0; j < half; ++j) inv_freq[size_t(j)] = std::pow(double(base), -2.0 * double(j) / double(rot_dim));
  const int64_t grain = std::max<int64_t>(1, 8192 / (nheads * rot_dim));
  parallel_for(T, grain, [&](int64_t t0, int64_t t1) {
    std::vector<float> cs(static_cast<size_t>(2 * half));
    float* c = cs.data();
    float* sn = c + half;
    for (int64_t t = t0; t < t1; ++t) {
      const double pos = double(positions[t]);
      for (int64_t j = 0; j < half; ++j) {
        const double th = pos * inv_freq[size_t(j)];
        c[j] = float(std::cos(th));
        sn[j] = float(std::sin(th));
      }
      for (int64_t h = 0; h < nheads; ++h) {
        float* a = x + (t * nheads + h) * head_dim;
        float* b = a + half;
        for (int64_t j = 0; j < half; ++j) {
          const float x0 = a[j], x1 = b[j];
          a[j] = x0 * c[j] - x1 * sn[j];
          b[j] = x1 * c[j] + x0 * sn[j];
        }
      }
    }
  });
}

void rotary_ref(float* x, int64_t T, int64_t nheads, int64_t head_dim, int64_t rot_dim, const int64_t* positions,
                float base) {
  check_rotary("rotary_ref", x, T, nheads, head_dim, rot_dim, positions, base);
  const int64_t half = rot_dim / 2;
  for (int64_t t = 0; t < T; ++t)
    for (int64_t h = 0; h < nheads; ++h)
      for (int64_t j = 0; j < half; ++j) {
        const double th = double(positions[t]) * std::pow(double(base), -2.0 * double(j) / double(rot_dim));
        float* a = x + (t * nheads + h) * head_dim;
        const double x0 = a[j], x1 = a[j + half];
        a[j] = float(x0 * std::cos(th) - x1 * std::sin(th));
        a[j + half] = float(x1 * std::cos(th) + x0 * std::sin(th));
      }
}

// ---- T5 buckets ----


}  // namespace alm
