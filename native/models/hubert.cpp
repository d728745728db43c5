#include "models/hubert.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/error.h"
#include "core/threadpool.h"
#include "cpu/act.h"
#include "cpu/attention.h"
#include "cpu/gemm.h"
#include "cpu/norm.h"
#include "models/weight_norm.h"

namespace alm {
namespace {

// HF's nn.GroupNorm / nn.LayerNorm in the conv feature extractor keep torch's default eps; the
// config's layerNormEps applies to the projection and encoder norms only.
constexpr float kConvNormEps = 1e-5f;

void check_range(int64_t v, int64_t lo, int64_t hi, const char* name, const std::string& what) {
  if (v < lo || v > hi) fail(ErrorKind::InvalidModel, what, ": hubert.", name, " = ", v, " is out of range [", lo, ", ", hi, "]");
}

// y[cols, rows] = x[rows, cols]ᵀ.
void transpose(const float* x, int64_t rows, int64_t cols, float* y) {
  constexpr int64_t kTile = 32;
  parallel_for((rows + kTile - 1) / kTile, 4, [&](int64_t b0, int64_t b1) {
    for (int64_t r0 = b0 * kTile; r0 < std::min(rows, b1 * kTile); r0 += kTile)
      for (int64_t c0 = 0; c0 < cols; c0 += kTile)
        for (int64_t r = r0; r < std::min(rows, r0 + kTile); ++r)
          for (int64_t c = c0; c < std::min(cols, c0 + kTile); ++c) y[c * rows + r] = x[r * cols + c];
  });
}

Tensor transposed(const Tensor& x) {
  Tensor y = Tensor::empty({x.dim(1), x.dim(0)});
  transpose(x.data(), x.dim(0), x.dim(1), y.data());
  return y;
}

// y[n, out] (+)= x[n, in] · wᵀ + b. With `accumulate`, y already holds a residual to add to, so
// the residual connection costs no extra pass; the bias is laid into y before the GEMM for the
// same reason.
void linear(const HubertLinear& L, const float* x, int64_t n, float* y, bool accumulate) {
  if (L.b.defined()) {
    const float* b = L.b.data();
    for (int64_t r = 0; r < n; ++r) {
      float* yr = y + r * L.out;
      if (accumulate) for (int64_t j = 0; j < L.out; ++j) yr[j] += b[j];
      else std::memcpy(yr, b, sizeof(float) * size_t(L.out));
    }
    accumulate = true;
  }
  gemm(false, true, n, L.out, L.in, 1.f, x, L.in, L.w.data(), L.in, accumulate ? 1.f : 0.f, y, L.out);
}

HubertLinear load_linear(const WeightsFile& f, const std::string& name, int64_t out, int64_t in) {
  HubertLinear L;
  L.out = out;
  L.in = in;
  L.w = f.f32(name + ".weight", {out, in});
  L.b = f.f32(name + ".bias", {out});
  return L;
}

HubertNorm load_norm(const WeightsFile& f, const std::string& name, int64_t dim) {
  return HubertNorm{f.f32(name + ".weight", {dim}), f.f32(name + ".bias", {dim})};
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

std::unique_ptr<HubertModel> HubertModel::load(std::shared_ptr<WeightsFile> file, const HubertConfig& cfg, int64_t layers) {
  ALM_ASSERT(layers >= 0 && layers <= cfg.layers);
  std::unique_ptr<HubertModel> m(new HubertModel());
  m->cfg_ = cfg;
  m->file_ = file;
  const WeightsFile& f = *file;
  const int64_t D = cfg.hidden_size;

  int64_t cin = 1;
  for (size_t i = 0; i < cfg.conv_dim.size(); ++i) {
    const std::string p = "feature_extractor.conv_layers." + std::to_string(i);
    Conv1dShape s{cin, cfg.conv_dim[i], cfg.conv_kernel[i], cfg.conv_stride[i], 1, 1};
    m->conv_shapes_.push_back(s);
    m->conv_w_.push_back(f.f32(p + ".conv.weight", {s.out_channels, cin, s.kernel}));
    m->conv_b_.push_back(cfg.conv_bias ? f.f32(p + ".conv.bias", {s.out_channels}) : Tensor());
    if (cfg.feat_extract_norm == "layer" || i == 0) m->conv_norm_.push_back(load_norm(f, p + ".layer_norm", s.out_channels));
    cin = s.out_channels;
  }
  if (cfg.feat_proj_layer_norm) m->proj_norm_ = load_norm(f, "feature_projection.layer_norm", cin);
  m->proj_ = load_linear(f, "feature_projection.projection", D, cin);

  const int64_t G = cfg.pos_conv_groups, K = cfg.pos_conv_kernel;
  m->pos_shape_ = Conv1dShape{D, D, K, 1, 1, G};
  m->pos_w_ = load_conv_weight(f, "encoder.pos_conv_embed.conv.", {D, D / G, K}, 2);
  m->pos_b_ = f.f32("encoder.pos_conv_embed.conv.bias", {D});
  m->enc_norm_ = load_norm(f, "encoder.layer_norm", D);

  for (int64_t l = 0; l < layers; ++l) {
    const std::string p = "encoder.layers." + std::to_string(l);
    HubertLayer L;
    L.q = load_linear(f, p + ".attention.q_proj", D, D);
    L.k = load_linear(f, p + ".attention.k_proj", D, D);
    L.v = load_linear(f, p + ".attention.v_proj", D, D);
    L.o = load_linear(f, p + ".attention.out_proj", D, D);
    L.attn_norm = load_norm(f, p + ".layer_norm", D);
    L.ff_in = load_linear(f, p + ".feed_forward.intermediate_dense", cfg.intermediate_size, D);
    L.ff_out = load_linear(f, p + ".feed_forward.output_dense", D, cfg.intermediate_size);
    L.final_norm = load_norm(f, p + ".final_layer_norm", D);
    m->layers_.push_back(std::move(L));
  }
  return m;
}

Tensor HubertModel::conv_stack(const float* wav, int64_t len, const ChannelStats* stats) const {
  Tensor x = Tensor::view(const_cast<float*>(wav), {1, len}, nullptr);
  for (size_t i = 0; i < conv_shapes_.size(); ++i) {
    const Conv1dShape& s = conv_shapes_[i];
    const int64_t C = s.out_channels, T = conv1d_out_len(s, x.dim(1));
    Tensor y = Tensor::empty({C, T});
    conv1d(s, x.data(), x.dim(1), conv_w_[i].data(), conv_b_[i].defined() ? conv_b_[i].data() : nullptr, y.data());
    if (cfg_.feat_extract_norm == "group") {
      if (i == 0 && stats) {
        const float* w = conv_norm_[0].w.data();
        const float* b = conv_norm_[0].b.data();
        parallel_for(C, 1, [&](int64_t c0, int64_t c1) {
          for (int64_t c = c0; c < c1; ++c) {
            const float m = stats->mean[size_t(c)], sc = stats->rstd[size_t(c)] * w[c], o = b[c];
            float* yc = y.data() + c * T;
            for (int64_t t = 0; t < T; ++t) yc[t] = (yc[t] - m) * sc + o;
          }
        });
      } else if (i == 0) {
        group_norm(y.data(), C, T, C, conv_norm_[0].w.data(), conv_norm_[0].b.data(), kConvNormEps, y.data());
      }
    } else {
      // LayerNorm over channels, per time step: rows of the transposed signal.
      Tensor rows = transposed(y);
      layer_norm(rows.data(), T, C, conv_norm_[i].w.data(), conv_norm_[i].b.data(), kConvNormEps, rows.data());
      transpose(rows.data(), T, C, y.data());
    }
    gelu(y.data(), y.numel());
    x = y;
  }
  return transposed(x);
}

HubertModel::ChannelStats HubertModel::first_layer_stats(const float* wav, int64_t len, int64_t chunk_frames) const {
  // Chunks of the first layer's output, each from the samples it sees; per channel, the chunks'
  // means and sums of squared deviations are merged (Chan et al.), all in double.
  const Conv1dShape& s = conv_shapes_[0];
  const int64_t C = s.out_channels, T = conv1d_out_len(s, len);
  std::vector<double> mean(size_t(C), 0.0), m2(size_t(C), 0.0);
  int64_t seen = 0;
  for (int64_t t0 = 0; t0 < T; t0 += chunk_frames) {
    const int64_t n = std::min(chunk_frames, T - t0);
    const int64_t a = t0 * s.stride, span = (n - 1) * s.stride + s.kernel;
    Tensor y = Tensor::empty({C, n});
    conv1d(s, wav + a, span, conv_w_[0].data(), conv_b_[0].defined() ? conv_b_[0].data() : nullptr, y.data());
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

Tensor HubertModel::extract_features(const float* wav, int64_t len, int64_t block_frames) const {
  const int64_t rf = cfg_.receptive_field();
  ALM_CHECK_ARG(len >= rf, "HuBERT needs at least ", rf, " samples (one frame) but the waveform has ", len);
  ALM_CHECK_ARG(block_frames >= 1, "feature block of ", block_frames, " frames");
  const int64_t F = cfg_.frames_for(len), hop = cfg_.hop();
  if (F <= block_frames) return conv_stack(wav, len, nullptr);
  ChannelStats stats;
  const bool group = cfg_.feat_extract_norm == "group";
  if (group) stats = first_layer_stats(wav, len, block_frames * hop / conv_shapes_[0].stride);
  const int64_t C = conv_shapes_.back().out_channels;
  Tensor out = Tensor::empty({F, C});
  for (int64_t f0 = 0; f0 < F; f0 += block_frames) {
    const int64_t n = std::min(block_frames, F - f0);
    Tensor y = conv_stack(wav + f0 * hop, (n - 1) * hop + rf, group ? &stats : nullptr);
    ALM_ASSERT(y.dim(0) == n && y.dim(1) == C);
    std::copy(y.data(), y.data() + n * C, out.data() + f0 * C);
  }
  return out;
}

void HubertModel::encoder_layer(const HubertLayer& L, Tensor& h) const {
  const int64_t F = h.dim(0), D = cfg_.hidden_size, hd = D / cfg_.heads, I = cfg_.intermediate_size;
  Tensor q = Tensor::empty({F, D}), k = Tensor::empty({F, D}), v = Tensor::empty({F, D}), att = Tensor::empty({F, D});
  linear(L.q, h.data(), F, q.data(), false);
  linear(L.k, h.data(), F, k.data(), false);
  linear(L.v, h.data(), F, v.data(), false);
  const AttentionShape shape{cfg_.heads, cfg_.heads, hd, 1.f / std::sqrt(float(hd)), false};
  attention(shape, q.data(), F, 0, k.data(), v.data(), F, D, nullptr, 0, 0, att.data());
  // h = LN(h + out_proj(att)): the residual sits in h, so out_proj accumulates into it.
  linear(L.o, att.data(), F, h.data(), true);
  layer_norm(h.data(), F, D, L.attn_norm.w.data(), L.attn_norm.b.data(), cfg_.layer_norm_eps, h.data());
  Tensor u = Tensor::empty({F, I});
  linear(L.ff_in, h.data(), F, u.data(), false);
  gelu(u.data(), u.numel());
  linear(L.ff_out, u.data(), F, h.data(), true);
  layer_norm(h.data(), F, D, L.final_norm.w.data(), L.final_norm.b.data(), cfg_.layer_norm_eps, h.data());
}

Tensor HubertModel::forward(const float* wav, int64_t len, int64_t layer, std::vector<Tensor>* all) const {
  ALM_CHECK_ARG(layer >= 0 && layer <= loaded_layers(), "HuBERT layer ", layer, " is not in [0, ", loaded_layers(), "]");
  Tensor feat = extract_features(wav, len);
  const int64_t F = feat.dim(0), C = feat.dim(1), D = cfg_.hidden_size;
  if (proj_norm_.w.defined())
    layer_norm(feat.data(), F, C, proj_norm_.w.data(), proj_norm_.b.data(), cfg_.layer_norm_eps, feat.data());
  Tensor h = Tensor::empty({F, D});
  linear(proj_, feat.data(), F, h.data(), false);
  feat = Tensor();

  // Positional convolution over [D, F] zero-padded by K/2 on both sides; with an even kernel it
  // makes F + 1 frames and the last is dropped (HF's HubertSamePadLayer).
  const int64_t K = pos_shape_.kernel, pad = K / 2, padded = F + 2 * pad;
  Tensor ht = transposed(h), hp = Tensor::empty({D, padded});
  pad1d(ht.data(), D, F, pad, pad, PadMode::Zero, hp.data());
  ht = Tensor();
  const int64_t out_len = conv1d_out_len(pos_shape_, padded);
  Tensor pos = Tensor::empty({D, out_len});
  conv1d(pos_shape_, hp.data(), padded, pos_w_.data(), pos_b_.data(), pos.data());
  hp = Tensor();
  gelu(pos.data(), pos.numel());
  pos = transposed(pos);  // [out_len, D]: rows 0..F-1 are the frames kept
  for (int64_t i = 0; i < F * D; ++i) h.data()[i] += pos.data()[i];
  pos = Tensor();
  layer_norm(h.data(), F, D, enc_norm_.w.data(), enc_norm_.b.data(), cfg_.layer_norm_eps, h.data());

  auto keep = [&] {
    if (!all) return;
    Tensor c = Tensor::empty(h.shape());
    std::copy(h.data(), h.data() + h.numel(), c.data());
    all->push_back(c);
  };
  if (all) all->clear();
  keep();
  for (int64_t l = 0; l < layer; ++l) {
    encoder_layer(layers_[size_t(l)], h);
    keep();
  }
  return h;
}

}  // namespace alm
