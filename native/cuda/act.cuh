// Element-wise activations in place on n floats of device memory. Counterparts of
// native/cpu/act.h.
#pragma once
#include <cstdint>

namespace alm {
namespace cuda {

void elu(float* x, int64_t n, float alpha);
void gelu(float* x, int64_t n);       // exact (erf)
void gelu_tanh(float* x, int64_t n);  // approximate="tanh"
void sigmoid(float* x, int64_t n);
void tanh_inplace(float* x, int64_t n);

}  // namespace cuda
}  // namespace alm
