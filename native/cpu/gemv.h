// Products with few rows, as in decode steps: y[M, N] = x[M, K] · W[N, K]ᵀ (+ y when accumulate)
// for M up to kGemvMaxRows. Each weight row is read once and reused for every activation row
// from L1, where the packed gemm would first copy the whole weight matrix: at small M the
// product is bound by weight bandwidth, so that copy would double its cost.
#pragma once
#include <cstdint>

namespace alm {

constexpr int64_t kGemvMaxRows = 32;

// Whether gemv_rows beats the packed gemm for M rows on this CPU (measured with 4096 × 1024
// weights: up to 32 rows with AVX-512, up to 16 with AVX2).
bool gemv_preferred(int64_t M);

void gemv_rows(int64_t M, int64_t N, int64_t K, const float* x, int64_t ldx, const float* W, int64_t ldw, float* y,
               int64_t ldy);
// Plain loops with double accumulation: the yardstick for gemv_rows.
void gemv_rows_ref(int64_t M, int64_t N, int64_t K, const float* x, int64_t ldx, const float* W, int64_t ldw, float* y,
                   int64_t ldy);

}  // namespace alm
