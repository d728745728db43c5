// Residual vector quantisation (EnCodec / SoundStream): level l picks the code nearest to what
// levels 0..l-1 left unexplained.
#pragma once
#include <cstdint>
#include <vector>

namespace alm {

struct RvqCodebooks {
  int64_t num_levels = 0, codebook_size = 0, dim = 0;
  std::vector<const float*> embed;  // num_levels pointers, each [codebook_size, dim]
  // Optional ||e||^2 of every code, [num_levels * codebook_size]; rvq_cache_norms fills it once
  // so that encode does not recompute it per call. Left empty, encode computes what it needs.
  std::vector<float> code_norms;
};

// Fills cb.code_norms.
void rvq_cache_norms(RvqCodebooks& cb);

// codes[levels, T] for x[T, D]: per level the code minimising ||r - e||^2 (ties to the lowest
// index), then r -= e. Needs 1 <= levels <= num_levels.
void rvq_encode(const RvqCodebooks& cb, int64_t levels, const float* x, int64_t T, int32_t* codes);
void rvq_encode_ref(const RvqCodebooks& cb, int64_t levels, const float* x, int64_t T, int32_t* codes);

// y[T, D] = sum over levels of the chosen code vectors. Throws, naming level and frame, on a
// code outside [0, codebook_size).
void rvq_decode(const RvqCodebooks& cb, int64_t levels, const int32_t* codes, int64_t T, float* y);
void rvq_decode_ref(const RvqCodebooks& cb, int64_t levels, const int32_t* codes, int64_t T, float* y);

}  // namespace alm
