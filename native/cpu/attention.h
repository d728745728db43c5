// Scaled dot-product attention for one batch row, rotary position embedding and T5's relative
// position buckets. Row-major f32 throughout.
//
// attention: q is [Tq, heads, head_dim] (row stride heads * head_dim); k and v are
// [Tk, kv_heads, head_dim] with `kv_stride` elements between consecutive key positions
// (>= kv_heads * head_dim: a KV cache may be padded). Query i sits at absolute position
// q_pos0 + i, key j at position j. With `causal`, key j is visible to query i iff
// j <= q_pos0 + i. Query head h reads kv head h / (heads / kv_heads).
// The score of (query i, key j, head h) is scale * q.k, plus, when rel_bias is not null,
// rel_bias[h * rel_len + (j - (q_pos0 + i)) + rel_offset] (rel_bias is [heads, rel_len]; every
// index a visible pair can reach must lie in [0, rel_len), which is checked once per call).
// A table indexed by (i - j), like the format's bias_table, is passed reversed along its last
// axis. out is [Tq, heads, head_dim]; a query that sees no key gets zeros.
#pragma once
#include <cstdint>

#include "core/ops.h"
#include "core/positions.h"

namespace alm {

// Positions in segments (audiolm-pytorch's coarse stage: semantic tokens, then acoustic ones): a
// score between a query and a key of different segments takes the head's `cross` constant in
// place of the relative bias.
struct SegmentBias {
  const uint8_t* key;    // [Tk]: the segment of key j
  const uint8_t* query;  // [Tq]: the segment of query i
  const float* cross;    // [heads]
};

// Online-softmax (flash-style) over blocks of keys with AVX2 dot products where available:
// no score matrix, keys hidden by the causal mask are never touched. Threaded over heads and,
// when Tq is large, over blocks of queries.
void attention(const AttentionShape& shape, const float* q, int64_t Tq, int64_t q_pos0, const float* k,
               const float* v, int64_t Tk, int64_t kv_stride, const float* rel_bias, int64_t rel_len,
               int64_t rel_offset, float* out);

// One head of attention(), on the calling thread, for callers that parallelise over (batch row,
// head) themselves. out is the full [Tq, heads, head_dim] buffer; only head `head`'s slice is
// written.
// `seg` (optional) overrides the relative bias between segments.
void attention_head(const AttentionShape& shape, const float* q, int64_t Tq, int64_t q_pos0, const float* k,
                    const float* v, int64_t Tk, int64_t kv_stride, const float* rel_bias, int64_t rel_len,
                    int64_t rel_offset, int64_t head, float* out, const SegmentBias* seg = nullptr);

// The yardstick: the full score matrix per head, softmax and weighted sum in double.
void attention_ref(const AttentionShape& shape, const float* q, int64_t Tq, int64_t q_pos0, const float* k,
                   const float* v, int64_t Tk, int64_t kv_stride, const float* rel_bias, int64_t rel_len,
                   int64_t rel_offset, float* out, const SegmentBias* seg = nullptr);

// GPT-NeoX rotary embedding in place on x [T, nheads, head_dim] (row stride nheads * head_dim):
// for j < rot_dim / 2, theta = positions[t] * base^(-2j / rot_dim) (in double) and
// (x[j], x[j + rot_dim/2]) -> (x[j] cos - x[j + rot_dim/2] sin, x[j + rot_dim/2] cos + x[j] sin).
// Dims >= rot_dim are untouched. rot_dim must be even and at most head_dim.
void rotary(float* x, int64_t T, int64_t nheads, int64_t head_dim, int64_t rot_dim, const int64_t* positions,
            float base);
void rotary_ref(float* x, int64_t T, int64_t nheads, int64_t head_dim, int64_t rot_dim, const int64_t* positions,
                float base);


}  // namespace alm
