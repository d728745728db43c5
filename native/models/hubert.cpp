#include "models/hubert.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/error.h"
#include "core/threadpool.h"
#include "models/weight_norm.h"

namespace alm {
namespace {

// HF's nn.GroupNorm / nn.LayerNorm in the conv feature extractor keep torch's default eps; the
// config's layerNormEps applies to the projection and encoder norms only.
constexpr float kConvNormEps = 1e-5f;

void check_range(int64_t v, int64_t lo, int64_t hi, const char* name, const std::string& what) {
  if (v < lo || v > hi) fail(ErrorKind::InvalidModel, what, ": hubert.", name, " = ", v, " is out of range [", lo, ", ", hi, "]");
}

Linear load_linear(Backend& be, const WeightsFile& f, const std::string& name, int64_t out, int64_t in) {
  Linear L;
  L.out = out;
  L.in = in;
  L.w = be.weight(f.f32(name + ".weight", {out, in}));
  L.b = be.weight(f.f32(name + ".bias", {out}));
  return L;
}

HubertNorm load_norm(Backend& be, const WeightsFile& f, const std::string& name, int64_t dim) {
  return HubertNorm{be.weight(f.f32(name + ".weight", {dim})), be.weight(f.f32(name + ".bias", {dim}))};
}

}  // namespace

int64_t HubertConfig::receptive_field() const {
  int64_t r = 1;
  for (size_t i = conv_kernel.size(); i-- > 0;) r = (r - 1) * conv_stride[i] + conv_kernel[i];
  return r;
}

int64_t HubertConfig::hop() const {
  int64_t h = 1;
  for (auto s : conv_stride) h *= s;
  return h;
}

int64_t HubertConfig::frames_for(int64_t len) const {
  for (size_t i = 0; i < conv_kernel.size(); ++i) {
    if (len < conv_kernel[i]) return 0;
    len = (len - conv_kernel[i]) / conv_stride[i] + 1;
  }
  return len;
}

HubertConfig HubertConfig::from_json(const Json& j, const std::string& what) {
  if (!j.is_object()) fail(ErrorKind::InvalidModel, what, ": the hubert section of the config must be an object");
  HubertConfig c;
  c.hidden_size = j.get_int("hiddenSize", c.hidden_size);
  c.layers = j.get_int("layers", c.layers);
  c.heads = j.get_int("heads", c.heads);
  c.intermediate_size = j.get_int("intermediateSize", c.intermediate_size);
  c.conv_dim = j.get_int_array("convDim", c.conv_dim);
  c.conv_kernel = j.get_int_array("convKernel", c.conv_kernel);
  c.conv_stride = j.get_int_array("convStride", c.conv_stride);
  c.conv_bias = j.get_bool("convBias", c.conv_bias);
  c.feat_extract_norm = j.get_string("featExtractNorm", c.feat_extract_norm);
  c.feat_proj_layer_norm = j.get_bool("featProjLayerNorm", c.feat_proj_layer_norm);
  c.pos_conv_kernel = j.get_int("posConvKernel", c.pos_conv_kernel);
  c.pos_conv_groups = j.get_int("posConvGroups", c.pos_conv_groups);
  double eps = j.get_number("layerNormEps", c.layer_norm_eps);
  if (j.get_bool("doStableLayerNorm", false))
    fail(ErrorKind::Unsupported, what, ": HuBERT with doStableLayerNorm (the pre-norm large/xlarge layout) is not supported");

  check_range(c.hidden_size, 1, 1 << 16, "hiddenSize", what);
  check_range(c.layers, 0, 1024, "layers", what);
  check_range(c.heads, 1, c.hidden_size, "heads", what);
  if (c.hidden_size % c.heads)
    fail(ErrorKind::InvalidModel, what, ": hubert.hiddenSize ", c.hidden_size, " is not a multiple of heads ", c.heads);
  check_range(c.intermediate_size, 1, 1 << 18, "intermediateSize", what);
  const size_t n = c.conv_dim.size();
  if (n < 1 || n > 16 || c.conv_kernel.size() != n || c.conv_stride.size() != n)
    fail(ErrorKind::InvalidModel, what, ": hubert.convDim, convKernel and convStride must list the same number (1 to 16) of ",
         "conv layers, not ", n, ", ", c.conv_kernel.size(), " and ", c.conv_stride.size());
  int64_t hop = 1;
  for (size_t i = 0; i < n; ++i) {
    check_range(c.conv_dim[i], 1, 1 << 16, "convDim[]", what);
    check_range(c.conv_kernel[i], 1, 4096, "convKernel[]", what);
    check_range(c.conv_stride[i], 1, 4096, "convStride[]", what);
    hop *= c.conv_stride[i];
    if (hop > (int64_t(1) << 24)) fail(ErrorKind::InvalidModel, what, ": hubert.convStride multiplies to more than 2^24");
  }
  if (c.feat_extract_norm != "group" && c.feat_extract_norm != "layer")
    fail(ErrorKind::InvalidModel, what, ": hubert.featExtractNorm must be 'group' or 'layer', not '", c.feat_extract_norm, "'");
  check_range(c.pos_conv_kernel, 1, 4096, "posConvKernel", what);
  check_range(c.pos_conv_groups, 1, c.hidden_size, "posConvGroups", what);
  if (c.hidden_size % c.pos_conv_groups)
    fail(ErrorKind::InvalidModel, what, ": hubert.hiddenSize ", c.hidden_size, " is not a multiple of posConvGroups ", c.pos_conv_groups);
  if (!(eps > 0 && eps < 1)) fail(ErrorKind::InvalidModel, what, ": hubert.layerNormEps must be in (0, 1), not ", eps);
  c.layer_norm_eps = float(eps);
  return c;
}

std::unique_ptr<HubertModel> HubertModel::load(std::shared_ptr<WeightsFile> file, const HubertConfig& cfg, int64_t layers,
                                               Backend& be) {
  ALM_ASSERT(layers >= 0 && layers <= cfg.layers);
  std::unique_ptr<HubertModel> m(new HubertModel());
  m->cfg_ = cfg;
  m->be_ = &be;
  m->file_ = file;
  const WeightsFile& f = *file;
  const int64_t D = cfg.hidden_size;

  int64_t cin = 1;
  for (size_t i = 0; i < cfg.conv_dim.size(); ++i) {
    const std::string p = "feature_extractor.conv_layers." + std::to_string(i);
    Conv1dShape s{cin, cfg.conv_dim[i], cfg.conv_kernel[i], cfg.conv_stride[i], 1, 1};
    m->conv_shapes_.push_back(s);
    m->conv_w_.push_back(be.weight(f.f32(p + ".conv.weight", {s.out_channels, cin, s.kernel})));
    m->conv_b_.push_back(cfg.conv_bias ? be.weight(f.f32(p + ".conv.bias", {s.out_channels})) : Weight());
    if (cfg.feat_extract_norm == "layer" || i == 0) m->conv_norm_.push_back(load_norm(be, f, p + ".layer_norm", s.out_channels));
    if (i == 0 && cfg.feat_extract_norm == "group") {
      m->norm0_w_ = f.f32(p + ".layer_norm.weight", {s.out_channels});
      m->norm0_b_ = f.f32(p + ".layer_norm.bias", {s.out_channels});
    }
    cin = s.out_channels;
  }
  if (cfg.feat_proj_layer_norm) m->proj_norm_ = load_norm(be, f, "feature_projection.layer_norm", cin);
  m->proj_ = load_linear(be, f, "feature_projection.projection", D, cin);

  const int64_t G = cfg.pos_conv_groups, K = cfg.pos_conv_kernel;
  m->pos_shape_ = Conv1dShape{D, D, K, 1, 1, G};
  m->pos_w_ = be.weight(load_conv_weight(f, "encoder.pos_conv_embed.conv.", {D, D / G, K}, 2));
  m->pos_b_ = be.weight(f.f32("encoder.pos_conv_embed.conv.bias", {D}));
  m->enc_norm_ = load_norm(be, f, "encoder.layer_norm", D);

  for (int64_t l = 0; l < layers; ++l) {
    const std::string p = "encoder.layers." + std::to_string(l);
    HubertLayer L;
    L.q = load_linear(be, f, p + ".attention.q_proj", D, D);
    L.k = load_linear(be, f, p + ".attention.k_proj", D, D);
    L.v = load_linear(be, f, p + ".attention.v_proj", D, D);
    L.o = load_linear(be, f, p + ".attention.out_proj", D, D);
    L.attn_norm = load_norm(be, f, p + ".layer_norm", D);
    L.ff_in = load_linear(be, f, p + ".feed_forward.intermediate_dense", cfg.intermediate_size, D);
    L.ff_out = load_linear(be, f, p + ".feed_forward.output_dense", D, cfg.intermediate_size);
    L.final_norm = load_norm(be, f, p + ".final_layer_norm", D);
    m->layers_.push_back(std::move(L));
  }
  return m;
}

void HubertModel::project(const Linear& L, Span x, int64_t n, Span y) const {
  be_->fill(y, 0.f, n * L.out);
  be_->linear(x, n, L, y, true);
}

Buffer HubertModel::conv_stack(Span wav, int64_t len, const ChannelStats* stats, int64_t* frames) const {
  Backend& be = *be_;
  Buffer x;
  Span in = wav;
  int64_t T_in = len;
  for (size_t i = 0; i < conv_shapes_.size(); ++i) {
    const Conv1dShape& s = conv_shapes_[i];
    const int64_t C = s.out_channels, T = conv1d_out_len(s, T_in);
    Buffer y = be.alloc_f32(C * T);
    be.conv1d(s, in, T_in, conv_w_[i], conv_b_[i], y);
    if (cfg_.feat_extract_norm == "group") {
      if (i == 0 && stats) {
        std::vector<float> mul(static_cast<size_t>(C)), add(static_cast<size_t>(C));
        for (int64_t c = 0; c < C; ++c) {
          mul[size_t(c)] = stats->rstd[size_t(c)] * norm0_w_.data()[c];
          add[size_t(c)] = norm0_b_.data()[c];
        }
        be.affine_rows(y, C, T, stats->mean, mul, add);
      } else if (i == 0) {
        be.group_norm(y, C, T, C, conv_norm_[0].w, conv_norm_[0].b, kConvNormEps, y);
      }
    } else {
      // LayerNorm over channels, per time step: rows of the transposed signal.
      Buffer rows = be.alloc_f32(T * C);
      be.transpose(y, C, T, rows);
      be.norm(NormKind::Layer, rows, T, C, conv_norm_[i].w, conv_norm_[i].b, kConvNormEps, rows);
      be.transpose(rows, T, C, y);
    }
    be.activate(Activation::Gelu, y, C * T, 1.f);
    x = y;
    in = Span(x);
    T_in = T;
  }
  const int64_t C = conv_shapes_.back().out_channels;
  Buffer out = be.alloc_f32(T_in * C);
  be.transpose(x, C, T_in, out);
  *frames = T_in;
  return out;
}

HubertModel::ChannelStats HubertModel::first_layer_stats(const float* wav, int64_t len, int64_t chunk_frames) const {
  // Chunks of the first layer's output, each from the samples it sees; per channel, the chunks'
  // means and sums of squared deviations are merged (Chan et al.), all in double on the host
  // (each chunk comes back once: the statistics need all of the utterance before anything else).
  Backend& be = *be_;
  const Conv1dShape& s = conv_shapes_[0];
  const int64_t C = s.out_channels, T = conv1d_out_len(s, len);
  std::vector<double> mean(size_t(C), 0.0), m2(size_t(C), 0.0);
  int64_t seen = 0;
  for (int64_t t0 = 0; t0 < T; t0 += chunk_frames) {
    const int64_t n = std::min(chunk_frames, T - t0);
    const int64_t a = t0 * s.stride, span = (n - 1) * s.stride + s.kernel;
    Buffer x = be.upload_f32(wav + a, span), yb = be.alloc_f32(C * n);
    be.conv1d(s, x, span, conv_w_[0], conv_b_[0], yb);
    const std::vector<float> y = be.download_f32(yb, C * n);
    parallel_for(C, 1, [&](int64_t c0, int64_t c1) {
      for (int64_t c = c0; c < c1; ++c) {
        const float* yc = y.data() + c * n;
        double sum = 0;
        for (int64_t t = 0; t < n; ++t) sum += yc[t];
        const double cm = sum / double(n);
        double cm2 = 0;
        for (int64_t t = 0; t < n; ++t) cm2 += (yc[t] - cm) * (yc[t] - cm);
        const double delta = cm - mean[size_t(c)], total = double(seen + n);
        mean[size_t(c)] += delta * double(n) / total;
        m2[size_t(c)] += cm2 + delta * delta * double(seen) * double(n) / total;
      }
    });
    seen += n;
  }
  ChannelStats st;
  for (int64_t c = 0; c < C; ++c) {
    st.mean.push_back(float(mean[size_t(c)]));
    st.rstd.push_back(float(1.0 / std::sqrt(m2[size_t(c)] / double(T) + double(kConvNormEps))));
  }
  return st;
}

Buffer HubertModel::feature_buffer(const float* wav, int64_t len, int64_t block_frames) const {
  Backend& be = *be_;
  const int64_t rf = cfg_.receptive_field();
  ALM_CHECK_ARG(len >= rf, "HuBERT needs at least ", rf, " samples (one frame) but the waveform has ", len);
  ALM_CHECK_ARG(block_frames >= 1, "feature block of ", block_frames, " frames");
  const int64_t F = cfg_.frames_for(len), hop = cfg_.hop();
  int64_t frames = 0;
  if (F <= block_frames) return conv_stack(be.upload_f32(wav, len), len, nullptr, &frames);
  ChannelStats stats;
  const bool group = cfg_.feat_extract_norm == "group";
  if (group) stats = first_layer_stats(wav, len, block_frames * hop / conv_shapes_[0].stride);
  const int64_t C = conv_shapes_.back().out_channels;
  Buffer out = be.alloc_f32(F * C);
  for (int64_t f0 = 0; f0 < F; f0 += block_frames) {
    const int64_t n = std::min(block_frames, F - f0), span = (n - 1) * hop + rf;
    Buffer y = conv_stack(be.upload_f32(wav + f0 * hop, span), span, group ? &stats : nullptr, &frames);
    ALM_ASSERT(frames == n);
    be.copy(Span(out).at(f0 * C), y, size_t(n * C) * 4);
  }
  return out;
}

Tensor HubertModel::extract_features(const float* wav, int64_t len, int64_t block_frames) const {
  Buffer b = feature_buffer(wav, len, block_frames);
  const int64_t F = cfg_.frames_for(len), C = conv_shapes_.back().out_channels;
  Tensor out = Tensor::empty({F, C});
  be_->download(out.data(), b, size_t(F * C) * 4);
  return out;
}

void HubertModel::encoder_layer(const HubertLayer& L, Span h, int64_t F) const {
  Backend& be = *be_;
  const int64_t D = cfg_.hidden_size, hd = D / cfg_.heads, I = cfg_.intermediate_size;
  Buffer q = be.alloc_f32(F * D), k = be.alloc_f32(F * D), v = be.alloc_f32(F * D), att = be.alloc_f32(F * D);
  project(L.q, h, F, q);
  project(L.k, h, F, k);
  project(L.v, h, F, v);
  const AttentionShape shape{cfg_.heads, cfg_.heads, hd, 1.f / std::sqrt(float(hd)), false};
  be.attention(shape, q, {AttentionRow{0, F, 0, k, v, F, D, Span()}}, AttentionBias{}, att);
  // h = LN(h + out_proj(att)): the residual sits in h, so out_proj accumulates into it.
  be.linear(att, F, L.o, h, true);
  be.norm(NormKind::Layer, h, F, D, L.attn_norm.w, L.attn_norm.b, cfg_.layer_norm_eps, h);
  Buffer u = be.alloc_f32(F * I);
  project(L.ff_in, h, F, u);
  be.activate(Activation::Gelu, u, F * I, 1.f);
  be.linear(u, F, L.ff_out, h, true);
  be.norm(NormKind::Layer, h, F, D, L.final_norm.w, L.final_norm.b, cfg_.layer_norm_eps, h);
}

Buffer HubertModel::forward_buffer(const float* wav, int64_t len, int64_t layer, std::vector<Tensor>* all, int64_t* frames) const {
  ALM_CHECK_ARG(layer >= 0 && layer <= loaded_layers(), "HuBERT layer ", layer, " is not in [0, ", loaded_layers(), "]");
  Backend& be = *be_;
  Buffer feat = feature_buffer(wav, len, kFeatureBlockFrames);
  const int64_t F = cfg_.frames_for(len), C = conv_shapes_.back().out_channels, D = cfg_.hidden_size;
  if (proj_norm_.w.defined()) be.norm(NormKind::Layer, feat, F, C, proj_norm_.w, proj_norm_.b, cfg_.layer_norm_eps, feat);
  Buffer h = be.alloc_f32(F * D);
  project(proj_, feat, F, h);
  feat.reset();

  // Positional convolution over [D, F] zero-padded by K/2 on both sides; with an even kernel it
  // makes F + 1 frames and the last is dropped (HF's HubertSamePadLayer).
  const int64_t K = pos_shape_.kernel, pad = K / 2, padded = F + 2 * pad;
  Buffer ht = be.alloc_f32(D * F), hp = be.alloc_f32(D * padded);
  be.transpose(h, F, D, ht);
  be.pad(ht, D, F, pad, pad, PadMode::Zero, hp);
  ht.reset();
  const int64_t out_len = conv1d_out_len(pos_shape_, padded);
  Buffer pos = be.alloc_f32(D * out_len);
  be.conv1d(pos_shape_, hp, padded, pos_w_, pos_b_, pos);
  hp.reset();
  be.activate(Activation::Gelu, pos, D * out_len, 1.f);
  Buffer pos_rows = be.alloc_f32(out_len * D);  // [out_len, D]: rows 0..F-1 are the frames kept
  be.transpose(pos, D, out_len, pos_rows);
  pos.reset();
  be.axpby(h, pos_rows, F * D, 1.f, 1.f);
  pos_rows.reset();
  be.norm(NormKind::Layer, h, F, D, enc_norm_.w, enc_norm_.b, cfg_.layer_norm_eps, h);

  auto keep = [&] {
    if (!all) return;
    Tensor c = Tensor::empty({F, D});
    be.download(c.data(), h, size_t(F * D) * 4);
    all->push_back(c);
  };
  if (all) all->clear();
  keep();
  for (int64_t l = 0; l < layer; ++l) {
    encoder_layer(layers_[size_t(l)], h, F);
    keep();
  }
  *frames = F;
  return h;
}

Tensor HubertModel::forward(const float* wav, int64_t len, int64_t layer, std::vector<Tensor>* all) const {
  int64_t F = 0;
  Buffer h = forward_buffer(wav, len, layer, all, &F);
  Tensor out = Tensor::empty({F, cfg_.hidden_size});
  be_->download(out.data(), h, size_t(F * cfg_.hidden_size) * 4);
  return out;
}

}  // namespace alm
