// The MFCC front end of the semantic tokenizer, exactly as docs/mfcc.md defines it: periodic-Hann
// frames of HuBERT's alignment, power spectrum, HTK mel filters, natural log, orthonormal DCT-II,
// HTK deltas and delta-deltas, per-utterance CMVN. Output [frames, 3 * nMfcc].
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/backend.h"
#include "core/json.h"
#include "core/tensor.h"

namespace alm {

struct MfccConfig {
  int64_t sample_rate = 16000;
  int64_t frame_length = 400, hop_length = 320, n_fft = 512;
  int64_t n_mels = 40;
  double f_min = 20, f_max = 8000;
  double log_floor = 1e-10;
  int64_t n_mfcc = 13;
  int64_t delta_window = 2;
  bool cmvn = true;
  double cmvn_eps = 1e-10;

  int64_t feature_dim() const { return 3 * n_mfcc; }
  // floor((len - frameLength) / hopLength) + 1, or 0 when len < frameLength.
  int64_t frames_for(int64_t len) const;
  // Reads the `mfcc` section (keys of docs/mfcc.md; absent keys keep the defaults above).
  // `sample_rate` is the component's top-level sampleRate, which mfcc.sampleRate must match.
  static MfccConfig from_json(const Json& j, int64_t sample_rate, const std::string& what);
};

class Mfcc {
 public:
  explicit Mfcc(const MfccConfig& cfg, Backend& backend = cpu_backend());
  const MfccConfig& config() const { return cfg_; }
  // Features [frames, 3 * nMfcc] of a host waveform of at least frameLength samples: the spectrum,
  // mel and DCT products run on the backend; the cepstra come back for deltas and CMVN in double.
  Tensor compute(const float* wav, int64_t len) const;
  // The mel filterbank [nMels, nFft / 2 + 1] (for tests).
  const std::vector<float>& filterbank() const { return fbank_; }

 private:
  MfccConfig cfg_;
  int64_t bins_ = 0;           // nFft / 2 + 1
  std::vector<float> dft_;     // [frameLength, 2 * bins]: window · cos, window · -sin
  std::vector<float> fbank_;   // [nMels, bins]
  std::vector<float> dct_;     // [nMfcc, nMels]
  Backend* be_;
  Weight dft_w_, fbank_w_, dct_w_;  // the three matrices in the backend's memory
};

}  // namespace alm
