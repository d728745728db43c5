// Convolution weights that may be stored weight-normed (w = g · v / ‖v‖), as PyTorch's
// weight_norm and parametrizations.weight_norm save them. The fold happens once, at load, so the
// forward passes only ever see a plain weight. Shared by the codec and HuBERT, which normalise
// over different dims.
#pragma once
#include <cstdint>
#include <string>

#include "core/safetensors.h"
#include "core/tensor.h"

namespace alm {

// Reads `prefix + "weight"` of `shape`; failing that, folds `prefix + "weight_g"`/`"weight_v"` or
// `prefix + "parametrizations.weight.original0"`/`"original1"` (g, v). As torch's
// weight_norm(dim=`dim`): g holds one gain per index along `dim` (shape all ones but shape[dim])
// and the norm runs over every other dim. dim = 0 is the codec's per-output-channel norm; HuBERT's
// positional convolution uses dim = 2, one gain per kernel tap. A zero or non-finite norm is an
// ERR_AUDIOLM_INVALID_MODEL naming the tensor.
Tensor load_conv_weight(const WeightsFile& f, const std::string& prefix, const Shape& shape, int64_t dim = 0);

}  // namespace alm
