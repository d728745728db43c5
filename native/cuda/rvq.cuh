// Residual vector quantisation on the GPU. Counterpart of native/cpu/rvq.h with the codebooks
// in one device array embed[num_levels, codebook_size, dim].
#pragma once
#include <cstdint>

namespace alm {
namespace cuda {

struct RvqDeviceCodebooks {
  int64_t num_levels = 0, codebook_size = 0, dim = 0;
  const float* embed = nullptr;  // [num_levels, codebook_size, dim]
  const float* norms = nullptr;  // [num_levels, codebook_size] ||e||^2, from rvq_code_norms
};

// norms[l * codebook_size + c] = ||embed[l][c]||^2.
void rvq_code_norms(int64_t num_levels, int64_t codebook_size, int64_t dim, const float* embed, float* norms);
// codes[levels, T] for x[T, dim]: per level argmin_c ||e_c||^2 - 2 r·e_c (ties to the lowest
// index), then r -= e. Blocks of 8 frames share each code vector they read.
void rvq_encode(const RvqDeviceCodebooks& cb, int64_t levels, const float* x, int64_t T, int32_t* codes);
// y[T, dim] = sum over levels of the chosen code vectors. A code outside [0, codebook_size)
// makes its frame NaN (callers validate codes on the host, where they come from).
void rvq_decode(const RvqDeviceCodebooks& cb, int64_t levels, const int32_t* codes, int64_t T, float* y);

}  // namespace cuda
}  // namespace alm
