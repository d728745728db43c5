#include "models/weight_norm.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace alm {

Tensor load_conv_weight(const WeightsFile& f, const std::string& prefix, const Shape& shape, int64_t dim) {
  ALM_ASSERT(dim >= 0 && dim < int64_t(shape.size()));
  if (f.has(prefix + "weight")) return f.f32(prefix + "weight", shape);
  std::string g_name, v_name;
  if (f.has(prefix + "weight_g")) {
    g_name = prefix + "weight_g";
    v_name = prefix + "weight_v";
  } else if (f.has(prefix + "parametrizations.weight.original0")) {
    g_name = prefix + "parametrizations.weight.original0";
    v_name = prefix + "parametrizations.weight.original1";
  } else {
    fail(ErrorKind::InvalidModel, f.path(), ": missing tensor '", prefix, "weight' (nor weight_g/weight_v, nor ",
         "parametrizations.weight.original0/1)");
  }
  Tensor v = f.f32(v_name, shape);
  Shape gshape(shape.size(), 1);
  gshape[size_t(dim)] = shape[size_t(dim)];
  Tensor g = f.f32(g_name, gshape);
  Tensor w = Tensor::empty_mapped(shape);
  // v viewed as [outer, n, inner]: slice j is every element whose index along `dim` is j.
  int64_t outer = 1, inner = 1;
  const int64_t n = shape[size_t(dim)];
  for (int64_t d = 0; d < dim; ++d) outer *= shape[size_t(d)];
  for (int64_t d = dim + 1; d < int64_t(shape.size()); ++d) inner *= shape[size_t(d)];
  for (int64_t j = 0; j < n; ++j) {
    double ss = 0;
    for (int64_t o = 0; o < outer; ++o) {
      const float* vr = v.data() + (o * n + j) * inner;
      for (int64_t i = 0; i < inner; ++i) ss += double(vr[i]) * vr[i];
    }
    float scale = static_cast<float>(g.data()[j] / std::sqrt(ss));
    if (!std::isfinite(scale))
      fail(ErrorKind::InvalidModel, f.path(), ": weight norm of '", v_name, "' ", dim == 0 ? "row " : "slice ", j,
           " is zero or not finite");
    for (int64_t o = 0; o < outer; ++o) {
      const int64_t base = (o * n + j) * inner;
      for (int64_t i = 0; i < inner; ++i) w.data()[base + i] = v.data()[base + i] * scale;
    }
  }
  return w;
}

}  // namespace alm
