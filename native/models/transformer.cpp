#include "transformer.h"

#include <algorithm>
#include <cmath>
#include <numeric>


namespace alm {
namespace {

void check_range(int64_t v, int64_t lo, int64_t hi, const char* name, const std::string& what) {
  if (v < lo || v > hi) fail(ErrorKind::InvalidModel, what, ": config ", name, " = ", v, " is out of range [", lo, ", ", hi, "]");
}

Linear load_linear(Backend& be, const WeightsFile& f, const std::string& name, int64_t out, int64_t in, bool bias) {
  Linear L;
  L.out = out;
  L.in = in;
  L.w = be.weight(f.f32(name + ".weight", {out, in}));
  if (bias) L.b = be.weight(f.f32(name + ".bias", {out}));
  return L;
}

}  // namespace

TransformerConfig TransformerConfig::from_json(const Json& j, const std::string& what) {
  TransformerConfig c;
  std::string family = j.get_string("family", "");
  if (family != "transformer")
    fail(ErrorKind::InvalidModel, what, ": expected a component of family 'transformer' but found '", family, "'");
  c.vocab_size = j.get_int("vocabSize", 0);
  c.output_size = j.get_int("outputSize", c.vocab_size);
  c.dim = j.get_int("dim", 0);
  c.layers = j.get_int("layers", 0);
  c.heads = j.get_int("heads", 0);
  c.kv_heads = j.get_int("kvHeads", c.heads);
  check_range(c.vocab_size, 1, 1 << 24, "vocabSize", what);
  check_range(c.output_size, 1, 1 << 24, "outputSize", what);
  check_range(c.dim, 1, 1 << 16, "dim", what);
  check_range(c.layers, 1, 1024, "layers", what);
  check_range(c.heads, 1, 1024, "heads", what);
  check_range(c.kv_heads, 1, c.heads, "kvHeads", what);
  if (c.heads % c.kv_heads) fail(ErrorKind::InvalidModel, what, ": heads ", c.heads, " is not a multiple of kvHeads ", c.kv_heads);
  c.head_dim = j.get_int("headDim", c.dim / c.heads);
  check_range(c.head_dim, 1, 4096, "headDim", what);
  c.ff_dim = j.get_int("ffDim", 4 * c.dim);
  check_range(c.ff_dim, 1, 1 << 20, "ffDim", what);
  c.ff = j.get_string("ff", c.ff);
  if (c.ff != "gelu" && c.ff != "gelu_tanh" && c.ff != "geglu" && c.ff != "relu")
    fail(ErrorKind::InvalidModel, what, ": ff must be gelu, gelu_tanh, geglu or relu, not '", c.ff, "'");
  c.ff_inner_norm = j.get_bool("ffInnerNorm", false);
  c.norm = j.get_string("norm", c.norm);
  if (c.norm != "layernorm" && c.norm != "rmsnorm")
    fail(ErrorKind::InvalidModel, what, ": norm must be layernorm or rmsnorm, not '", c.norm, "'");
  c.norm_bias = j.get_bool("normBias", true) && c.norm == "layernorm";
  c.norm_eps = static_cast<float>(j.get_number("normEps", 1e-5));
  c.prenorm = j.get_bool("prenorm", true);
  c.final_norm = j.get_bool("finalNorm", c.prenorm);
  c.position = j.get_string("position", c.position);
  if (c.position != "learned" && c.position != "t5" && c.position != "bias_table" && c.position != "rotary" && c.position != "none")
    fail(ErrorKind::InvalidModel, what, ": position must be learned, t5, bias_table, rotary or none, not '", c.position, "'");
  c.max_positions = j.get_int("maxPositions", 2048);
  check_range(c.max_positions, 1, 1 << 22, "maxPositions", what);
  c.t5_buckets = j.get_int("t5Buckets", 32);
  c.t5_max_distance = j.get_int("t5MaxDistance", 128);
  check_range(c.t5_buckets, 2, 1 << 16, "t5Buckets", what);
  check_range(c.t5_max_distance, 1, 1 << 24, "t5MaxDistance", what);
  c.rotary_dim = j.get_int("rotaryDim", c.head_dim);
  if (c.position == "rotary" && (c.rotary_dim < 2 || c.rotary_dim > c.head_dim || c.rotary_dim % 2))
    fail(ErrorKind::InvalidModel, what, ": rotaryDim must be even and in [2, headDim]");
  c.rotary_base = static_cast<float>(j.get_number("rotaryBase", 10000));
  c.causal = j.get_bool("causal", true);
  c.attn_scale = static_cast<float>(j.get_number("attnScale", 1.0 / std::sqrt(double(c.head_dim))));
  c.attn_bias = j.get_bool("attnBias", false);
  c.ff_bias = j.get_bool("ffBias", false);
  c.head_bias = j.get_bool("headBias", false);
  c.cross_attention = j.get_bool("crossAttention", false);
  c.context_dim = j.get_int("contextDim", c.dim);
  check_range(c.context_dim, 1, 1 << 16, "contextDim", what);
  c.input_codebooks = j.get_int("inputCodebooks", 1);
  c.output_heads = j.get_int("outputHeads", 1);
  check_range(c.input_codebooks, 1, 256, "inputCodebooks", what);
  check_range(c.output_heads, 1, 256, "outputHeads", what);
  c.shared_input_embedding = j.get_bool("sharedInputEmbedding", false);
  c.tie_embeddings = j.get_bool("tieEmbeddings", false);
  c.value_residual = j.get_bool("valueResidual", false);
  c.segment_bias = j.get_bool("segmentBias", false);
  if (c.segment_bias && c.input_codebooks != 1) fail(ErrorKind::InvalidModel, what, ": segmentBias needs one input codebook");
  if (c.tie_embeddings && c.output_size != c.vocab_size)
    fail(ErrorKind::InvalidModel, what, ": tieEmbeddings needs outputSize == vocabSize");
  return c;
}

std::shared_ptr<TransformerModel> TransformerModel::load(const std::string& path, Backend& be) {
  auto file = WeightsFile::open(path);
  std::shared_ptr<TransformerModel> m(new TransformerModel());
  m->be_ = &be;
  m->file_ = file;
  TransformerConfig& c = m->cfg_;
  c = TransformerConfig::from_json(file->config(), path);
  const WeightsFile& f = *file;
  const int64_t D = c.dim, hd = c.head_dim;

  if (c.input_codebooks == 1 || c.shared_input_embedding) {
    m->tok_emb_.push_back(be.weight(f.f32("tok_emb.weight", {c.vocab_size, D})));
  } else {
    for (int64_t cb = 0; cb < c.input_codebooks; ++cb)
      m->tok_emb_.push_back(be.weight(f.f32("tok_emb." + std::to_string(cb) + ".weight", {c.vocab_size, D})));
  }
  if (c.position == "learned") m->pos_emb_ = be.weight(f.f32("pos_emb.weight", {c.max_positions, D}));
  if (c.position == "t5") m->rel_bias_ = f.f32("rel_bias.weight", {c.t5_buckets, c.heads});
  if (c.position == "bias_table") m->bias_table_ = f.f32("bias_table", {c.heads, 2 * c.max_positions - 1});
  if (c.segment_bias) {
    Tensor ts = f.f32("token_segment", {c.vocab_size});
    m->token_segment_.resize(size_t(c.vocab_size));
    for (int64_t t = 0; t < c.vocab_size; ++t) {
      const float v = ts.data()[t];
      if (!(v >= 0.f && v <= 255.f && v == std::floor(v)))
        fail(ErrorKind::InvalidModel, path, ": token_segment[", t, "] is ", v, ", not an integer in [0, 255]");
      m->token_segment_[size_t(t)] = uint8_t(v);
    }
    m->segment_bias_ = be.weight(f.f32("segment_bias", {c.heads}));
  }

  auto norm = [&](const std::string& name, int64_t width, bool bias) {
    Norm n;
    n.w = be.weight(f.f32(name + ".weight", {width}));
    if (bias) n.b = be.weight(f.f32(name + ".bias", {width}));
    return n;
  };
  auto attn = [&](const std::string& p, int64_t kv_in, const std::string& norm_name) {
    AttentionWeights a;
    a.norm = norm(norm_name, D, c.norm_bias);
    a.q = load_linear(be, f, p + ".q", c.heads * hd, D, c.attn_bias);
    a.k = load_linear(be, f, p + ".k", c.kv_heads * hd, kv_in, c.attn_bias);
    a.v = load_linear(be, f, p + ".v", c.kv_heads * hd, kv_in, c.attn_bias);
    a.o = load_linear(be, f, p + ".o", D, c.heads * hd, c.attn_bias);
    return a;
  };
  for (int64_t l = 0; l < c.layers; ++l) {
    std::string p = "layers." + std::to_string(l);
    Block b;
    b.self = attn(p + ".attn", D, p + ".attn_norm");
    if (c.cross_attention) {
      b.has_cross = true;
      b.cross = attn(p + ".cross", c.context_dim, p + ".cross_norm");
    }
    b.ff_norm = norm(p + ".ff_norm", D, c.norm_bias);
    int64_t up_rows = c.ff == "geglu" ? 2 * c.ff_dim : c.ff_dim;
    b.up = load_linear(be, f, p + ".ff.up", up_rows, D, c.ff_bias);
    if (c.ff_inner_norm) b.ff_inner_norm = norm(p + ".ff.inner_norm", c.ff_dim, true);
    b.down = load_linear(be, f, p + ".ff.down", D, c.ff_dim, c.ff_bias);
    m->blocks_.push_back(std::move(b));
  }
  if (c.final_norm) m->final_norm_ = norm("final_norm", D, c.norm_bias);
  for (int64_t h = 0; h < c.output_heads; ++h) {
    std::string name = c.output_heads == 1 ? "head" : "head." + std::to_string(h);
    Linear L;
    L.out = c.output_size;
    L.in = D;
    if (h == 0 && c.tie_embeddings) L.w = m->tok_emb_[0];
    else L.w = be.weight(f.f32(name + ".weight", {c.output_size, D}));
    if (c.head_bias) L.b = be.weight(f.f32(name + ".bias", {c.output_size}));
    m->heads_.push_back(L);
  }
  for (auto& name : f.names()) m->weight_bytes_ += f.info(name).end - f.info(name).begin;
  return m;
}

void TransformerModel::apply_norm(const Norm& n, Span x, int64_t rows, int64_t dim, Span y) const {
  be_->norm(cfg_.norm == "rmsnorm" ? NormKind::Rms : NormKind::Layer, x, rows, dim, n.w, n.b, cfg_.norm_eps, y);
}

void TransformerModel::embed(const int32_t* tokens, int64_t n, const int64_t* positions, Span x) const {
  const int64_t C = cfg_.input_codebooks;
  for (int64_t i = 0; i < n; ++i) {
    int given = 0;
    for (int64_t c = 0; c < C; ++c) {
      int32_t t = tokens[i * C + c];
      if (t < 0 && C > 1) continue;  // codebook not given
      ALM_CHECK_ARG(t >= 0 && t < cfg_.vocab_size, "token ", t, " at position ", positions[i],
                    C > 1 ? " (codebook " + std::to_string(c) + ")" : std::string(), " is outside the vocabulary [0, ",
                    cfg_.vocab_size, ")");
      ++given;
    }
    ALM_CHECK_ARG(given > 0, "position ", positions[i], " has no token in any codebook");
    if (cfg_.position == "learned")
      ALM_CHECK_ARG(positions[i] < cfg_.max_positions, "position ", positions[i], " is past the model's ",
                    cfg_.max_positions, " learned positions");
  }
  std::vector<const Weight*> tables(static_cast<size_t>(C));
  for (int64_t c = 0; c < C; ++c) tables[size_t(c)] = &tok_emb_[cfg_.shared_input_embedding ? 0 : size_t(c)];
  be_->embed(tables, cfg_.position == "learned" ? &pos_emb_ : nullptr, tokens, positions, n, cfg_.dim, x);
}

void TransformerModel::attention_sublayer(TransformerSession& s, const AttentionWeights& w, bool cross, int64_t layer,
                                          const std::vector<int64_t>& rows, const std::vector<int64_t>& counts,
                                          const std::vector<int64_t>& starts, Span h, Span out) const {
  const TransformerConfig& c = cfg_;
  Backend& be = *be_;
  const int64_t N = std::accumulate(counts.begin(), counts.end(), int64_t(0));
  const int64_t qd = c.heads * c.head_dim, kvd = c.kv_heads * c.head_dim;
  Buffer q = be.alloc_f32(N * qd), att = be.alloc_f32(N * qd);
  be.linear(h, N, w.q, q, false);
  std::vector<int64_t> offsets(rows.size());
  for (size_t i = 0, off = 0; i < rows.size(); ++i) { offsets[i] = int64_t(off); off += size_t(counts[i]); }
  if (!cross) {
    Buffer k = be.alloc_f32(N * kvd), v = be.alloc_f32(N * kvd);
    be.linear(h, N, w.k, k, false);
    be.linear(h, N, w.v, v, false);
    if (c.position == "rotary") {
      std::vector<int64_t> pos(static_cast<size_t>(N));
      for (size_t i = 0; i < rows.size(); ++i)
        for (int64_t j = 0; j < counts[i]; ++j) pos[size_t(offsets[i] + j)] = starts[i] + j;
      be.rotary(q, N, c.heads, c.head_dim, c.rotary_dim, pos.data(), c.rotary_base);
      be.rotary(k, N, c.kv_heads, c.head_dim, c.rotary_dim, pos.data(), c.rotary_base);
    }
    for (size_t i = 0; i < rows.size(); ++i) {
      const size_t bytes = size_t(counts[i] * kvd) * 4;
      be.copy(s.k_at(layer, rows[i]).at(starts[i] * kvd), Span(k).at(offsets[i] * kvd), bytes);
      Span vc = s.v_at(layer, rows[i]).at(starts[i] * kvd);
      be.copy(vc, Span(v).at(offsets[i] * kvd), bytes);
      // Layer 0 cached its own values for these positions already: later layers mix them in.
      if (c.value_residual && layer > 0) be.axpby(vc, s.v_at(0, rows[i]).at(starts[i] * kvd), counts[i] * kvd, 0.5f, 0.5f);
    }
  }
  AttentionShape shape;
  shape.heads = c.heads;
  shape.kv_heads = c.kv_heads;
  shape.head_dim = c.head_dim;
  shape.scale = c.attn_scale;
  shape.causal = cross ? false : c.causal;
  std::vector<AttentionRow> ar(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    const int64_t row = rows[i];
    AttentionRow& r = ar[i];
    r.q_row = offsets[i];
    r.tq = counts[i];
    r.kv_stride = kvd;
    if (cross) {
      r.k = Span(s.ctx_k_[size_t(layer * s.batch_ + row)]);
      r.v = Span(s.ctx_v_[size_t(layer * s.batch_ + row)]);
      r.tk = s.ctx_len_[size_t(row)];
    } else {
      r.q_pos0 = starts[i];
      r.k = s.k_at(layer, row);
      r.v = s.v_at(layer, row);
      r.tk = starts[i] + counts[i];
      if (c.segment_bias) r.segments = Span(s.seg_).bytes_at(row * s.capacity_);
    }
  }
  AttentionBias bias;
  if (!cross && s.rel_) {
    bias.rel = Span(s.rel_);
    bias.rel_len = 2 * s.capacity_ - 1;
    bias.rel_offset = s.capacity_ - 1;
  }
  if (!cross && c.segment_bias) bias.cross = segment_bias_.span();
  be.attention(shape, q, ar, bias, att);
  be.linear(att, N, w.o, out, false);
}

void TransformerModel::forward(TransformerSession& s, const std::vector<int64_t>& rows, const std::vector<int64_t>& counts,
                               const int32_t* tokens, Span x) const {
  const TransformerConfig& c = cfg_;
  Backend& be = *be_;
  const int64_t D = c.dim, N = std::accumulate(counts.begin(), counts.end(), int64_t(0));
  std::vector<int64_t> starts(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    starts[i] = s.len_[size_t(rows[i])];
    ALM_CHECK_ARG(starts[i] + counts[i] <= s.capacity_, "row ", rows[i], " needs ", starts[i] + counts[i],
                  " positions but the session holds ", s.capacity_);
  }
  if (c.segment_bias) {  // the segments of the new positions, beside their keys and values
    std::vector<uint8_t> seg;
    for (size_t i = 0, off = 0; i < rows.size(); off += size_t(counts[i]), ++i) {
      seg.resize(size_t(counts[i]));
      for (int64_t j = 0; j < counts[i]; ++j) seg[size_t(j)] = token_segment_[size_t(tokens[off + size_t(j)])];
      be.upload(Span(s.seg_).bytes_at(rows[i] * s.capacity_ + starts[i]), seg.data(), seg.size());
    }
  }
  Buffer h = be.alloc_f32(N * D), tmp = be.alloc_f32(N * D);
  const int64_t up_rows = c.ff == "geglu" ? 2 * c.ff_dim : c.ff_dim;
  Buffer u = be.alloc_f32(N * up_rows), g = c.ff == "geglu" ? be.alloc_f32(N * c.ff_dim) : nullptr;

  auto residual = [&](const Norm& n) {
    if (c.prenorm) {
      be.axpby(x, tmp, N * D, 1.f, 1.f);
    } else {
      be.axpby(tmp, x, N * D, 1.f, 1.f);
      apply_norm(n, tmp, N, D, x);
    }
  };
  auto normed = [&](const Norm& n) -> Span {
    if (!c.prenorm) return x;
    apply_norm(n, x, N, D, h);
    return Span(h);
  };

  for (int64_t l = 0; l < c.layers; ++l) {
    const Block& b = blocks_[size_t(l)];
    attention_sublayer(s, b.self, false, l, rows, counts, starts, normed(b.self.norm), tmp);
    residual(b.self.norm);
    if (b.has_cross) {
      for (auto r : rows)
        ALM_CHECK_ARG(s.ctx_len_[size_t(r)] > 0, "row ", r, " has no cross-attention context");
      attention_sublayer(s, b.cross, true, l, rows, counts, starts, normed(b.cross.norm), tmp);
      residual(b.cross.norm);
    }
    be.linear(normed(b.ff_norm), N, b.up, u, false);
    Span act_out(u);
    if (c.ff == "geglu") {
      be.geglu(u, N, c.ff_dim, g);
      act_out = Span(g);
    } else {
      be.activate(c.ff == "gelu" ? Activation::Gelu : c.ff == "gelu_tanh" ? Activation::GeluTanh : Activation::Relu, u,
                  N * up_rows, 1.f);
    }
    if (c.ff_inner_norm) be.norm(NormKind::Layer, act_out, N, c.ff_dim, b.ff_inner_norm.w, b.ff_inner_norm.b, c.norm_eps, act_out);
    be.linear(act_out, N, b.down, tmp, false);
    residual(b.ff_norm);
  }
  if (c.final_norm) apply_norm(final_norm_, x, N, D, x);
  for (size_t i = 0; i < rows.size(); ++i) s.len_[size_t(rows[i])] += counts[i];
}

void TransformerModel::head(Span hidden, int64_t n, int64_t h, Span logits) const {
  ALM_CHECK_ARG(h >= 0 && h < cfg_.output_heads, "output head ", h, " does not exist (the model has ", cfg_.output_heads, ")");
  be_->linear(hidden, n, heads_[size_t(h)], logits, false);
}

void TransformerModel::encode_context(TransformerSession& s, int64_t row, const float* ctx, int64_t tc) const {
  const int64_t kvd = cfg_.kv_heads * cfg_.head_dim;
  Buffer c = be_->upload_f32(ctx, tc * cfg_.context_dim);
  for (int64_t l = 0; l < cfg_.layers; ++l) {
    const Block& b = blocks_[size_t(l)];
    Buffer& k = s.ctx_k_[size_t(l * s.batch_ + row)];
    Buffer& v = s.ctx_v_[size_t(l * s.batch_ + row)];
    k = be_->alloc_f32(tc * kvd);
    v = be_->alloc_f32(tc * kvd);
    be_->linear(c, tc, b.cross.k, k, false);
    be_->linear(c, tc, b.cross.v, v, false);
  }
  s.ctx_len_[size_t(row)] = tc;
}

}  // namespace alm
