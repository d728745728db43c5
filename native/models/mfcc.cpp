// The spectrum is a GEMM: every frame times a precomputed [frameLength, 2 · bins] matrix of
// window-weighted cosines and sines. That needs no FFT code or dependency, handles any nFft (not
// only powers of two), transforms all frames of an utterance in one call to the tuned, threaded
// gemm, and folds the window and the zero padding into the matrix (rows past frameLength would
// only meet zeros, so they are left out). At 50 frames/s it costs about 10 M multiply-adds per
// second of audio, far below anything else in the pipeline. The mel filters and the DCT are GEMMs
// too; deltas and CMVN are small and run in double.
#include "models/mfcc.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace alm {
namespace {

const double kPi = 3.14159265358979323846;

double hz_to_mel(double f) { return 2595.0 * std::log10(1.0 + f / 700.0); }
double mel_to_hz(double m) { return 700.0 * (std::pow(10.0, m / 2595.0) - 1.0); }

void check_range(int64_t v, int64_t lo, int64_t hi, const char* name, const std::string& what) {
  if (v < lo || v > hi) fail(ErrorKind::InvalidModel, what, ": mfcc.", name, " = ", v, " is out of range [", lo, ", ", hi, "]");
}

// HTK regression deltas of x [F, n] (row stride ld) into y (same layout), frame indices clamped.
void htk_deltas(const double* x, int64_t F, int64_t n, int64_t ld, int64_t N, double* y) {
  double denom = 0;
  for (int64_t k = 1; k <= N; ++k) denom += double(k * k);
  denom *= 2;
  for (int64_t t = 0; t < F; ++t)
    for (int64_t j = 0; j < n; ++j) {
      double acc = 0;
      for (int64_t k = 1; k <= N; ++k)
        acc += double(k) * (x[std::min(t + k, F - 1) * ld + j] - x[std::max<int64_t>(t - k, 0) * ld + j]);
      y[t * ld + j] = acc / denom;
    }
}

}  // namespace

int64_t MfccConfig::frames_for(int64_t len) const { return len < frame_length ? 0 : (len - frame_length) / hop_length + 1; }

