// Position arithmetic that every backend shares (computed on the host, where a session builds its
// relative-bias table).
#pragma once
#include <cstdint>

namespace alm {

// T5's bucket of relative_position = key_pos - query_pos, bit for bit as the PyTorch (Hugging
// Face) implementation: the log-spaced part is evaluated in float32 and truncated, so buckets
// agree at the boundaries where float and double rounding differ.
int64_t t5_relative_bucket(int64_t relative_position, bool bidirectional, int64_t num_buckets, int64_t max_distance);

}  // namespace alm
