// Decode attention, flash-decoding style. Grid (batch * heads, splits): block (bh, s) takes keys
// [s * chunk, min((s + 1) * chunk, len)) of its row; each of its 4 warps walks every 4th key with
// an online softmax (lanes split head_dim, a warp reduction per dot product), the warps merge in
// shared memory, and the block writes a partial (max, sum, unnormalised output). A second
// kernel merges the splits of each (batch, head). Partials: [batch * heads, splits, head_dim + 2].
#include <algorithm>

#include "cuda/attention.cuh"
#include "cuda/common.cuh"

namespace alm {
namespace cuda {
namespace {

constexpr int kWarps = 4;
constexpr int kMaxPerLane = 8;  // head_dim <= 32 * 8
constexpr int kMinChunk = 64;

int64_t num_splits(const DecodeAttentionShape& s) {
  const int64_t rows = s.batch * s.heads;
  const int64_t want = std::max<int64_t>(1, (4 * 132 + rows - 1) / rows);  // about 4 blocks per SM of an H100 (132)
  const int64_t most = std::max<int64_t>(1, (s.max_len + kMinChunk - 1) / kMinChunk);
  return std::min(want, most);
}

__global__ void __launch_bounds__(kWarps * 32) decode_partial_kernel(int heads, int group, int head_dim, float scale,
                                                                     const float* __restrict__ q,
                                                                     const float* __restrict__ k,
                                                                     const float* __restrict__ v, int64_t kv_stride,
                                                                     int64_t batch_stride, const int32_t* lens,
                                                                     int chunk, float* part) {
  __shared__ float sm_m[kWarps], sm_l[kWarps];
  __shared__ float sm_acc[kWarps][32 * kMaxPerLane];
  const int bh = blockIdx.x, b = bh / heads, h = bh % heads, kvh = h / group;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int len = lens[b];
  const int j0 = blockIdx.y * chunk, j1 = min(len, j0 + chunk);
  const float* qh = q + int64_t(bh) * head_dim;
  float qr[kMaxPerLane], acc[kMaxPerLane];
#pragma unroll
  for (int i = 0; i < kMaxPerLane; ++i) {
    const int d = lane + 32 * i;
    qr[i] = d < head_dim ? qh[d] * scale : 0.f;
    acc[i] = 0.f;
  }
  float m = -INFINITY, l = 0.f;
  const float* kb = k + int64_t(b) * batch_stride + int64_t(kvh) * head_dim;
  const float* vb = v + int64_t(b) * batch_stride + int64_t(kvh) * head_dim;
  for (int j = j0 + warp; j < j1; j += kWarps) {
    const float* kj = kb + int64_t(j) * kv_stride;
    float s = 0.f;
#pragma unroll
    for (int i = 0; i < kMaxPerLane; ++i) {
      const int d = lane + 32 * i;
      if (d < head_dim) s = fmaf(qr[i], kj[d], s);
    }
    s = warp_sum(s);
    const float m_new = fmaxf(m, s);
    const float corr = expf(m - m_new);  // m = -inf the first time: 0
    const float p = expf(s - m_new);
    l = l * corr + p;
    const float* vj = vb + int64_t(j) * kv_stride;
#pragma unroll
    for (int i = 0; i < kMaxPerLane; ++i) {
      const int d = lane + 32 * i;
      acc[i] = d < head_dim ? fmaf(p, vj[d], acc[i] * corr) : 0.f;
    }
    m = m_new;
  }
  if (lane == 0) {
    sm_m[warp] = m;
    sm_l[warp] = l;
  }
#pragma unroll
  for (int i = 0; i < kMaxPerLane; ++i) sm_acc[warp][lane + 32 * i] = acc[i];
  __syncthreads();
  float M = -INFINITY;
#pragma unroll
  for (int w = 0; w < kWarps; ++w) M = fmaxf(M, sm_m[w]);
  float* out = part + (int64_t(bh) * gridDim.y + blockIdx.y) * (head_dim + 2);
  for (int d = threadIdx.x; d < head_dim; d += blockDim.x) {
    float a = 0.f;
    if (M != -INFINITY)
#pragma unroll
      for (int w = 0; w < kWarps; ++w) a += sm_acc[w][d] * expf(sm_m[w] - M);
    out[2 + d] = a;
  }
  if (threadIdx.x == 0) {
    float L = 0.f;
    if (M != -INFINITY)
      for (int w = 0; w < kWarps; ++w) L += sm_l[w] * expf(sm_m[w] - M);
    out[0] = M;
    out[1] = L;
  }
}

__global__ void decode_merge_kernel(int head_dim, int splits, const float* __restrict__ part, float* out) {
  const int bh = blockIdx.x;
  const float* p = part + int64_t(bh) * splits * (head_dim + 2);
  float M = -INFINITY;
  for (int s = 0; s < splits; ++s) M = fmaxf(M, p[int64_t(s) * (head_dim + 2)]);
  float L = 0.f;
  if (M != -INFINITY)
    for (int s = 0; s < splits; ++s) L += p[int64_t(s) * (head_dim + 2) + 1] * expf(p[int64_t(s) * (head_dim + 2)] - M);
  for (int d = threadIdx.x; d < head_dim; d += blockDim.x) {
    float a = 0.f;
    if (M != -INFINITY) {
      for (int s = 0; s < splits; ++s) {
        const float* ps = p + int64_t(s) * (head_dim + 2);
        a += ps[2 + d] * expf(ps[0] - M);
      }
      a /= L;
    }
    out[int64_t(bh) * head_dim + d] = a;  // a row that sees no key gets zeros
  }
}

void check_shape(const DecodeAttentionShape& s) {
  ALM_CHECK_ARG(s.batch >= 0 && s.heads > 0 && s.kv_heads > 0 && s.heads % s.kv_heads == 0, "attention_decode: ",
                s.heads, " heads is not a multiple of ", s.kv_heads, " kv heads");
  ALM_CHECK_ARG(s.head_dim > 0 && s.head_dim <= 32 * kMaxPerLane, "attention_decode: head_dim ", s.head_dim,
                " outside [1, ", 32 * kMaxPerLane, "]");
  ALM_CHECK_ARG(s.kv_stride >= s.kv_heads * s.head_dim && s.max_len >= 0 && s.max_len < (int64_t(1) << 31),
                "attention_decode: kv_stride ", s.kv_stride, " or max_len ", s.max_len, " out of range");
  ALM_CHECK_ARG(s.batch * s.heads < (int64_t(1) << 31), "attention_decode: batch * heads too large");
}

}  // namespace

size_t attention_decode_workspace_bytes(const DecodeAttentionShape& shape) {
  check_shape(shape);
  return size_t(shape.batch * shape.heads * num_splits(shape) * (shape.head_dim + 2)) * sizeof(float);
}

void attention_decode(const DecodeAttentionShape& shape, const float* q, const float* k, const float* v,
                      const int32_t* lens, void* workspace, float* out) {
  check_shape(shape);
  if (shape.batch == 0) return;
  const int64_t splits = num_splits(shape);
  const int64_t chunk = std::max<int64_t>(1, (shape.max_len + splits - 1) / splits);
  float* part = static_cast<float*>(workspace);
  dim3 grid(unsigned(shape.batch * shape.heads), unsigned(splits));
  decode_partial_kernel<<<grid, kWarps * 32, 0, stream()>>>(
      int(shape.heads), int(shape.heads / shape.kv_heads), int(shape.head_dim), shape.scale, q, k, v, shape.kv_stride,
      shape.batch_stride, lens, int(chunk), part);
  ALM_CUDA_CHECK_LAUNCH("attention_decode (partials)");
  decode_merge_kernel<<<unsigned(shape.batch * shape.heads), 128, 0, stream()>>>(int(shape.head_dim), int(splits),
                                                                                 part, out);
  ALM_CUDA_CHECK_LAUNCH("attention_decode (merge)");
}

namespace {
// One warp per (query, head): lanes split head_dim, keys are walked in order with an online
// softmax. Simple and exact in its masking and biases; the decode path above stays the fast one
// for single queries without biases.
constexpr int kRowWarps = 4;

__global__ void __launch_bounds__(kRowWarps * 32) attention_rows_kernel(AttentionRowsShape sh, const float* __restrict__ q,
                                                                        const AttentionRowDesc* __restrict__ rows,
                                                                        const int32_t* __restrict__ q_rows, int64_t queries,
                                                                        float* __restrict__ out) {
  const int64_t task = int64_t(blockIdx.x) * kRowWarps + (threadIdx.x >> 5);
  if (task >= queries * sh.heads) return;
  const int lane = threadIdx.x & 31;
  const int64_t qi = task / sh.heads, h = task % sh.heads, kvh = h / (sh.heads / sh.kv_heads);
  const AttentionRowDesc r = rows[q_rows[qi]];
  const int64_t pos = r.q_pos0 + (qi - r.q_row), hd = sh.head_dim;
  const int64_t n = sh.causal ? min(r.tk, pos + 1) : r.tk;
  const float* qh = q + (qi * sh.heads + h) * hd;
  float qr[kMaxPerLane], acc[kMaxPerLane];
#pragma unroll
  for (int i = 0; i < kMaxPerLane; ++i) {
    const int64_t d = lane + 32 * i;
    qr[i] = d < hd ? qh[d] : 0.f;
    acc[i] = 0.f;
  }
  float m = -INFINITY, l = 0.f;
  const uint8_t qseg = r.segments ? r.segments[pos] : 0;
  for (int64_t j = 0; j < n; ++j) {
    const float* kj = r.k + j * r.kv_stride + kvh * hd;
    float s = 0.f;
#pragma unroll
    for (int i = 0; i < kMaxPerLane; ++i) {
      const int64_t d = lane + 32 * i;
      if (d < hd) s = fmaf(qr[i], kj[d], s);
    }
    s = warp_sum(s) * sh.scale;
    if (r.segments && r.segments[j] != qseg) s += sh.cross[h];
    else if (sh.rel) s += sh.rel[h * sh.rel_len + (j - pos) + sh.rel_offset];
    const float m_new = fmaxf(m, s);
    if (m_new == -INFINITY) continue;  // every score so far is -inf
    const float corr = expf(m - m_new), p = expf(s - m_new);
    l = l * corr + p;
    const float* vj = r.v + j * r.kv_stride + kvh * hd;
#pragma unroll
    for (int i = 0; i < kMaxPerLane; ++i) {
      const int64_t d = lane + 32 * i;
      acc[i] = acc[i] * corr + (d < hd ? p * vj[d] : 0.f);
    }
    m = m_new;
  }
  float* oh = out + (qi * sh.heads + h) * hd;
  const float inv = l > 0.f ? 1.f / l : 0.f;
#pragma unroll
  for (int i = 0; i < kMaxPerLane; ++i) {
    const int64_t d = lane + 32 * i;
    if (d < hd) oh[d] = acc[i] * inv;
  }
}

__global__ void rotary_kernel(float* x, int64_t T, int64_t nheads, int64_t head_dim, int64_t rot_dim, const int64_t* positions,
                              float base) {
  const int64_t half = rot_dim / 2, n = T * nheads * half;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t t = i / (nheads * half), h = (i / half) % nheads, j = i % half;
    const double theta = double(positions[t]) * pow(double(base), -2.0 * double(j) / double(rot_dim));
    const float c = float(cos(theta)), s = float(sin(theta));
    float* xh = x + (t * nheads + h) * head_dim;
    const float a = xh[j], b = xh[j + half];
    xh[j] = a * c - b * s;
    xh[j + half] = b * c + a * s;
  }
}
}  // namespace

void attention_rows(const AttentionRowsShape& shape, const float* q, const AttentionRowDesc* rows, const int32_t* q_rows,
                    int64_t queries, float* out) {
  ALM_CHECK_ARG(shape.head_dim > 0 && shape.head_dim <= 32 * kMaxPerLane && shape.heads > 0 && shape.kv_heads > 0 &&
                    shape.heads % shape.kv_heads == 0,
                "cuda attention_rows: head_dim ", shape.head_dim, " (at most ", 32 * kMaxPerLane, "), heads ", shape.heads,
                ", kv_heads ", shape.kv_heads);
  const int64_t tasks = queries * shape.heads;
  if (tasks == 0) return;
  attention_rows_kernel<<<unsigned((tasks + kRowWarps - 1) / kRowWarps), kRowWarps * 32, 0, stream()>>>(shape, q, rows, q_rows,
                                                                                                       queries, out);
  ALM_CUDA_CHECK_LAUNCH("attention_rows");
}

void rotary(float* x, int64_t T, int64_t nheads, int64_t head_dim, int64_t rot_dim, const int64_t* positions, float base) {
  ALM_CHECK_ARG(rot_dim >= 0 && rot_dim <= head_dim && rot_dim % 2 == 0, "cuda rotary: rot_dim ", rot_dim);
  const int64_t n = T * nheads * (rot_dim / 2);
  if (n == 0) return;
  rotary_kernel<<<blocks_for(n, 256), 256, 0, stream()>>>(x, T, nheads, head_dim, rot_dim, positions, base);
  ALM_CUDA_CHECK_LAUNCH("rotary");
}

}  // namespace cuda
}  // namespace alm