MfccConfig MfccConfig::from_json(const Json& j, int64_t sample_rate, const std::string& what) {
  MfccConfig c;
  c.sample_rate = sample_rate;
  if (j.is_null()) return c;
  if (!j.is_object()) fail(ErrorKind::InvalidModel, what, ": the mfcc section of the config must be an object");
  static const char* const kKeys[] = {"sampleRate", "frameLength", "hopLength", "nFft",  "nMels",       "fMin",   "fMax",
                                      "melScale",   "melNorm",     "logFloor",  "nMfcc", "deltaWindow", "cmvn",   "cmvnEps"};
  for (auto& kv : j.object(what + " mfcc"))
    if (std::none_of(std::begin(kKeys), std::end(kKeys), [&](const char* k) { return kv.first == k; }))
      fail(ErrorKind::InvalidModel, what, ": unknown mfcc setting '", kv.first, "' (see docs/mfcc.md)");
  if (j.find("sampleRate") && j.get_int("sampleRate", 0) != sample_rate)
    fail(ErrorKind::InvalidModel, what, ": mfcc.sampleRate ", j.get_int("sampleRate", 0), " differs from sampleRate ", sample_rate);
  c.frame_length = j.get_int("frameLength", c.frame_length);
  c.hop_length = j.get_int("hopLength", c.hop_length);
  c.n_fft = j.get_int("nFft", c.n_fft);
  c.n_mels = j.get_int("nMels", c.n_mels);
  c.f_min = j.get_number("fMin", c.f_min);
  c.f_max = j.get_number("fMax", c.f_max);
  c.log_floor = j.get_number("logFloor", c.log_floor);
  c.n_mfcc = j.get_int("nMfcc", c.n_mfcc);
  c.delta_window = j.get_int("deltaWindow", c.delta_window);
  c.cmvn = j.get_bool("cmvn", c.cmvn);
  c.cmvn_eps = j.get_number("cmvnEps", c.cmvn_eps);
  const std::string scale = j.get_string("melScale", "htk");
  if (scale != "htk") fail(ErrorKind::Unsupported, what, ": mfcc.melScale '", scale, "' is not supported (only 'htk')");
  if (const Json* norm = j.find("melNorm"))
    if (!norm->is_null() && !(norm->is_string() && norm->string(what) == "none"))
      fail(ErrorKind::Unsupported, what, ": mfcc.melNorm must be null or 'none' (filters peak at 1)");

  check_range(c.frame_length, 1, 1 << 16, "frameLength", what);
  check_range(c.hop_length, 1, 1 << 16, "hopLength", what);
  check_range(c.n_fft, c.frame_length, 1 << 16, "nFft", what);
  check_range(c.n_mels, 1, 1024, "nMels", what);
  check_range(c.n_mfcc, 1, c.n_mels, "nMfcc", what);
  check_range(c.delta_window, 1, 64, "deltaWindow", what);
  if (!(c.f_min >= 0 && c.f_min < c.f_max && c.f_max <= double(sample_rate) / 2))
    fail(ErrorKind::InvalidModel, what, ": mfcc needs 0 <= fMin < fMax <= sampleRate / 2, not fMin ", c.f_min, ", fMax ", c.f_max);
  if (!(c.log_floor > 0 && std::isfinite(c.log_floor))) fail(ErrorKind::InvalidModel, what, ": mfcc.logFloor must be positive");
  if (!(c.cmvn_eps > 0 && std::isfinite(c.cmvn_eps))) fail(ErrorKind::InvalidModel, what, ": mfcc.cmvnEps must be positive");
  return c;
}

Mfcc::Mfcc(const MfccConfig& cfg, Backend& backend) : cfg_(cfg), be_(&backend) {
  const int64_t L = cfg.frame_length, N = cfg.n_fft, B = N / 2 + 1, M = cfg.n_mels;
  bins_ = B;
  dft_.resize(size_t(L * 2 * B));
  for (int64_t n = 0; n < L; ++n) {
    const double w = 0.5 - 0.5 * std::cos(2 * kPi * double(n) / double(L));  // periodic Hann
    for (int64_t k = 0; k < B; ++k) {
      const double a = 2 * kPi * double((n * k) % N) / double(N);  // reduced exactly before the cosine
      dft_[size_t(n * 2 * B + k)] = float(w * std::cos(a));
      dft_[size_t(n * 2 * B + B + k)] = float(-w * std::sin(a));
    }
  }
  // Filter edges: nMels + 2 points equally spaced in mel (numpy.linspace), back to Hz.
  std::vector<double> edges(size_t(M + 2));
  const double m0 = hz_to_mel(cfg.f_min), m1 = hz_to_mel(cfg.f_max), step = (m1 - m0) / double(M + 1);
  for (int64_t j = 0; j < M + 2; ++j) edges[size_t(j)] = mel_to_hz(j == M + 1 ? m1 : m0 + double(j) * step);
  fbank_.assign(size_t(M * B), 0.f);
  for (int64_t i = 0; i < M; ++i) {
    const double lo = edges[size_t(i)], ce = edges[size_t(i + 1)], hi = edges[size_t(i + 2)];
    float peak = 0;
    for (int64_t k = 0; k < B; ++k) {
      const double f = double(k) * double(cfg.sample_rate) / double(N);
      const double v = std::max(0.0, std::min((f - lo) / (ce - lo), (hi - f) / (hi - ce)));
      fbank_[size_t(i * B + k)] = float(v);
      peak = std::max(peak, float(v));
    }
    if (!(peak > 0))
      fail(ErrorKind::InvalidModel, "mfcc: mel filter ", i, " of ", M, " covers no FFT bin (", lo, " to ", hi,
           " Hz): use fewer mels or a larger nFft");
  }
  dct_.resize(size_t(cfg.n_mfcc * M));
  for (int64_t q = 0; q < cfg.n_mfcc; ++q)
    for (int64_t i = 0; i < M; ++i)
      dct_[size_t(q * M + i)] =
          float(std::sqrt((q == 0 ? 1.0 : 2.0) / double(M)) * std::cos(kPi * double(q) * double(2 * i + 1) / double(2 * M)));
  auto weight = [&](const std::vector<float>& v, Shape shape) {
    Tensor t = Tensor::empty(std::move(shape));
    std::copy(v.begin(), v.end(), t.data());
    return be_->weight(t);
  };
  dft_w_ = weight(dft_, {L, 2 * B});
  fbank_w_ = weight(fbank_, {M, B});
  dct_w_ = weight(dct_, {cfg.n_mfcc, M});
}

