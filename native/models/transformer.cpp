#include "transformer.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/threadpool.h"
#include "cpu/act.h"
#include "cpu/attention.h"
#include "cpu/gemm.h"
#include "cpu/gemv.h"
#include "cpu/norm.h"

namespace alm {
namespace {

void check_range(int64_t v, int64_t lo, int64_t hi, const char* name, const std::string& what) {
  if (v < lo || v > hi) fail(ErrorKind::InvalidModel, what, ": config ", name, " = ", v, " is out of range [", lo, ", ", hi, "]");
}

void linear(const Linear& L, const float* x, int64_t n, float* y) {
  // Decode steps have a handful of rows: read each weight row once instead of packing W.
  if (gemv_preferred(n)) gemv_rows(n, L.out, L.in, x, L.in, L.w.data(), L.in, y, L.out);
  else gemm(false, true, n, L.out, L.in, 1.f, x, L.in, L.w.data(), L.in, 0.f, y, L.out);
  if (L.b.defined()) {
    const float* b = L.b.data();
    parallel_for(n, 64, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r)
        for (int64_t j = 0; j < L.out; ++j) y[r * L.out + j] += b[j];
    });
  }
}

Linear load_linear(const WeightsFile& f, const std::string& name, int64_t out, int64_t in, bool bias) {
  Linear L;
  L.out = out;
  L.in = in;
  L.w = f.f32(name + ".weight", {out, in});
  if (bias) L.b = f.f32(name + ".bias", {out});
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

std::shared_ptr<TransformerModel> TransformerModel::load(const std::string& path) {
  auto file = WeightsFile::open(path);
  std::shared_ptr<TransformerModel> m(new TransformerModel());
  m->file_ = file;
  TransformerConfig& c = m->cfg_;
  c = TransformerConfig::from_json(file->config(), path);
  const WeightsFile& f = *file;
  const int64_t D = c.dim, hd = c.head_dim;

  if (c.input_codebooks == 1 || c.shared_input_embedding) {
    m->tok_emb_.push_back(f.f32("tok_emb.weight", {c.vocab_size, D}));
  } else {
    for (int64_t cb = 0; cb < c.input_codebooks; ++cb)
      m->tok_emb_.push_back(f.f32("tok_emb." + std::to_string(cb) + ".weight", {c.vocab_size, D}));
  }
  if (c.position == "learned") m->pos_emb_ = f.f32("pos_emb.weight", {c.max_positions, D});
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
    m->segment_bias_ = f.f32("segment_bias", {c.heads});
  }

  auto norm = [&](const std::string& name, int64_t width, bool bias) {
    Norm n;
    n.w = f.f32(name + ".weight", {width});
    if (bias) n.b = f.f32(name + ".bias", {width});
    return n;
  };
  auto attn = [&](const std::string& p, int64_t kv_in, const std::string& norm_name) {
    AttentionWeights a;
    a.norm = norm(norm_name, D, c.norm_bias);
    a.q = load_linear(f, p + ".q", c.heads * hd, D, c.attn_bias);
    a.k = load_linear(f, p + ".k", c.kv_heads * hd, kv_in, c.attn_bias);
    a.v = load_linear(f, p + ".v", c.kv_heads * hd, kv_in, c.attn_bias);
    a.o = load_linear(f, p + ".o", D, c.heads * hd, c.attn_bias);
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
    b.up = load_linear(f, p + ".ff.up", up_rows, D, c.ff_bias);
    if (c.ff_inner_norm) b.ff_inner_norm = norm(p + ".ff.inner_norm", c.ff_dim, true);
    b.down = load_linear(f, p + ".ff.down", D, c.ff_dim, c.ff_bias);
    m->blocks_.push_back(std::move(b));
  }
  if (c.final_norm) m->final_norm_ = norm("final_norm", D, c.norm_bias);
  for (int64_t h = 0; h < c.output_heads; ++h) {
    std::string name = c.output_heads == 1 ? "head" : "head." + std::to_string(h);
    Linear L;
    L.out = c.output_size;
    L.in = D;
    if (h == 0 && c.tie_embeddings) L.w = m->tok_emb_[0];
    else L.w = f.f32(name + ".weight", {c.output_size, D});
    if (c.head_bias) L.b = f.f32(name + ".bias", {c.output_size});
    m->heads_.push_back(L);
  }
  for (auto& name : f.names()) m->weight_bytes_ += f.info(name).end - f.info(name).begin;
  return m;
}

