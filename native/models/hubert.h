// HuBERT (Hugging Face HubertModel, the post-norm "base" layout; not do_stable_layer_norm): the
// convolutional waveform encoder, the feature projection, the convolutional relative position
// embedding and the first L transformer encoder layers. Used by the semantic tokenizer
// (semantic_tokenizer.h), which owns the config and the weights file; tensor names are Hugging
// Face's (see that header for the list).
//
// wav [T] ─ conv_i (no padding) ─ norm ─ GELU ─ … ─► [C, F] ─ᵀ─ LayerNorm ─ Linear ─► h [F, D]
// h += GELU(pos_conv(h)) (kernel K, padding K/2, groups, the extra last frame dropped when K is
// even); h = LayerNorm(h)                                              = hidden state 0
// layer l: h = LN(h + Attn(h)); h = LN_final(h + W2·GELU(W1·h))         = hidden state l
//
// Memory: the first conv layer's output [512, T / 5] is held whole, since its GroupNorm needs
// statistics over the whole utterance: about 6.5 MB per second of 16 kHz audio, 10 MB/s at the
// peak (layer 1's output beside it). Everything after the conv stack is 50 frames/s and small.
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

struct HubertConfig {
  int64_t hidden_size = 768;
  int64_t layers = 12;  // encoder layers stored in the component
  int64_t heads = 12;
  int64_t intermediate_size = 3072;
  std::vector<int64_t> conv_dim{512, 512, 512, 512, 512, 512, 512};
  std::vector<int64_t> conv_kernel{10, 3, 3, 3, 3, 2, 2};
  std::vector<int64_t> conv_stride{5, 2, 2, 2, 2, 2, 2};
  bool conv_bias = false;
  std::string feat_extract_norm = "group";  // group (GroupNorm on conv 0) | layer (LayerNorm on every conv)
  bool feat_proj_layer_norm = true;
  int64_t pos_conv_kernel = 128, pos_conv_groups = 16;
  float layer_norm_eps = 1e-5f;

  // Samples the conv stack needs for one frame (400 for HuBERT base).
  int64_t receptive_field() const;
  // Samples between frames: the product of the strides (320).
  int64_t hop() const;
  // Frames of `len` samples (0 when shorter than the receptive field): for HuBERT base
  // floor((len - 400) / 320) + 1.
  int64_t frames_for(int64_t len) const;
  // Reads the `hubert` section of a semantic-tokenizer config; `what` names the file in errors.
  static HubertConfig from_json(const Json& j, const std::string& what);
};

struct HubertNorm {
  Weight w, b;
};

struct HubertLayer {
  Linear q, k, v, o, ff_in, ff_out;
  HubertNorm attn_norm, final_norm;
};

class HubertModel {
 public:
  // Loads the front end and encoder layers 1..`layers` (0 <= layers <= cfg.layers) from `file`,
  // validating every tensor's shape. Layers past `layers` need not be present.
  static std::unique_ptr<HubertModel> load(std::shared_ptr<WeightsFile> file, const HubertConfig& cfg, int64_t layers,
                                           Backend& backend = cpu_backend());

  const HubertConfig& config() const { return cfg_; }
  int64_t loaded_layers() const { return int64_t(layers_.size()); }

  // Hidden states [frames, hidden_size] after encoder layer `layer` (0: after encoder.layer_norm,
  // before layer 1; at most loaded_layers()). When `all` is given it receives hidden states
  // 0..layer. The waveform must hold at least receptive_field() samples; it is not checked for
  // finiteness here (the tokenizer does that).
  Tensor forward(const float* wav, int64_t len, int64_t layer, std::vector<Tensor>* all = nullptr) const;
  // forward() without the download: [frames, hidden_size] in the backend's memory.
  Buffer forward_buffer(const float* wav, int64_t len, int64_t layer, std::vector<Tensor>* all, int64_t* frames) const;
  Backend& backend() const { return *be_; }
  // The conv feature extractor's output [frames, conv_dim.back()] (after its last GELU). Inputs of
  // more than `block_frames` frames are run a block of frames at a time, each from the samples it
  // sees (the convolutions are unpadded), so memory follows the block, not the input: the first
  // layer's group norm statistics come from a streamed first pass over the whole input.
  Tensor extract_features(const float* wav, int64_t len, int64_t block_frames = kFeatureBlockFrames) const;
  Buffer feature_buffer(const float* wav, int64_t len, int64_t block_frames) const;
  // Frames per block of extract_features (10 s at 50 frames/s: ~65 MB of first-layer output).
  static constexpr int64_t kFeatureBlockFrames = 500;

 private:
  HubertModel() = default;
  void encoder_layer(const HubertLayer& L, Span h, int64_t F) const;
  // y (n rows) = x · wᵀ + b, bias first, as the residual form below sums it (the same order).
  void project(const Linear& L, Span x, int64_t n, Span y) const;
  // Per channel of the first conv layer's output over the whole waveform: mean and 1/sqrt(var + eps).
  struct ChannelStats {
    std::vector<float> mean, rstd;
  };
  ChannelStats first_layer_stats(const float* wav, int64_t len, int64_t chunk_frames) const;
  // The conv stack on one span of samples ([frames, C] out); the first layer's group norm uses
  // `stats` when given.
  Buffer conv_stack(Span wav, int64_t len, const ChannelStats* stats, int64_t* frames) const;

  HubertConfig cfg_;
  Backend* be_ = nullptr;
  std::shared_ptr<WeightsFile> file_;
  std::vector<Conv1dShape> conv_shapes_;
  std::vector<Weight> conv_w_, conv_b_;
  std::vector<HubertNorm> conv_norm_;  // one (group) or one per conv layer (layer)
  Tensor norm0_w_, norm0_b_;           // conv_norm_[0] on the host, for the streamed statistics
  HubertNorm proj_norm_;
  Linear proj_;
  Conv1dShape pos_shape_;
  Weight pos_w_, pos_b_;
  HubertNorm enc_norm_;
  std::vector<HubertLayer> layers_;
};

}  // namespace alm