Tensor Mfcc::compute(const float* wav, int64_t len) const {
  const int64_t F = cfg_.frames_for(len);
  ALM_CHECK_ARG(F >= 1, "MFCC needs at least ", cfg_.frame_length, " samples (one frame) but the waveform has ", len);
  const int64_t L = cfg_.frame_length, B = bins_, M = cfg_.n_mels, Q = cfg_.n_mfcc, hop = cfg_.hop_length;

  Backend& be = *be_;
  // Frames overlap (hop < frameLength), and the product wants a row stride of at least a row: copy them.
  const int64_t used = (F - 1) * hop + L;
  Buffer x = be.upload_f32(wav, used), frames = be.alloc_f32(F * L);
  be.copy_rows(frames, L, x, hop, F, L);
  Buffer spec = be.alloc_f32(F * 2 * B);
  be.matmul(false, F, 2 * B, L, frames, L, dft_w_.span(), 2 * B, spec, 2 * B);
  Buffer power = be.alloc_f32(F * B);
  be.power_spectrum(spec, F, B, power);
  Buffer logmel = be.alloc_f32(F * M);
  be.matmul(true, F, M, B, power, B, fbank_w_.span(), B, logmel, M);
  be.activate(Activation::LogFloor, logmel, F * M, float(cfg_.log_floor));
  Buffer ceps_buf = be.alloc_f32(F * Q);
  be.matmul(true, F, Q, M, logmel, M, dct_w_.span(), M, ceps_buf, Q);
  const std::vector<float> ceps = be.download_f32(ceps_buf, F * Q);

  // [c, Δ, ΔΔ] in double, then CMVN per dim over the utterance.
  const int64_t D = 3 * Q;
  std::vector<double> feat(size_t(F * D));
  for (int64_t t = 0; t < F; ++t)
    for (int64_t q = 0; q < Q; ++q) feat[size_t(t * D + q)] = ceps[size_t(t * Q + q)];
  htk_deltas(feat.data(), F, Q, D, cfg_.delta_window, feat.data() + Q);
  htk_deltas(feat.data() + Q, F, Q, D, cfg_.delta_window, feat.data() + 2 * Q);
  if (cfg_.cmvn) {
    for (int64_t d = 0; d < D; ++d) {
      double mean = 0, var = 0;
      for (int64_t t = 0; t < F; ++t) mean += feat[size_t(t * D + d)];
      mean /= double(F);
      for (int64_t t = 0; t < F; ++t) var += (feat[size_t(t * D + d)] - mean) * (feat[size_t(t * D + d)] - mean);
      const double inv = 1.0 / std::sqrt(var / double(F) + cfg_.cmvn_eps);
      for (int64_t t = 0; t < F; ++t) feat[size_t(t * D + d)] = (feat[size_t(t * D + d)] - mean) * inv;
    }
  }
  Tensor out = Tensor::empty({F, D});
  std::transform(feat.begin(), feat.end(), out.data(), [](double v) { return float(v); });
  return out;
}

}  // namespace alm
