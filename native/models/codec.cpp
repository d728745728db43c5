#include "codec.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "models/weight_norm.h"

namespace alm {
namespace {

constexpr int64_t kMaxChannels = 1 << 16;

PadMode parse_pad_mode(const std::string& s, const std::string& what) {
  if (s == "reflect") return PadMode::Reflect;
  if (s == "constant" || s == "zero" || s == "zeros") return PadMode::Zero;
  if (s == "replicate") return PadMode::Replicate;
  fail(ErrorKind::InvalidModel, what, ": padMode must be reflect, zero or replicate, not '", s, "'");
}

CodecConv load_conv(Backend& be, const WeightsFile& f, const CodecConfig& cfg, const std::string& prefix, int64_t cin,
                    int64_t cout, int64_t kernel, int64_t stride, int64_t dilation, bool transposed) {
  CodecConv c;
  c.shape.in_channels = cin;
  c.shape.out_channels = cout;
  c.shape.kernel = kernel;
  c.shape.stride = stride;
  c.shape.dilation = dilation;
  c.transposed = transposed;
  Shape wshape = transposed ? Shape{cin, cout, kernel} : Shape{cout, cin, kernel};
  c.weight = be.weight(load_conv_weight(f, prefix + "conv.", wshape));
  if (f.has(prefix + "conv.bias")) c.bias = be.weight(f.f32(prefix + "conv.bias", {cout}));
  if (cfg.norm == "time_group_norm") {
    c.norm_weight = be.weight(f.f32(prefix + "norm.weight", {cout}));
    c.norm_bias = be.weight(f.f32(prefix + "norm.bias", {cout}));
  }
  return c;
}

// EnCodec's rule for the extra right padding that lets the last (partial) frame be computed.
int64_t extra_padding(int64_t len, int64_t kernel, int64_t stride, int64_t padding_total) {
  double n_frames = double(len - kernel + padding_total) / double(stride) + 1.0;
  int64_t ideal = (static_cast<int64_t>(std::ceil(n_frames)) - 1) * stride + (kernel - padding_total);
  return std::max<int64_t>(0, ideal - len);
}

using Signal = CodecModel::Signal;

Signal signal(Backend& be, int64_t C, int64_t T) { return {be.alloc_f32(C * T), C, T}; }

// Pads [C, T] by (left, right); reflect on inputs shorter than the padding first zero-extends
// the input on the right, as the reference does, so that reflection is defined.
Signal pad(Backend& be, const Signal& x, int64_t left, int64_t right, PadMode mode) {
  const int64_t C = x.C, T = x.T;
  if (mode == PadMode::Reflect && T <= std::max(left, right)) {
    const int64_t extra = std::max(left, right) - T + 1;
    Signal ext = signal(be, C, T + extra);
    be.fill(ext.buf, 0.f, C * ext.T);
    be.copy_rows(ext.buf, ext.T, x.buf, T, C, T);
    Signal padded = pad(be, ext, left, right, mode);
    const int64_t keep = padded.T - extra;
    Signal out = signal(be, C, keep);
    be.copy_rows(out.buf, keep, padded.buf, padded.T, C, keep);
    return out;
  }
  Signal out = signal(be, C, T + left + right);
  be.pad(x.buf, C, T, left, right, mode, out.buf);
  return out;
}

Signal apply_conv(Backend& be, const CodecConv& c, const CodecConfig& cfg, const Signal& x) {
  const Conv1dShape& s = c.shape;
  Signal y;
  if (!c.transposed) {
    int64_t k_eff = (s.kernel - 1) * s.dilation + 1;
    int64_t padding_total = k_eff - s.stride;
    int64_t extra = extra_padding(x.T, k_eff, s.stride, padding_total);
    int64_t left, right;
    if (cfg.causal) {
      left = padding_total;
      right = extra;
    } else {
      right = padding_total / 2 + extra;
      left = padding_total - padding_total / 2;
    }
    Signal xp = pad(be, x, left, right, cfg.pad_mode);
    y = signal(be, s.out_channels, conv1d_out_len(s, xp.T));
    be.conv1d(s, xp.buf, xp.T, c.weight, c.bias, y.buf);
  } else {
    int64_t full_len = conv_transpose1d_out_len(s, x.T);
    Signal full = signal(be, s.out_channels, full_len);
    be.conv_transpose1d(s, x.buf, x.T, c.weight, c.bias, full.buf);
    int64_t padding_total = s.kernel - s.stride, left, right;
    if (cfg.causal) {
      right = static_cast<int64_t>(std::ceil(double(padding_total) * cfg.trim_right_ratio));
      left = padding_total - right;
    } else {
      right = padding_total / 2;
      left = padding_total - right;
    }
    int64_t keep = full_len - left - right;
    ALM_CHECK_ARG(keep > 0, "codec input too short for the transposed convolution");
    // The reference normalises the whole transposed output, then trims it.
    if (c.norm_weight.defined()) be.group_norm(full.buf, full.C, full.T, 1, c.norm_weight, c.norm_bias, 1e-5f, full.buf);
    y = signal(be, s.out_channels, keep);
    be.copy_rows(y.buf, keep, Span(full.buf).at(left), full_len, s.out_channels, keep);
  }
  if (c.norm_weight.defined() && !c.transposed) be.group_norm(y.buf, y.C, y.T, 1, c.norm_weight, c.norm_bias, 1e-5f, y.buf);
  return y;
}

Signal elu_copy(Backend& be, const Signal& x, float alpha) {
  Signal y = signal(be, x.C, x.T);
  be.copy(y.buf, x.buf, size_t(x.C * x.T) * 4);
  be.activate(Activation::Elu, y.buf, x.C * x.T, alpha);
  return y;
}

void load_lstm(Backend& be, const WeightsFile& f, const std::string& prefix, int64_t dim, int64_t layers, CodecLayer& out) {
  for (int64_t l = 0; l < layers; ++l) {
    std::string s = std::to_string(l);
    LstmLayer w;
    w.input_size = dim;
    w.hidden_size = dim;
    w.w_ih = be.weight(f.f32(prefix + "lstm.weight_ih_l" + s, {4 * dim, dim}));
    w.w_hh = be.weight(f.f32(prefix + "lstm.weight_hh_l" + s, {4 * dim, dim}));
    w.b_ih = be.weight(f.f32(prefix + "lstm.bias_ih_l" + s, {4 * dim}));
    w.b_hh = be.weight(f.f32(prefix + "lstm.bias_hh_l" + s, {4 * dim}));
    out.lstm.push_back(w);
  }
}

void check_positive(int64_t v, const char* name, const std::string& what, int64_t max = kMaxChannels) {
  if (v < 1 || v > max) fail(ErrorKind::InvalidModel, what, ": config ", name, " = ", v, " is out of range [1, ", max, "]");
}

}  // namespace

int64_t CodecConfig::hop_length() const {
  int64_t h = 1;
  for (auto r : ratios) h *= r;
  return h;
}

double CodecConfig::frame_rate() const { return double(sample_rate) / double(hop_length()); }

int64_t CodecConfig::segment_length() const { return static_cast<int64_t>(segment * double(sample_rate)); }

int64_t CodecConfig::segment_stride() const {
  int64_t len = segment_length();
  return len > 0 ? std::max<int64_t>(1, static_cast<int64_t>((1.0 - overlap) * double(len))) : 0;
}

CodecConfig CodecConfig::from_json(const Json& j, const std::string& what) {
  CodecConfig c;
  std::string family = j.get_string("family", "");
  if (family != "encodec") fail(ErrorKind::InvalidModel, what, ": expected a codec of family 'encodec' but found '", family, "'");
  c.sample_rate = j.get_int("sampleRate", c.sample_rate);
  c.channels = j.get_int("channels", c.channels);
  c.dimension = j.get_int("dimension", c.dimension);
  c.n_filters = j.get_int("nFilters", c.n_filters);
  c.n_residual_layers = j.get_int("nResidualLayers", c.n_residual_layers);
  c.ratios = j.get_int_array("ratios", c.ratios);
  c.kernel_size = j.get_int("kernelSize", c.kernel_size);
  c.last_kernel_size = j.get_int("lastKernelSize", c.last_kernel_size);
  c.residual_kernel_size = j.get_int("residualKernelSize", c.residual_kernel_size);
  c.dilation_base = j.get_int("dilationBase", c.dilation_base);
  c.compress = j.get_int("compress", c.compress);
  c.true_skip = j.get_bool("trueSkip", c.true_skip);
  c.lstm_layers = j.get_int("lstmLayers", c.lstm_layers);
  c.causal = j.get_bool("causal", c.causal);
  c.pad_mode = parse_pad_mode(j.get_string("padMode", "reflect"), what);
  c.norm = j.get_string("norm", c.norm);
  c.trim_right_ratio = j.get_number("trimRightRatio", c.trim_right_ratio);
  c.elu_alpha = static_cast<float>(j.get_number("eluAlpha", c.elu_alpha));
  c.codebook_size = j.get_int("codebookSize", c.codebook_size);
  c.codebook_dim = j.get_int("codebookDim", c.dimension);
  c.num_quantizers = j.get_int("numQuantizers", c.num_quantizers);
  c.segment = j.get_number("segment", c.segment);
  c.overlap = j.get_number("overlap", c.overlap);
  c.normalize = j.get_bool("normalize", c.normalize);
  if (const Json* bw = j.find("targetBandwidths"))
    for (auto& v : bw->array(what + " targetBandwidths")) c.target_bandwidths.push_back(v.number(what + " targetBandwidths"));

  check_positive(c.sample_rate, "sampleRate", what, 1 << 22);
  check_positive(c.channels, "channels", what, 64);
  check_positive(c.dimension, "dimension", what);
  check_positive(c.n_filters, "nFilters", what);
  if (c.n_residual_layers < 0 || c.n_residual_layers > 64) fail(ErrorKind::InvalidModel, what, ": nResidualLayers out of range");
  if (c.ratios.empty() || c.ratios.size() > 16) fail(ErrorKind::InvalidModel, what, ": ratios must list 1 to 16 strides");
  for (auto r : c.ratios) check_positive(r, "ratios[]", what, 1024);
  if (c.n_filters << c.ratios.size() > kMaxChannels) fail(ErrorKind::InvalidModel, what, ": too many channels");
  check_positive(c.kernel_size, "kernelSize", what, 1024);
  check_positive(c.last_kernel_size, "lastKernelSize", what, 1024);
  check_positive(c.residual_kernel_size, "residualKernelSize", what, 1024);
  check_positive(c.dilation_base, "dilationBase", what, 64);
  check_positive(c.compress, "compress", what, 1024);
  if (c.lstm_layers < 0 || c.lstm_layers > 16) fail(ErrorKind::InvalidModel, what, ": lstmLayers out of range");
  if (c.norm != "weight_norm" && c.norm != "time_group_norm" && c.norm != "none")
    fail(ErrorKind::InvalidModel, what, ": norm must be weight_norm, time_group_norm or none, not '", c.norm, "'");
  if (!(c.trim_right_ratio >= 0 && c.trim_right_ratio <= 1)) fail(ErrorKind::InvalidModel, what, ": trimRightRatio must be in [0, 1]");
  if (!(c.segment >= 0 && c.segment <= 3600)) fail(ErrorKind::InvalidModel, what, ": segment must be 0 (none) to 3600 seconds");
  if (!(c.overlap >= 0 && c.overlap < 1)) fail(ErrorKind::InvalidModel, what, ": overlap must be in [0, 1)");
  if (c.segment > 0 && c.segment_length() < c.hop_length())
    fail(ErrorKind::InvalidModel, what, ": segment of ", c.segment_length(), " samples is shorter than one frame (", c.hop_length(), ")");
  check_positive(c.codebook_size, "codebookSize", what, 1 << 20);
  check_positive(c.num_quantizers, "numQuantizers", what, 1024);
  if (c.codebook_dim != c.dimension)
    fail(ErrorKind::Unsupported, what, ": codebookDim ", c.codebook_dim, " differs from dimension ", c.dimension,
         " (projected codebooks are not supported yet)");
  return c;
}

std::shared_ptr<CodecModel> CodecModel::load(const std::string& path, Backend& be) {
  auto file = WeightsFile::open(path);
  std::shared_ptr<CodecModel> m(new CodecModel());
  m->be_ = &be;
  m->file_ = file;
  CodecConfig& cfg = m->cfg_;
  cfg = CodecConfig::from_json(file->config(), path);
  const WeightsFile& f = *file;
  const int64_t nf = cfg.n_filters;

  auto res_block = [&](const std::string& prefix, int64_t dim, int64_t dilation) {
    CodecLayer L{CodecLayer::Kind::ResBlock, {}, {}, {}};
    int64_t hidden = dim / cfg.compress;
    ALM_CHECK_MODEL(hidden >= 1, path, ": compress ", cfg.compress, " leaves no hidden channels");
    L.res.conv1 = load_conv(be, f, cfg, prefix + "block.1.", dim, hidden, cfg.residual_kernel_size, 1, dilation, false);
    L.res.conv2 = load_conv(be, f, cfg, prefix + "block.3.", hidden, dim, 1, 1, 1, false);
    L.res.has_shortcut = !cfg.true_skip;
    if (L.res.has_shortcut) L.res.shortcut = load_conv(be, f, cfg, prefix + "shortcut.", dim, dim, 1, 1, 1, false);
    return L;
  };
  auto conv_layer = [&](const std::string& prefix, int64_t cin, int64_t cout, int64_t k, int64_t stride, bool tr) {
    CodecLayer L{CodecLayer::Kind::Conv, {}, {}, {}};
    L.conv = load_conv(be, f, cfg, prefix, cin, cout, k, stride, 1, tr);
    return L;
  };
  auto elu_layer = [] { return CodecLayer{CodecLayer::Kind::Elu, {}, {}, {}}; };
  auto lstm_layer = [&](const std::string& prefix, int64_t dim) {
    CodecLayer L{CodecLayer::Kind::Lstm, {}, {}, {}};
    load_lstm(be, f, prefix, dim, cfg.lstm_layers, L);
    return L;
  };

  // Encoder: layer indices follow the reference's nn.Sequential, activations included.
  int idx = 0;
  auto enc = [&](int i) { return "encoder.layers." + std::to_string(i) + "."; };
  int64_t mult = 1;
  m->encoder_.push_back(conv_layer(enc(idx++), cfg.channels, mult * nf, cfg.kernel_size, 1, false));
  for (auto it = cfg.ratios.rbegin(); it != cfg.ratios.rend(); ++it) {
    int64_t dil = 1;
    for (int64_t j = 0; j < cfg.n_residual_layers; ++j, dil *= cfg.dilation_base)
      m->encoder_.push_back(res_block(enc(idx++), mult * nf, dil));
    m->encoder_.push_back(elu_layer());
    ++idx;
    m->encoder_.push_back(conv_layer(enc(idx++), mult * nf, mult * nf * 2, *it * 2, *it, false));
    mult *= 2;
  }
  if (cfg.lstm_layers > 0) m->encoder_.push_back(lstm_layer(enc(idx++), mult * nf));
  m->encoder_.push_back(elu_layer());
  ++idx;
  m->encoder_.push_back(conv_layer(enc(idx++), mult * nf, cfg.dimension, cfg.last_kernel_size, 1, false));

  // Decoder, mirrored.
  idx = 0;
  auto dec = [&](int i) { return "decoder.layers." + std::to_string(i) + "."; };
  m->decoder_.push_back(conv_layer(dec(idx++), cfg.dimension, mult * nf, cfg.kernel_size, 1, false));
  if (cfg.lstm_layers > 0) m->decoder_.push_back(lstm_layer(dec(idx++), mult * nf));
  for (auto r : cfg.ratios) {
    m->decoder_.push_back(elu_layer());
    ++idx;
    m->decoder_.push_back(conv_layer(dec(idx++), mult * nf, mult * nf / 2, r * 2, r, true));
    mult /= 2;
    int64_t dil = 1;
    for (int64_t j = 0; j < cfg.n_residual_layers; ++j, dil *= cfg.dilation_base)
      m->decoder_.push_back(res_block(dec(idx++), mult * nf, dil));
  }
  m->decoder_.push_back(elu_layer());
  ++idx;
  m->decoder_.push_back(conv_layer(dec(idx++), nf, cfg.channels, cfg.last_kernel_size, 1, false));

  // Quantizer codebooks.
  m->rvq_.codebook_size = cfg.codebook_size;
  m->rvq_.dim = cfg.codebook_dim;
  for (int64_t q = 0; q < cfg.num_quantizers; ++q)
    m->rvq_.embed.push_back(
        be.weight(f.f32("quantizer.layers." + std::to_string(q) + ".codebook.embed", {cfg.codebook_size, cfg.codebook_dim})));
  be.rvq_norms(m->rvq_);
  for (auto& name : f.names()) m->weight_bytes_ += f.info(name).end - f.info(name).begin;
  return m;
}

Signal CodecModel::run(const std::vector<CodecLayer>& layers, Signal x) const {
  Backend& be = *be_;
  for (const CodecLayer& L : layers) {
    switch (L.kind) {
      case CodecLayer::Kind::Conv:
        x = apply_conv(be, L.conv, cfg_, x);
        break;
      case CodecLayer::Kind::Elu:
        x = elu_copy(be, x, cfg_.elu_alpha);
        break;
      case CodecLayer::Kind::ResBlock: {
        Signal h = elu_copy(be, x, cfg_.elu_alpha);
        h = apply_conv(be, L.res.conv1, cfg_, h);
        be.activate(Activation::Elu, h.buf, h.C * h.T, cfg_.elu_alpha);
        h = apply_conv(be, L.res.conv2, cfg_, h);
        Signal skip = L.res.has_shortcut ? apply_conv(be, L.res.shortcut, cfg_, x) : x;
        ALM_ASSERT(skip.C * skip.T == h.C * h.T);
        be.axpby(h.buf, skip.buf, h.C * h.T, 1.f, 1.f);
        x = h;
        break;
      }
      case CodecLayer::Kind::Lstm: {
        // [C, T] → [T, B=1, C] → LSTM → back, plus the skip.
        Signal seq = signal(be, x.T, x.C), out = signal(be, x.T, x.C), y = signal(be, x.C, x.T);
        be.transpose(x.buf, x.C, x.T, seq.buf);
        be.lstm(L.lstm, seq.buf, x.T, 1, out.buf);
        be.transpose(out.buf, x.T, x.C, y.buf);
        be.axpby(y.buf, x.buf, x.C * x.T, 1.f, 1.f);
        x = y;
        break;
      }
    }
  }
  return x;
}

int64_t CodecModel::frames_for(int64_t len) const {
  int64_t hop = cfg_.hop_length();
  return (len + hop - 1) / hop;
}

CodecModel::Signal CodecModel::encoder_output(const float* wav, int64_t len) const {
  ALM_CHECK_ARG(len >= 1, "cannot encode an empty waveform");
  int64_t n = len * cfg_.channels;
  for (int64_t i = 0; i < n; ++i)
    ALM_CHECK_ARG(std::isfinite(wav[i]), "waveform sample ", i, " is not finite (", wav[i], ")");
  Signal x{be_->upload_f32(wav, n), cfg_.channels, len};
  return run(encoder_, x);
}

Tensor CodecModel::embed(const float* wav, int64_t len) const {
  Signal e = encoder_output(wav, len);
  Tensor out = Tensor::empty({e.C, e.T});
  be_->download(out.data(), e.buf, size_t(e.C * e.T) * 4);
  return out;
}

std::vector<int32_t> CodecModel::encode(const float* wav, int64_t len, int64_t num_levels, int64_t* frames) const {
  ALM_CHECK_ARG(num_levels >= 1 && num_levels <= cfg_.num_quantizers, "number of quantizers must be in [1, ",
                cfg_.num_quantizers, "] but is ", num_levels);
  Signal emb = encoder_output(wav, len);
  const int64_t D = emb.C, T = emb.T;
  Buffer rows = be_->alloc_f32(T * D);
  be_->transpose(emb.buf, D, T, rows);
  std::vector<int32_t> codes(static_cast<size_t>(num_levels * T));
  be_->rvq_encode(rvq_, num_levels, rows, T, codes.data());
  *frames = T;
  return codes;
}

Tensor CodecModel::decode(const int32_t* codes, int64_t num_levels, int64_t frames) const {
  ALM_CHECK_ARG(num_levels >= 1 && num_levels <= cfg_.num_quantizers, "number of quantizer levels must be in [1, ",
                cfg_.num_quantizers, "] but is ", num_levels);
  ALM_CHECK_ARG(frames >= 1, "cannot decode zero frames");
  const int64_t D = cfg_.codebook_dim;
  Buffer rows = be_->alloc_f32(frames * D);
  be_->rvq_decode(rvq_, num_levels, codes, frames, rows);
  Signal x = signal(*be_, D, frames);
  be_->transpose(rows, frames, D, x.buf);
  Signal y = run(decoder_, x);
  Tensor out = Tensor::empty({y.C, y.T});
  be_->download(out.data(), y.buf, size_t(y.C * y.T) * 4);
  return out;
}

}  // namespace alm
