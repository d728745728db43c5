// Few-row products for decode steps: y[M,N] = x[M,K] · W[N,K]ᵀ for M <= kGemvMaxRows (32), one
// warp per weight row so each weight is read once for all M rows. Counterpart of
// native/cpu/gemv.h. The bf16 variant halves the weight bytes, which bound this product.
#pragma once
#include <cstdint>

namespace alm {
namespace cuda {

void gemv_rows(int64_t M, int64_t N, int64_t K, const float* x, int64_t ldx, const float* W, int64_t ldw, float* y,
               int64_t ldy);
void gemv_rows_bf16(int64_t M, int64_t N, int64_t K, const float* x, int64_t ldx, const uint16_t* W, int64_t ldw,
                    float* y, int64_t ldy);

}  // namespace cuda
}  // namespace alm
