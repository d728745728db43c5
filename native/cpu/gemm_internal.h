// Internals shared by gemm.cpp (the packed path and the entry points) and gemm_skinny.cpp (the
// unpacked path for products with a side of at most kSkinny): the SIMD attribute macros, strided
// views and small helpers. Not part of the library's interface.
#pragma once
#include <cstdint>

#include "core/threadpool.h"

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define ALM_X86_SIMD 1
#include <immintrin.h>
#define ALM_AVX2 __attribute__((target("avx2,fma")))
#define ALM_AVX512 __attribute__((target("avx512f,avx512vl,avx512dq,avx2,fma")))
#endif

namespace alm::gemm_detail {

// A side this small goes to the unpacked path.
constexpr int64_t kSkinny = 4;

// Element (r, c) of a strided matrix view lives at p[r * rs + c * cs].
struct View { const float* p; int64_t rs, cs; };
struct OutView { float* p; int64_t rs, cs; };

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

inline void store_scaled(float* c, float acc, float alpha, float beta) {
  *c = beta == 0.f ? alpha * acc : alpha * acc + beta * *c;
}

// fn(0, n) on this thread, or spread over the pool.
template <typename Fn>
void maybe_parallel(bool parallel, int64_t n, int64_t grain, const Fn& fn) {
  if (parallel) parallel_for(n, grain, fn);
  else fn(0, n);
}

// C[M,N] over strided views, M small (or the whole product tiny). Threads split the columns.
void gemm_skinny(int64_t M, int64_t N, int64_t K, float alpha, View a, View b, float beta, OutView c, bool may_thread);

}  // namespace alm::gemm_detail