void TransformerModel::apply_norm(const Norm& n, const float* x, int64_t rows, int64_t dim, float* y) const {
  if (cfg_.norm == "rmsnorm") rms_norm(x, rows, dim, n.w.data(), cfg_.norm_eps, y);
  else layer_norm(x, rows, dim, n.w.data(), n.b.defined() ? n.b.data() : nullptr, cfg_.norm_eps, y);
}

void TransformerModel::embed(const int32_t* tokens, int64_t n, const int64_t* positions, float* x) const {
  const int64_t D = cfg_.dim, C = cfg_.input_codebooks;
  for (int64_t i = 0; i < n; ++i) {
    float* xi = x + i * D;
    std::fill(xi, xi + D, 0.f);
    int given = 0;
    for (int64_t c = 0; c < C; ++c) {
      int32_t t = tokens[i * C + c];
      if (t < 0 && C > 1) continue;  // codebook not given
      ALM_CHECK_ARG(t >= 0 && t < cfg_.vocab_size, "token ", t, " at position ", positions[i],
                    C > 1 ? " (codebook " + std::to_string(c) + ")" : std::string(), " is outside the vocabulary [0, ",
                    cfg_.vocab_size, ")");
      const float* e = tok_emb_[cfg_.shared_input_embedding ? 0 : size_t(c)].data() + int64_t(t) * D;
      for (int64_t d = 0; d < D; ++d) xi[d] += e[d];
      ++given;
    }
    ALM_CHECK_ARG(given > 0, "position ", positions[i], " has no token in any codebook");
    if (cfg_.position == "learned") {
      ALM_CHECK_ARG(positions[i] < cfg_.max_positions, "position ", positions[i], " is past the model's ",
                    cfg_.max_positions, " learned positions");
      const float* p = pos_emb_.data() + positions[i] * D;
      for (int64_t d = 0; d < D; ++d) xi[d] += p[d];
    }
  }
}

