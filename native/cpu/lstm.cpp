// LSTM. The input projection does not depend on the recurrence, so it runs for a block of steps
// as one large GEMM; each step then adds h_{t-1} W_hh^T (a skinny GEMM over B rows) and applies
// the gates in place.
#include "cpu/lstm.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "cpu/act.h"
#include "cpu/gemm.h"

namespace alm {
namespace {

// Floats of gate pre-activations held at once (16 MiB), which bounds memory on long inputs.
constexpr int64_t kGateBudget = int64_t(1) << 22;

void check_layer(const LstmLayerWeights& L, int64_t index) {
  ALM_CHECK_ARG(L.input_size >= 1 && L.hidden_size >= 1, "lstm: layer ", index,
                " needs input_size and hidden_size >= 1 (got ", L.input_size, ", ", L.hidden_size, ")");
  ALM_CHECK_ARG(L.w_ih != nullptr && L.w_hh != nullptr, "lstm: layer ", index, " has a null weight");
}

void check_run(const float* x, int64_t T, int64_t B, const float* y) {
  ALM_CHECK_ARG(T >= 0 && B >= 1, "lstm: need T >= 0 and B >= 1 (got T=", T, ", B=", B, ")");
  ALM_CHECK_ARG(T == 0 || (x != nullptr && y != nullptr), "lstm: null input or output");
}

void check_stack(const std::vector<LstmLayerWeights>& layers) {
  ALM_CHECK_ARG(!layers.empty(), "lstm: no layers");
  for (size_t l = 0; l < layers.size(); ++l) {
    check_layer(layers[l], int64_t(l));
    if (l > 0)
      ALM_CHECK_ARG(layers[l].input_size == layers[l - 1].hidden_size, "lstm: layer ", l, " takes ",
                    layers[l].input_size, " inputs but layer ", l - 1, " gives ", layers[l - 1].hidden_size);
  }
}

// gates [4H] pre-activations of one batch row -> c and h updated in place.
void apply_gates(float* gates, float* c, float* h, int64_t H) {
  sigmoid(gates, 2 * H);           // i, f
  tanh_inplace(gates + 2 * H, H);  // g
  sigmoid(gates + 3 * H, H);       // o
  const float *i = gates, *f = gates + H, *g = gates + 2 * H;
  for (int64_t j = 0; j < H; ++j) {
    c[j] = f[j] * c[j] + i[j] * g[j];
    h[j] = c[j];
  }
  tanh_inplace(h, H);
  const float* o = gates + 3 * H;
  for (int64_t j = 0; j < H; ++j) h[j] *= o[j];
}

template <typename LayerFn>
void run_stack(const std::vector<LstmLayerWeights>& layers, const float* x, int64_t T, int64_t B,
               float* y, const LayerFn& layer_fn) {
  check_stack(layers);
  check_run(x, T, B, y);
  std::vector<float> a, b;
  const float* in = x;
  for (size_t l = 0; l < layers.size(); ++l) {
    float* out = y;
    if (l + 1 < layers.size()) {
      std::vector<float>& buf = (l % 2 == 0) ? a : b;
      buf.resize(size_t(T * B * layers[l].hidden_size));
      out = buf.data();
    }
    layer_fn(layers[l], in, T, B, out);
    in = out;
  }
}

}  // namespace

void lstm_layer(const LstmLayerWeights& L, const float* x, int64_t T, int64_t B, float* y) {
  check_layer(L, 0);
  check_run(x, T, B, y);
  const int64_t I = L.input_size, H = L.hidden_size, G4 = 4 * H;
  std::vector<float> bias(size_t(G4), 0.f);
  for (int64_t j = 0; j < G4; ++j) bias[size_t(j)] = (L.b_ih ? L.b_ih[j] : 0.f) + (L.b_hh ? L.b_hh[j] : 0.f);
  std::vector<float> c(size_t(B * H), 0.f);
  const int64_t block = std::max<int64_t>(1, std::min<int64_t>(T, kGateBudget / (B * G4)));
  std::vector<float> gates(size_t(block * B * G4));
  for (int64_t t0 = 0; t0 < T; t0 += block) {
    const int64_t steps = std::min(block, T - t0);
    gemm(false, true, steps * B, G4, I, 1.f, x + t0 * B * I, I, L.w_ih, I, 0.f, gates.data(), G4);
    for (int64_t r = 0; r < steps * B; ++r) {
      float* row = gates.data() + r * G4;
      for (int64_t j = 0; j < G4; ++j) row[j] += bias[size_t(j)];
    }
    for (int64_t t = t0; t < t0 + steps; ++t) {
      float* g = gates.data() + (t - t0) * B * G4;
      // h_{-1} = 0 contributes nothing.
      if (t > 0) gemm(false, true, B, G4, H, 1.f, y + (t - 1) * B * H, H, L.w_hh, H, 1.f, g, G4);
      for (int64_t b = 0; b < B; ++b) apply_gates(g + b * G4, c.data() + b * H, y + (t * B + b) * H, H);
    }
  }
}

void lstm_layer_ref(const LstmLayerWeights& L, const float* x, int64_t T, int64_t B, float* y) {
  check_layer(L, 0);
  check_run(x, T, B, y);
  const int64_t I = L.input_size, H = L.hidden_size;
  std::vector<double> h(size_t(B * H), 0.0), c(size_t(B * H), 0.0), pre(size_t(4 * H));
  auto sigm = [](double v) { return 1.0 / (1.0 + std::exp(-v)); };
  for (int64_t t = 0; t < T; ++t) {
    for (int64_t b = 0; b < B; ++b) {
      const float* xt = x + (t * B + b) * I;
      double* hb = h.data() + b * H;
      for (int64_t r = 0; r < 4 * H; ++r) {
        double s = (L.b_ih ? L.b_ih[r] : 0.0) + (L.b_hh ? L.b_hh[r] : 0.0);
        for (int64_t k = 0; k < I; ++k) s += double(L.w_ih[r * I + k]) * xt[k];
        for (int64_t k = 0; k < H; ++k) s += double(L.w_hh[r * H + k]) * hb[k];
        pre[size_t(r)] = s;
      }
      for (int64_t j = 0; j < H; ++j) {
        const double i = sigm(pre[size_t(j)]), f = sigm(pre[size_t(H + j)]);
        const double g = std::tanh(pre[size_t(2 * H + j)]), o = sigm(pre[size_t(3 * H + j)]);
        double& cj = c[size_t(b * H + j)];
        cj = f * cj + i * g;
        hb[j] = o * std::tanh(cj);
        y[(t * B + b) * H + j] = float(hb[j]);
      }
    }
  }
}

void lstm(const std::vector<LstmLayerWeights>& layers, const float* x, int64_t T, int64_t B, float* y) {
  run_stack(layers, x, T, B, y, lstm_layer);
}

void lstm_ref(const std::vector<LstmLayerWeights>& layers, const float* x, int64_t T, int64_t B, float* y) {
  run_stack(layers, x, T, B, y, lstm_layer_ref);
}

}  // namespace alm
