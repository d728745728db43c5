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
void relu(float* x, int64_t n);
// x = log(max(x, floor)).
void log_floor(float* x, int64_t n, float floor);
// g[rows, F] = gelu(u[:, F:2F]) * u[:, :F] for u [rows, 2F].
void geglu(const float* u, int64_t rows, int64_t F, float* g);
// y = a·y + b·x.
void axpby(float* y, const float* x, int64_t n, float a, float b);
// y[r, j] += b[j] for y [rows, cols].
void add_bias(float* y, const float* b, int64_t rows, int64_t cols);
// power[F, B] = re² + im² of spec [F, 2B] (B real parts, then B imaginary parts, per row).
void power_spectrum(const float* spec, int64_t F, int64_t B, float* power);
// x[r, t] = (x[r, t] − sub[r]) · mul[r] + add[r] (sub, mul, add on the device).
void affine_rows(float* x, int64_t rows, int64_t width, const float* sub, const float* mul, const float* add);

}  // namespace cuda
}  // namespace alm