void TransformerModel::attention_sublayer(TransformerSession& s, const AttentionWeights& w, bool cross, int64_t layer,
                                          const std::vector<int64_t>& rows, const std::vector<int64_t>& counts,
                                          const std::vector<int64_t>& starts, const float* h, float* out) const {
  const TransformerConfig& c = cfg_;
  const int64_t N = std::accumulate(counts.begin(), counts.end(), int64_t(0));
  const int64_t qd = c.heads * c.head_dim, kvd = c.kv_heads * c.head_dim;
  std::vector<float> q(static_cast<size_t>(N * qd)), att(static_cast<size_t>(N * qd));
  linear(w.q, h, N, q.data());
  std::vector<int64_t> offsets(rows.size());
  for (size_t i = 0, off = 0; i < rows.size(); ++i) { offsets[i] = int64_t(off); off += size_t(counts[i]); }
  if (!cross) {
    std::vector<float> k(static_cast<size_t>(N * kvd)), v(static_cast<size_t>(N * kvd));
    linear(w.k, h, N, k.data());
    linear(w.v, h, N, v.data());
    if (c.position == "rotary") {
      std::vector<int64_t> pos(static_cast<size_t>(N));
      for (size_t i = 0; i < rows.size(); ++i)
        for (int64_t j = 0; j < counts[i]; ++j) pos[size_t(offsets[i] + j)] = starts[i] + j;
      rotary(q.data(), N, c.heads, c.head_dim, c.rotary_dim, pos.data(), c.rotary_base);
      rotary(k.data(), N, c.kv_heads, c.head_dim, c.rotary_dim, pos.data(), c.rotary_base);
    }
    for (size_t i = 0; i < rows.size(); ++i) {
      std::copy(k.begin() + offsets[i] * kvd, k.begin() + (offsets[i] + counts[i]) * kvd, s.k_at(layer, rows[i]) + starts[i] * kvd);
      float* vc = s.v_at(layer, rows[i]) + starts[i] * kvd;
      const float* vi = v.data() + offsets[i] * kvd;
      if (c.value_residual && layer > 0) {  // layer 0 cached its own values for these positions already
        const float* v0 = s.v_at(0, rows[i]) + starts[i] * kvd;
        for (int64_t e = 0; e < counts[i] * kvd; ++e) vc[e] = 0.5f * (vi[e] + v0[e]);
      } else {
        std::copy(vi, vi + counts[i] * kvd, vc);
      }
    }
  }
  AttentionShape shape;
  shape.heads = c.heads;
  shape.kv_heads = c.kv_heads;
  shape.head_dim = c.head_dim;
  shape.scale = c.attn_scale;
  shape.causal = cross ? false : c.causal;
  const bool use_rel = !cross && !s.rel_.empty();
  const int64_t rel_len = 2 * s.capacity_ - 1;
  const int64_t tasks = int64_t(rows.size()) * c.heads;
  parallel_for(tasks, 1, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      size_t i = size_t(t / c.heads);
      int64_t head = t % c.heads, row = rows[i];
      const float* qi = q.data() + offsets[i] * qd;
      float* oi = att.data() + offsets[i] * qd;
      if (cross) {
        const auto& ck = s.ctx_k_[size_t(layer * s.batch_ + row)];
        const auto& cv = s.ctx_v_[size_t(layer * s.batch_ + row)];
        attention_head(shape, qi, counts[i], 0, ck.data(), cv.data(), s.ctx_len_[size_t(row)], kvd, nullptr, 0, 0, head, oi);
      } else {
        SegmentBias seg;
        if (c.segment_bias) {
          seg.key = s.seg_.data() + row * s.capacity_;
          seg.query = seg.key + starts[i];
          seg.cross = segment_bias_.data();
        }
        attention_head(shape, qi, counts[i], starts[i], s.k_at(layer, row), s.v_at(layer, row), starts[i] + counts[i], kvd,
                       use_rel ? s.rel_.data() : nullptr, use_rel ? rel_len : 0, use_rel ? s.capacity_ - 1 : 0, head, oi,
                       c.segment_bias ? &seg : nullptr);
      }
    }
  });
  linear(w.o, att.data(), N, out);
}

