// Single-precision matrix multiply for the CPU backend, and the switch that picks between the
// AVX2/FMA kernels and the portable ones for every kernel in native/cpu.
#pragma once
#include <cstdint>

namespace alm {

// C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C, all row-major. op(X) is X^T when the flag
// is set, so a transposed A is stored [K,M] with row stride lda. With beta == 0 the old contents
// of C are never read (NaN there does not leak). Threaded with alm::parallel_for.
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
          const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
          int64_t ldc);
// Triple loop with double accumulation: the yardstick for gemm.
void gemm_ref(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
              const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
              int64_t ldc);

// True when this CPU has AVX2 and FMA and they have not been switched off.
bool simd_avx2_active();
// Tests and benchmarks switch the AVX2 kernels off (false) to exercise the portable ones; true
// goes back to using them where the CPU has them. Affects gemm, the activations and all callers.
void set_simd_enabled(bool enabled);

}  // namespace alm
