// Attention for decode steps on the GPU: one query per batch row against that row's KV cache,
// split over the keys flash-decoding style (each block an online softmax over a chunk, then a
// reduction over chunks). Counterpart of native/cpu/attention.h for Tq = 1 without rel_bias.
#pragma once
#include <cstdint>

namespace alm {
namespace cuda {

struct DecodeAttentionShape {
  int64_t batch, heads, kv_heads, head_dim;  // head_dim <= 256; heads a multiple of kv_heads
  float scale;
  int64_t kv_stride;    // elements between consecutive key positions (>= kv_heads * head_dim)
  int64_t batch_stride;  // elements between consecutive batch rows of k and v
  int64_t max_len;       // an upper bound of lens[]: sizes the split
};

// Bytes of scratch attention_decode needs for this shape.
size_t attention_decode_workspace_bytes(const DecodeAttentionShape& shape);

// q, out: [batch, heads, head_dim]. k, v: batch rows of [len, kv_heads, head_dim] (strides as in
// the shape). lens: batch int32 on the device, the number of keys row b sees (all of them: the
// query is the newest position). A row with len 0 gets zeros. Query head h reads kv head
// h / (heads / kv_heads).
void attention_decode(const DecodeAttentionShape& shape, const float* q, const float* k, const float* v,
                      const int32_t* lens, void* workspace, float* out);

// Ragged attention over any number of queries per row (prefill and decode), with the CPU op's
// whole option set: causal or not, a relative-bias table by (key − query), segment biases.
struct AttentionRowDesc {
  const float* k;
  const float* v;
  const uint8_t* segments;  // [tk] or null
  int64_t q_row, tq, q_pos0, tk, kv_stride;
};
struct AttentionRowsShape {
  int64_t heads, kv_heads, head_dim;  // head_dim <= 256
  float scale;
  bool causal;
  const float* rel;    // [heads, rel_len] or null
  int64_t rel_len, rel_offset;
  const float* cross;  // [heads] (with segments) or null
};
// q, out: [Σtq, heads, head_dim]; rows: n device descriptors; q_rows: Σtq int32 on the device,
// the descriptor of each query. A query that sees no key gets zeros.
void attention_rows(const AttentionRowsShape& shape, const float* q, const AttentionRowDesc* rows, const int32_t* q_rows,
                    int64_t queries, float* out);

// GPT-NeoX rotary embedding in place on x [T, nheads, head_dim] at device positions[T] (int64),
// the angles in double as the CPU op.
void rotary(float* x, int64_t T, int64_t nheads, int64_t head_dim, int64_t rot_dim, const int64_t* positions, float base);

}  // namespace cuda
}  // namespace alm
