// Matrix products on the GPU: C[M,N] = A[M,K] · B[N,K]ᵀ, row-major, f32 accumulation (the
// layout of a linear layer's weight). Counterpart of native/cpu/gemm.h for the Bᵀ case.
#pragma once
#include <cstdint>

namespace alm {
namespace cuda {

// f32 inputs, FFMA on 64x64 tiles. C's old contents are never read.
void gemm_f32(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B, int64_t ldb, float* C,
              int64_t ldc);
// bf16 inputs (uint16_t bits) on the tensor cores (WMMA 16x16x16, f32 accumulate), f32 output.
void gemm_bf16(int64_t M, int64_t N, int64_t K, const uint16_t* A, int64_t lda, const uint16_t* B, int64_t ldb,
               float* C, int64_t ldc);

}  // namespace cuda
}  // namespace alm
