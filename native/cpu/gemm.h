// Single-precision matrix multiply for the CPU backend, and the switch that picks between the
// AVX-512, AVX2/FMA and portable kernels for every kernel in native/cpu.
#pragma once
#include <cstdint>

namespace alm {

// C[M,N] = alpha * op(A)[M,K] * op(B)[K,N] + beta * C, all row-major. op(X) is X^T when the flag
// is set, so a transposed A is stored [K,M] with row stride lda. With beta == 0 the old contents
// of C are never read (NaN there does not leak). Threaded with alm::parallel_for.
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
          const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
          int64_t ldc);
// The same on the calling thread only, and planned as such: for callers that already run
// several products side by side (a nested gemm would run serially anyway, but be cut up for
// threads it does not get).
void gemm_single_thread(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                        const float* A, int64_t lda, const float* B, int64_t ldb, float beta,
                        float* C, int64_t ldc);
// Triple loop with double accumulation: the yardstick for gemm.
void gemm_ref(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
              const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
              int64_t ldc);

// Kernel levels: 0 portable, 1 AVX2 + FMA, 2 AVX-512F (gemm's micro-kernel; the other kernels
// use AVX2 at level 2). The level in use is the lesser of the CPU's and the cap set below.

// True when this CPU has AVX2 and FMA and they have not been switched off (also at level 2:
// every AVX-512 CPU has AVX2, and the non-GEMM kernels keep using it there).
bool simd_avx2_active();
// True when gemm uses its AVX-512 micro-kernel.
bool simd_avx512_active();
// The level in use, and the best this CPU offers.
int simd_level();
int simd_max_level();
// "avx512", "avx2+fma" or "portable", for the level in use.
const char* simd_kernel_name();
// Caps the level (clamped to 0..2; a cap above the CPU's level uses the CPU's). Tests and
// benchmarks use it to exercise each path. Affects gemm, the activations and all callers.
void set_simd_level(int level);
// false caps at 0 (portable kernels); true lifts the cap (the best the CPU has).
void set_simd_enabled(bool enabled);

}  // namespace alm
