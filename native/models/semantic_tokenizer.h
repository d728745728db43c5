// The semantic tokenizer: self-supervised speech features (HuBERT layer L, or MFCC + Δ + ΔΔ)
// assigned to their nearest k-means centroid. AudioLM's semantic tokens.
//
// Component format: one .safetensors file (made by `audiolm convert hubert` or
// `audiolm convert kmeans --mfcc`, lib/convert/) whose __metadata__["audiolm.config"] is
//
//   {"family": "semantic-tokenizer",
//    "frontend": "hubert" | "mfcc",
//    "sampleRate": 16000,            input rate (Hz); callers resample to it
//    "clusters": K,                  k-means centroids = the token vocabulary
//    "layer": L,                     hubert only: the output of encoder layer L is clustered
//                                    (1-based; 0 = after encoder.layer_norm, before layer 1)
//    "hubert": {hiddenSize, layers, heads, intermediateSize, convDim: [..], convKernel: [..],
//               convStride: [..], convBias, featExtractNorm: "group" | "layer",
//               featProjLayerNorm (default true), posConvKernel, posConvGroups, layerNormEps,
//               doStableLayerNorm (must be false)}     defaults: HuBERT base (hubert.h)
//    "mfcc": {frameLength, hopLength, nFft, nMels, fMin, fMax, melScale: "htk", melNorm: null,
//             logFloor, nMfcc, deltaWindow, cmvn, cmvnEps}   docs/mfcc.md; absent keys default}
//
// `hubert.layers` counts the encoder layers stored (>= layer; only the first `layer` are loaded
// and run). Tensors (any of F32 / F16 / BF16 / F64):
//
//   kmeans.centroids                                   [K, featureDim]
//   hubert only, Hugging Face HubertModel names:
//   feature_extractor.conv_layers.{i}.conv.weight      [convDim[i], convDim[i-1] (1 for i = 0), convKernel[i]]
//   feature_extractor.conv_layers.{i}.conv.bias        [convDim[i]]             when convBias
//   feature_extractor.conv_layers.0.layer_norm.{weight,bias}                    featExtractNorm "group" (the GroupNorm)
//   feature_extractor.conv_layers.{i}.layer_norm.{weight,bias}                  featExtractNorm "layer", every i
//   feature_projection.layer_norm.{weight,bias}        [convDim[-1]]            when featProjLayerNorm
//   feature_projection.projection.{weight,bias}        [hiddenSize, convDim[-1]], [hiddenSize]
//   encoder.pos_conv_embed.conv.weight                 [hiddenSize, hiddenSize / posConvGroups, posConvKernel]
//     or .weight_g [1, 1, posConvKernel] + .weight_v, or .parametrizations.weight.original0/1
//     (weight norm over dim 2, folded at load)
//   encoder.pos_conv_embed.conv.bias                   [hiddenSize]
//   encoder.layer_norm.{weight,bias}                   [hiddenSize]
//   encoder.layers.{n}.attention.{q,k,v,out}_proj.{weight,bias}, encoder.layers.{n}.layer_norm.*,
//   encoder.layers.{n}.feed_forward.intermediate_dense.*, .output_dense.*,
//   encoder.layers.{n}.final_layer_norm.*              for n < layer
//
// featureDim is hiddenSize (hubert) or 3 · nMfcc (mfcc). Both front ends make one token per
// hop: floor((T − 400) / 320) + 1 for T >= 400 samples with the defaults; shorter input is an
// ERR_AUDIOLM_INVALID_ARGUMENT, as is a non-finite sample.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/backend.h"
#include "core/safetensors.h"
#include "core/tensor.h"
#include "models/hubert.h"
#include "models/mfcc.h"

namespace alm {

struct SemanticTokenizerConfig {
  std::string frontend;  // hubert | mfcc
  int64_t sample_rate = 16000;
  int64_t layer = 0;     // hubert only
  int64_t clusters = 0;
  HubertConfig hubert;
  MfccConfig mfcc;

  int64_t feature_dim() const;
  int64_t hop() const;             // samples per token
  int64_t min_samples() const;     // the shortest input that makes one token
  double frame_rate() const;       // tokens per second
  int64_t frames_for(int64_t len) const;
  static SemanticTokenizerConfig from_json(const Json& j, const std::string& what);
};

class SemanticTokenizer {
 public:
  // Loads and validates a semantic-tokenizer component into `backend`'s memory.
  static std::shared_ptr<SemanticTokenizer> load(const std::string& path, Backend& backend = cpu_backend());

  const SemanticTokenizerConfig& config() const { return cfg_; }
  // The clustered features [frames, featureDim] of one waveform.
  Tensor features(const float* wav, int64_t len) const;
  // Tokens [frames] of one waveform.
  std::vector<int32_t> tokenize(const float* wav, int64_t len) const;
  // A batch of waveforms of any lengths. Every item is validated before any work starts, then
  // items run one after another, each op using the whole thread pool: no padding, so an item's
  // result does not depend on its batch.
  std::vector<Tensor> features(const std::vector<std::vector<float>>& wavs) const;
  std::vector<std::vector<int32_t>> tokenize(const std::vector<std::vector<float>>& wavs) const;

  // The HuBERT model (null for mfcc), for tests that look at every layer.
  const HubertModel* hubert() const { return hubert_.get(); }
  // Bytes of weights held (mapped or copied), for memory reporting.
  size_t weight_bytes() const { return weight_bytes_; }
  Backend& backend() const { return *be_; }

 private:
  SemanticTokenizer() = default;
  // Length and finiteness; `name` says which waveform in the message.
  void check_input(const float* wav, int64_t len, const std::string& name) const;
  // The front end on an already checked waveform: features [*frames, featureDim] in the backend.
  Buffer run_frontend(const float* wav, int64_t len, int64_t* frames) const;
  Tensor download(const Buffer& feat, int64_t frames) const;
  std::vector<int32_t> assign(const Buffer& feat, int64_t frames) const;

  SemanticTokenizerConfig cfg_;
  Backend* be_ = nullptr;
  std::shared_ptr<WeightsFile> file_;
  std::unique_ptr<HubertModel> hubert_;
  std::unique_ptr<Mfcc> mfcc_;
  Codebooks kmeans_;  // one level: nearest centroid is a one-level RVQ encode
  size_t weight_bytes_ = 0;
};

}  // namespace alm
