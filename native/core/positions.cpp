#include "core/positions.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace alm {

int64_t t5_relative_bucket(int64_t relative_position, bool bidirectional, int64_t num_buckets, int64_t max_distance) {
  ALM_CHECK_ARG(num_buckets >= (bidirectional ? 4 : 2) && max_distance > 0, "t5_relative_bucket: bad num_buckets ",
                num_buckets, " or max_distance ", max_distance);
  int64_t ret = 0, n;
  if (bidirectional) {
    num_buckets /= 2;
    if (relative_position > 0) ret += num_buckets;
    n = relative_position < 0 ? -relative_position : relative_position;
  } else {
    n = std::max<int64_t>(-relative_position, 0);
  }
  const int64_t max_exact = num_buckets / 2;
  ALM_CHECK_ARG(max_distance > max_exact, "t5_relative_bucket: max_distance ", max_distance,
                " must exceed the exact buckets (", max_exact, ")");
  if (n < max_exact) return ret + n;
  // As torch: float32 tensor ops (n.float() / max_exact, log, / a Python double, * an int), each
  // rounded to float, then .to(long) truncation. The double log(max_distance / max_exact) is
  // rounded to float when it meets the float tensor.
  const float ratio = float(n) / float(max_exact);
  const float denom = float(std::log(double(max_distance) / double(max_exact)));
  const float scaled = std::log(ratio) / denom * float(num_buckets - max_exact);
  const int64_t large = max_exact + int64_t(scaled);
  return ret + std::min(large, num_buckets - 1);
}

}  // namespace alm
