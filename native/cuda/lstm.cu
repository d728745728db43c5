#include "cuda/common.cuh"
#include "cuda/lstm.cuh"

namespace alm {
namespace cuda {
namespace {

__device__ __forceinline__ float sigmoid_dev(float v) { return 1.f / (1.f + expf(-v)); }

__global__ void lstm_cell_kernel(const float* gx, const float* gh, const float* b, int64_t B, int64_t H, float* c, float* h,
                                 float* y, int64_t ldy) {
  const int64_t n = B * H;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t r = i / H, j = i % H, row = r * 4 * H;
    auto gate = [&](int64_t k) { return gx[row + k * H + j] + gh[row + k * H + j] + (b ? b[k * H + j] : 0.f); };
    const float ig = sigmoid_dev(gate(0)), fg = sigmoid_dev(gate(1)), gg = tanhf(gate(2)), og = sigmoid_dev(gate(3));
    const float cn = fg * c[i] + ig * gg;
    c[i] = cn;
    const float hn = og * tanhf(cn);
    h[i] = hn;
    y[r * ldy + j] = hn;
  }
}

}  // namespace

void lstm_cell(const float* gx, const float* gh, const float* b, int64_t B, int64_t H, float* c, float* h, float* y,
               int64_t ldy) {
  if (B * H == 0) return;
  lstm_cell_kernel<<<blocks_for(B * H, 256), 256, 0, stream()>>>(gx, gh, b, B, H, c, h, y, ldy);
  ALM_CUDA_CHECK_LAUNCH("lstm_cell");
}

}  // namespace cuda
}  // namespace alm
