// LSTM layers as in torch.nn.LSTM (batch_first=False, zero initial state, gate order i, f, g, o):
//   c = f*c + i*g,  h = o*tanh(c).
#pragma once
#include <cstdint>
#include <vector>

namespace alm {

struct LstmLayerWeights {
  int64_t input_size, hidden_size;
  const float* w_ih;  // [4H, I]
  const float* w_hh;  // [4H, H]
  const float* b_ih;  // [4H] or nullptr
  const float* b_hh;  // [4H] or nullptr
};

// y[T, B, H] = the hidden state of every step for x[T, B, I]. y must not overlap x.
void lstm_layer(const LstmLayerWeights& layer, const float* x, int64_t T, int64_t B, float* y);
void lstm_layer_ref(const LstmLayerWeights& layer, const float* x, int64_t T, int64_t B, float* y);

// Stacked layers, each feeding the next; y[T, B, H_last] is the last layer's output.
void lstm(const std::vector<LstmLayerWeights>& layers, const float* x, int64_t T, int64_t B, float* y);
void lstm_ref(const std::vector<LstmLayerWeights>& layers, const float* x, int64_t T, int64_t B, float* y);

}  // namespace alm
