// The EnCodec / SEANet neural codec family: a convolutional encoder (residual units, strided
// downsampling, optional LSTM), a residual vector quantiser, and the mirrored decoder.
// Everything is driven by the config in the component's `audiolm.config` metadata; tensor
// names follow the Hugging Face EncodecModel layout (see lib/convert/encodec.ts).
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/backend.h"
#include "core/json.h"
#include "core/safetensors.h"
#include "core/tensor.h"

namespace alm {

struct CodecConfig {
  int64_t sample_rate = 24000;
  int64_t channels = 1;
  int64_t dimension = 128;
  int64_t n_filters = 32;
  int64_t n_residual_layers = 1;
  std::vector<int64_t> ratios{8, 5, 4, 2};  // decoder order; the encoder runs them reversed
  int64_t kernel_size = 7, last_kernel_size = 7, residual_kernel_size = 3;
  int64_t dilation_base = 2;
  int64_t compress = 2;
  bool true_skip = false;
  int64_t lstm_layers = 2;
  bool causal = true;
  PadMode pad_mode = PadMode::Reflect;
  std::string norm = "weight_norm";  // weight_norm | time_group_norm | none
  double trim_right_ratio = 1.0;
  float elu_alpha = 1.0f;
  int64_t codebook_size = 1024, codebook_dim = 128, num_quantizers = 32;
  std::vector<double> target_bandwidths;
  // EnCodec 48 kHz: the waveform is cut into segments of `segment` seconds (0 = one segment) that
  // overlap by `overlap` of their length, each scaled to unit RMS (`normalize`) before encoding.
  // The engine's model runs one segment; the TypeScript Codec plans the segments.
  double segment = 0.0;
  double overlap = 0.01;
  bool normalize = false;

  int64_t hop_length() const;
  double frame_rate() const;  // sample_rate / hop_length
  int64_t segment_length() const;  // int(segment · sample_rate), 0 without segments
  int64_t segment_stride() const;  // max(1, int((1 − overlap) · segment_length)), 0 without segments
  static CodecConfig from_json(const Json& j, const std::string& what);
};

// One convolution with its padding rule and optional group norm.
struct CodecConv {
  Conv1dShape shape;
  bool transposed = false;
  Weight weight, bias;           // weight folded from weight norm when stored that way
  Weight norm_weight, norm_bias; // time_group_norm only
};

struct CodecResBlock {
  CodecConv conv1, conv2;
  bool has_shortcut = false;
  CodecConv shortcut;
};

struct CodecLayer {
  enum class Kind { Conv, ResBlock, Lstm, Elu } kind;
  CodecConv conv;
  CodecResBlock res;
  std::vector<LstmLayer> lstm;
};

class CodecModel {
 public:
  // Loads and validates a codec component (.safetensors with an `audiolm.config` of family
  // encodec) into `backend`'s memory.
  static std::shared_ptr<CodecModel> load(const std::string& path, Backend& backend = cpu_backend());

  const CodecConfig& config() const { return cfg_; }
  // Number of frames the encoder makes from `len` samples.
  int64_t frames_for(int64_t len) const;
  // wav: [channels, len] on the host. Returns the encoder output [dimension, frames] (host).
  Tensor embed(const float* wav, int64_t len) const;
  // wav: [channels, len] -> codes [num_levels, frames] (row-major), frames written to *frames.
  std::vector<int32_t> encode(const float* wav, int64_t len, int64_t num_levels, int64_t* frames) const;
  // codes: [num_levels, frames] -> waveform [channels, frames * hop_length] (host).
  Tensor decode(const int32_t* codes, int64_t num_levels, int64_t frames) const;
  // Bytes of weights held (mapped or copied), for memory reporting.
  size_t weight_bytes() const { return weight_bytes_; }
  Backend& backend() const { return *be_; }

  // A [channels, time] signal in the backend's memory.
  struct Signal {
    Buffer buf;
    int64_t C = 0, T = 0;
  };

 private:
  CodecModel() = default;
  Signal run(const std::vector<CodecLayer>& layers, Signal x) const;
  Signal encoder_output(const float* wav, int64_t len) const;

  CodecConfig cfg_;
  Backend* be_ = nullptr;
  std::shared_ptr<WeightsFile> file_;
  std::vector<CodecLayer> encoder_, decoder_;
  Codebooks rvq_;
  size_t weight_bytes_ = 0;
};

}  // namespace alm
