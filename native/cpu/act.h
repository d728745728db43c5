// Element-wise activations, in place on n floats. The fast versions use vectorised exp/erfc
// approximations accurate to a few float ulps (about 1e-6 relative or better) and split long
// arrays over the thread pool; the _ref versions evaluate the textbook formulas in double.
#pragma once
#include <cstdint>

namespace alm {

// x > 0 ? x : alpha * (exp(x) - 1), as torch.nn.ELU.
void elu(float* x, int64_t n, float alpha);
void elu_ref(float* x, int64_t n, float alpha);

// x * Phi(x) with the exact (erf) normal CDF, torch's default GELU.
void gelu(float* x, int64_t n);
void gelu_ref(float* x, int64_t n);

// 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), GELU(approximate="tanh").
void gelu_tanh(float* x, int64_t n);
void gelu_tanh_ref(float* x, int64_t n);

// 1 / (1 + exp(-x)); the LSTM gates use it.
void sigmoid(float* x, int64_t n);
void sigmoid_ref(float* x, int64_t n);

// tanh(x), accurate in relative terms near zero too.
void tanh_inplace(float* x, int64_t n);
void tanh_inplace_ref(float* x, int64_t n);

}  // namespace alm