void TransformerModel::forward(TransformerSession& s, const std::vector<int64_t>& rows, const std::vector<int64_t>& counts,
                               const int32_t* tokens, float* x) const {
  const TransformerConfig& c = cfg_;
  const int64_t D = c.dim, N = std::accumulate(counts.begin(), counts.end(), int64_t(0));
  std::vector<int64_t> starts(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    starts[i] = s.len_[size_t(rows[i])];
    ALM_CHECK_ARG(starts[i] + counts[i] <= s.capacity_, "row ", rows[i], " needs ", starts[i] + counts[i],
                  " positions but the session holds ", s.capacity_);
  }
  if (c.segment_bias) {  // the segments of the new positions, beside their keys and values
    for (size_t i = 0, off = 0; i < rows.size(); off += size_t(counts[i]), ++i)
      for (int64_t j = 0; j < counts[i]; ++j)
        s.seg_[size_t(rows[i] * s.capacity_ + starts[i] + j)] = token_segment_[size_t(tokens[off + size_t(j)])];
  }
  std::vector<float> h(static_cast<size_t>(N * D)), tmp(static_cast<size_t>(N * D));
  const int64_t up_rows = c.ff == "geglu" ? 2 * c.ff_dim : c.ff_dim;
  std::vector<float> u(static_cast<size_t>(N * up_rows)), g(c.ff == "geglu" ? size_t(N * c.ff_dim) : 0);

  auto residual = [&](const Norm& n) {
    if (c.prenorm) {
      for (int64_t i = 0; i < N * D; ++i) x[i] += tmp[size_t(i)];
    } else {
      for (int64_t i = 0; i < N * D; ++i) tmp[size_t(i)] += x[i];
      apply_norm(n, tmp.data(), N, D, x);
    }
  };
  auto normed = [&](const Norm& n) -> const float* {
    if (!c.prenorm) return x;
    apply_norm(n, x, N, D, h.data());
    return h.data();
  };

  for (int64_t l = 0; l < c.layers; ++l) {
    const Block& b = blocks_[size_t(l)];
    attention_sublayer(s, b.self, false, l, rows, counts, starts, normed(b.self.norm), tmp.data());
    residual(b.self.norm);
    if (b.has_cross) {
      for (auto r : rows)
        ALM_CHECK_ARG(s.ctx_len_[size_t(r)] > 0, "row ", r, " has no cross-attention context");
      attention_sublayer(s, b.cross, true, l, rows, counts, starts, normed(b.cross.norm), tmp.data());
      residual(b.cross.norm);
    }
    const float* hin = normed(b.ff_norm);
    linear(b.up, hin, N, u.data());
    float* act_out = u.data();
    if (c.ff == "geglu") {
      const int64_t F = c.ff_dim;
      for (int64_t i = 0; i < N; ++i) std::copy(u.data() + i * 2 * F + F, u.data() + (i + 1) * 2 * F, g.data() + i * F);
      gelu(g.data(), N * F);
      for (int64_t i = 0; i < N; ++i)
        for (int64_t j = 0; j < F; ++j) g[size_t(i * F + j)] *= u[size_t(i * 2 * F + j)];
      act_out = g.data();
    } else if (c.ff == "gelu") {
      gelu(u.data(), N * up_rows);
    } else if (c.ff == "gelu_tanh") {
      gelu_tanh(u.data(), N * up_rows);
    } else {
      for (auto& v : u) v = v > 0 ? v : 0;
    }
    if (c.ff_inner_norm)
      layer_norm(act_out, N, c.ff_dim, b.ff_inner_norm.w.data(), b.ff_inner_norm.b.data(), c.norm_eps, act_out);
    linear(b.down, act_out, N, tmp.data());
    residual(b.ff_norm);
  }
  if (c.final_norm) apply_norm(final_norm_, x, N, D, x);
  for (size_t i = 0; i < rows.size(); ++i) s.len_[size_t(rows[i])] += counts[i];
}

void TransformerModel::head(const float* hidden, int64_t n, int64_t h, float* logits) const {
  ALM_CHECK_ARG(h >= 0 && h < cfg_.output_heads, "output head ", h, " does not exist (the model has ", cfg_.output_heads, ")");
  linear(heads_[size_t(h)], hidden, n, logits);
}

void TransformerModel::encode_context(TransformerSession& s, int64_t row, const float* ctx, int64_t tc) const {
  const int64_t kvd = cfg_.kv_heads * cfg_.head_dim;
  for (int64_t l = 0; l < cfg_.layers; ++l) {
    const Block& b = blocks_[size_t(l)];
    auto& k = s.ctx_k_[size_t(l * s.batch_ + row)];
    auto& v = s.ctx_v_[size_t(l * s.batch_ + row)];
    k.assign(size_t(tc * kvd), 0.f);
    v.assign(size_t(tc * kvd), 0.f);
    linear(b.cross.k, ctx, tc, k.data());
    linear(b.cross.v, ctx, tc, v.data());
  }
  s.ctx_len_[size_t(row)] = tc;
}

}  // namespace alm
