// The LSTM cell update on the GPU (torch.nn.LSTM's gate order i, f, g, o), the step between the
// two products of each time step; counterpart of the cell in native/cpu/lstm.cpp.
#pragma once
#include <cstdint>

namespace alm {
namespace cuda {

// For B rows of width H: gates = gx[B, 4H] + gh[B, 4H] (+ b[4H] when not null);
// c = σ(f)·c + σ(i)·tanh(g), h = σ(o)·tanh(c); h is also written to y[B, H] (row stride ldy).
void lstm_cell(const float* gx, const float* gh, const float* b, int64_t B, int64_t H, float* c, float* h, float* y,
               int64_t ldy);

}  // namespace cuda
}  // namespace alm
