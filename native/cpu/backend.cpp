#include "cpu/backend.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>

#include "core/error.h"
#include "core/threadpool.h"
#include "cpu/act.h"
#include "cpu/attention.h"
#include "cpu/conv.h"
#include "cpu/gemm.h"
#include "cpu/gemv.h"
#include "cpu/lstm.h"
#include "cpu/norm.h"
#include "cpu/sample.h"

namespace alm {

// ---- scope ----

void* CpuBackend::Scope::ptr(Span s) {
  ALM_CHECK_ARG(s.buf != nullptr, "backend op: missing buffer");
  ALM_CHECK_ARG(&s.buf->backend() == &be_, "backend op: a buffer of the ", s.buf->backend().name(), " backend was given to the ",
                be_.name(), " backend");
  ALM_CHECK_ARG(s.off <= s.buf->bytes(), "backend op: offset ", s.off, " is past the end of a buffer of ", s.buf->bytes(), " bytes");
  // Adopted memory (a CPU weight kept where the loader put it) is addressed by its handle.
  void* base = s.buf->adopted() ? s.buf->handle() : be_.address(s.buf->handle());
  return static_cast<char*>(base) + s.off;
}

// ---- memory ----

void* CpuBackend::allocate(size_t bytes) {
  void* p = std::malloc(bytes ? bytes : 1);
  if (!p) fail(ErrorKind::OutOfMemory, "cannot allocate ", bytes, " bytes");
  return p;
}

void CpuBackend::deallocate(void* p, size_t) noexcept { std::free(p); }

Buffer CpuBackend::alloc(size_t bytes) { return std::make_shared<DeviceBuffer>(this, allocate(bytes), bytes); }

void CpuBackend::release(DeviceBuffer& b) noexcept { deallocate(b.handle(), b.bytes()); }

Weight CpuBackend::weight(const Tensor& host) {
  Weight w;
  w.shape = host.shape();
  const size_t bytes = size_t(host.numel()) * 4;
  // The tensor's memory (an mmapped file or the loader's widened copy) is kept, not copied.
  auto keep = std::make_shared<Tensor>(host);
  w.buf = std::make_shared<DeviceBuffer>(this, const_cast<float*>(host.data()), bytes, std::static_pointer_cast<void>(keep));
  return w;
}

void CpuBackend::upload(Span dst, const void* src, size_t bytes) {
  Scope s(*this);
  ALM_CHECK_ARG(dst.off + bytes <= dst.buf->bytes(), "upload of ", bytes, " bytes overruns its buffer");
  std::memcpy(s.ptr(dst), src, bytes);
}

void CpuBackend::download(void* dst, Span src, size_t bytes) {
  Scope s(*this);
  ALM_CHECK_ARG(src.off + bytes <= src.buf->bytes(), "download of ", bytes, " bytes overruns its buffer");
  std::memcpy(dst, s.ptr(src), bytes);
}

void CpuBackend::copy(Span dst, Span src, size_t bytes) {
  Scope s(*this);
  ALM_CHECK_ARG(dst.off + bytes <= dst.buf->bytes() && src.off + bytes <= src.buf->bytes(), "copy of ", bytes,
                " bytes overruns a buffer");
  std::memmove(s.ptr(dst), s.ptr(src), bytes);
}

void CpuBackend::fill(Span dst, float value, int64_t n) {
  Scope s(*this);
  float* p = s.f32(dst);
  std::fill(p, p + n, value);
}

// ---- ops ----

void CpuBackend::linear(Span x, int64_t n, const Linear& L, Span y, bool accumulate) {
  Scope s(*this);
  const float *xp = s.f32(x), *w = s.f32(L.w);
  float* yp = s.f32(y);
  if (accumulate) {
    // The bias joins the residual first, so the whole sum is one GEMM with beta = 1.
    if (L.b.defined()) {
      const float* b = s.f32(L.b);
      for (int64_t r = 0; r < n; ++r)
        for (int64_t j = 0; j < L.out; ++j) yp[r * L.out + j] += b[j];
    }
    gemm(false, true, n, L.out, L.in, 1.f, xp, L.in, w, L.in, 1.f, yp, L.out);
    return;
  }
  // Decode steps have a handful of rows: read each weight row once instead of packing W.
  if (gemv_preferred(n)) gemv_rows(n, L.out, L.in, xp, L.in, w, L.in, yp, L.out);
  else gemm(false, true, n, L.out, L.in, 1.f, xp, L.in, w, L.in, 0.f, yp, L.out);
  if (L.b.defined()) {
    const float* b = s.f32(L.b);
    parallel_for(n, 64, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r)
        for (int64_t j = 0; j < L.out; ++j) yp[r * L.out + j] += b[j];
    });
  }
}

void CpuBackend::matmul(bool trans_b, int64_t M, int64_t N, int64_t K, Span A, int64_t lda, Span B, int64_t ldb, Span C,
                        int64_t ldc) {
  Scope s(*this);
  gemm(false, trans_b, M, N, K, 1.f, s.f32(A), lda, s.f32(B), ldb, 0.f, s.f32(C), ldc);
}

void CpuBackend::power_spectrum(Span spec, int64_t F, int64_t B, Span power) {
  Scope s(*this);
  const float* sp = s.f32(spec);
  float* pp = s.f32(power);
  for (int64_t t = 0; t < F; ++t)
    for (int64_t k = 0; k < B; ++k) {
      const float re = sp[t * 2 * B + k], im = sp[t * 2 * B + B + k];
      pp[t * B + k] = re * re + im * im;
    }
}

void CpuBackend::norm(NormKind kind, Span x, int64_t rows, int64_t dim, const Weight& w, const Weight& b, float eps, Span y) {
  Scope s(*this);
  if (kind == NormKind::Rms) rms_norm(s.f32(x), rows, dim, s.f32(w), eps, s.f32(y));
  else layer_norm(s.f32(x), rows, dim, s.f32(w), s.f32(b), eps, s.f32(y));
}

void CpuBackend::activate(Activation a, Span x, int64_t n, float alpha) {
  Scope s(*this);
  float* p = s.f32(x);
  switch (a) {
    case Activation::Gelu: gelu(p, n); break;
    case Activation::GeluTanh: gelu_tanh(p, n); break;
    case Activation::Relu:
      for (int64_t i = 0; i < n; ++i) p[i] = p[i] > 0 ? p[i] : 0;
      break;
    case Activation::Elu: elu(p, n, alpha); break;
    case Activation::LogFloor:
      for (int64_t i = 0; i < n; ++i) p[i] = std::log(std::max(p[i], alpha));
      break;
  }
}

void CpuBackend::geglu(Span u, int64_t rows, int64_t F, Span g) {
  Scope s(*this);
  const float* up = s.f32(u);
  float* gp = s.f32(g);
  for (int64_t i = 0; i < rows; ++i) std::copy(up + i * 2 * F + F, up + (i + 1) * 2 * F, gp + i * F);
  gelu(gp, rows * F);
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < F; ++j) gp[i * F + j] *= up[i * 2 * F + j];
}

void CpuBackend::axpby(Span y, Span x, int64_t n, float a, float b) {
  Scope s(*this);
  float* yp = s.f32(y);
  const float* xp = s.f32(x);
  if (a == 1.f && b == 1.f) {
    for (int64_t i = 0; i < n; ++i) yp[i] += xp[i];
  } else {
    for (int64_t i = 0; i < n; ++i) yp[i] = a * yp[i] + b * xp[i];
  }
}

void CpuBackend::embed(const std::vector<const Weight*>& tables, const Weight* pos, const int32_t* tokens,
                       const int64_t* positions, int64_t n, int64_t dim, Span x) {
  Scope s(*this);
  const int64_t C = int64_t(tables.size());
  std::vector<const float*> tab(tables.size());
  for (size_t c = 0; c < tables.size(); ++c) tab[c] = s.f32(*tables[c]);
  const float* pe = pos ? s.f32(*pos) : nullptr;
  float* xp = s.f32(x);
  for (int64_t i = 0; i < n; ++i) {
    float* xi = xp + i * dim;
    std::fill(xi, xi + dim, 0.f);
    for (int64_t c = 0; c < C; ++c) {
      const int32_t t = tokens[i * C + c];
      if (t < 0) continue;  // codebook not given (the caller checked ids)
      const float* e = tab[size_t(c)] + int64_t(t) * dim;
      for (int64_t d = 0; d < dim; ++d) xi[d] += e[d];
    }
    if (pe) {
      const float* p = pe + positions[i] * dim;
      for (int64_t d = 0; d < dim; ++d) xi[d] += p[d];
    }
  }
}

void CpuBackend::rotary(Span x, int64_t T, int64_t nheads, int64_t head_dim, int64_t rot_dim, const int64_t* positions,
                        float base) {
  Scope s(*this);
  alm::rotary(s.f32(x), T, nheads, head_dim, rot_dim, positions, base);
}

void CpuBackend::attention(const AttentionShape& shape, Span q, const std::vector<AttentionRow>& rows, const AttentionBias& bias,
                           Span out) {
  Scope s(*this);
  const int64_t qd = shape.heads * shape.head_dim;
  const float* qp = s.f32(q);
  float* op = s.f32(out);
  const float* rel = bias.rel ? s.f32(bias.rel) : nullptr;
  const float* cross = bias.cross ? s.f32(bias.cross) : nullptr;
  // Addresses are taken here, once per row, not per (row, head) task.
  struct Row { const float *k, *v; const uint8_t* seg; };
  std::vector<Row> rp(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    rp[i].k = s.f32(rows[i].k);
    rp[i].v = s.f32(rows[i].v);
    rp[i].seg = rows[i].segments ? static_cast<const uint8_t*>(s.ptr(rows[i].segments)) : nullptr;
  }
  const int64_t tasks = int64_t(rows.size()) * shape.heads;
  parallel_for(tasks, 1, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const size_t i = size_t(t / shape.heads);
      const int64_t head = t % shape.heads;
      const AttentionRow& r = rows[i];
      SegmentBias seg;
      if (rp[i].seg) {
        seg.key = rp[i].seg;
        seg.query = rp[i].seg + r.q_pos0;
        seg.cross = cross;
      }
      attention_head(shape, qp + r.q_row * qd, r.tq, r.q_pos0, rp[i].k, rp[i].v, r.tk, r.kv_stride, rel, rel ? bias.rel_len : 0,
                     rel ? bias.rel_offset : 0, head, op + r.q_row * qd, rp[i].seg ? &seg : nullptr);
    }
  });
}

void CpuBackend::gather_rows(Span src, int64_t width, const std::vector<int64_t>& rows, Span dst) {
  Scope s(*this);
  const float* sp = s.f32(src);
  float* dp = s.f32(dst);
  for (size_t i = 0; i < rows.size(); ++i) std::copy(sp + rows[i] * width, sp + (rows[i] + 1) * width, dp + int64_t(i) * width);
}

void CpuBackend::scatter_rows(Span src, int64_t width, const std::vector<int64_t>& rows, Span dst) {
  Scope s(*this);
  const float* sp = s.f32(src);
  float* dp = s.f32(dst);
  for (size_t i = 0; i < rows.size(); ++i) std::copy(sp + int64_t(i) * width, sp + int64_t(i + 1) * width, dp + rows[i] * width);
}

void CpuBackend::sample(Span logits, int64_t V, const std::vector<SampleJob>& jobs, int32_t* tokens) {
  Scope s(*this);
  const float* lp = s.f32(logits);
  parallel_for(int64_t(jobs.size()), 8, [&](int64_t j0, int64_t j1) {
    std::vector<float> scratch, mixed;
    for (int64_t j = j0; j < j1; ++j) {
      const SampleJob& job = jobs[size_t(j)];
      const float* l = lp + job.row * V;
      if (job.guide >= 0) {
        // (1 + s)·l_r − s·l_g, in a buffer of its own (sample_token's scratch is separate)
        mixed.resize(size_t(V));
        const float* lg = lp + job.guide * V;
        for (int64_t v = 0; v < V; ++v) mixed[size_t(v)] = l[v] + job.scale * (l[v] - lg[v]);
        l = mixed.data();
      }
      tokens[j] = sample_token(l, V, job.params, job.range, rng_uniform(job.seed, job.counter), scratch);
    }
  });
}

// ---- signals ----

void CpuBackend::copy_rows(Span dst, int64_t dst_pitch, Span src, int64_t src_pitch, int64_t rows, int64_t cols) {
  Scope s(*this);
  float* d = s.f32(dst);
  const float* x = s.f32(src);
  for (int64_t r = 0; r < rows; ++r) std::memmove(d + r * dst_pitch, x + r * src_pitch, size_t(cols) * 4);
}

void CpuBackend::transpose(Span x, int64_t rows, int64_t cols, Span y) {
  Scope s(*this);
  const float* xp = s.f32(x);
  float* yp = s.f32(y);
  constexpr int64_t kTile = 32;  // tiles of both layouts stay in L1
  parallel_for((rows + kTile - 1) / kTile, 4, [&](int64_t b0, int64_t b1) {
    for (int64_t r0 = b0 * kTile; r0 < std::min(rows, b1 * kTile); r0 += kTile)
      for (int64_t c0 = 0; c0 < cols; c0 += kTile)
        for (int64_t r = r0; r < std::min(rows, r0 + kTile); ++r)
          for (int64_t c = c0; c < std::min(cols, c0 + kTile); ++c) yp[c * rows + r] = xp[r * cols + c];
  });
}

void CpuBackend::affine_rows(Span x, int64_t rows, int64_t width, const std::vector<float>& sub, const std::vector<float>& mul,
                             const std::vector<float>& add) {
  Scope s(*this);
  float* xp = s.f32(x);
  parallel_for(rows, 1, [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float m = sub[size_t(r)], sc = mul[size_t(r)], o = add[size_t(r)];
      float* xr = xp + r * width;
      for (int64_t t = 0; t < width; ++t) xr[t] = (xr[t] - m) * sc + o;
    }
  });
}

void CpuBackend::pad(Span x, int64_t channels, int64_t len, int64_t left, int64_t right, PadMode mode, Span y) {
  Scope s(*this);
  pad1d(s.f32(x), channels, len, left, right, mode, s.f32(y));
}

void CpuBackend::conv1d(const Conv1dShape& shape, Span x, int64_t in_len, const Weight& w, const Weight& b, Span y) {
  Scope s(*this);
  alm::conv1d(shape, s.f32(x), in_len, s.f32(w), s.f32(b), s.f32(y));
}

void CpuBackend::conv_transpose1d(const Conv1dShape& shape, Span x, int64_t in_len, const Weight& w, const Weight& b, Span y) {
  Scope s(*this);
  alm::conv_transpose1d(shape, s.f32(x), in_len, s.f32(w), s.f32(b), s.f32(y));
}

void CpuBackend::group_norm(Span x, int64_t channels, int64_t T, int64_t groups, const Weight& w, const Weight& b, float eps,
                            Span y) {
  Scope s(*this);
  alm::group_norm(s.f32(x), channels, T, groups, s.f32(w), s.f32(b), eps, s.f32(y));
}

void CpuBackend::lstm(const std::vector<LstmLayer>& layers, Span x, int64_t T, int64_t B, Span y) {
  Scope s(*this);
  std::vector<LstmLayerWeights> lw(layers.size());
  for (size_t i = 0; i < layers.size(); ++i) {
    lw[i].input_size = layers[i].input_size;
    lw[i].hidden_size = layers[i].hidden_size;
    lw[i].w_ih = s.f32(layers[i].w_ih);
    lw[i].w_hh = s.f32(layers[i].w_hh);
    lw[i].b_ih = s.f32(layers[i].b_ih);
    lw[i].b_hh = s.f32(layers[i].b_hh);
  }
  alm::lstm(lw, s.f32(x), T, B, s.f32(y));
}

RvqCodebooks CpuBackend::rvq_view(Scope& s, const Codebooks& cb, bool with_norms) {
  RvqCodebooks v;
  v.num_levels = int64_t(cb.embed.size());
  v.codebook_size = cb.codebook_size;
  v.dim = cb.dim;
  for (const Weight& e : cb.embed) v.embed.push_back(s.f32(e));
  if (with_norms && cb.norms) {
    const float* n = s.f32(Span(cb.norms));
    v.code_norms.assign(n, n + v.num_levels * v.codebook_size);
  }
  return v;
}

void CpuBackend::rvq_norms(Codebooks& cb) {
  Scope s(*this);
  RvqCodebooks v = rvq_view(s, cb, false);
  rvq_cache_norms(v);
  cb.norms = alloc(v.code_norms.size() * 4);
  std::memcpy(s.ptr(Span(cb.norms)), v.code_norms.data(), v.code_norms.size() * 4);
}

void CpuBackend::rvq_encode(const Codebooks& cb, int64_t levels, Span x, int64_t T, int32_t* codes) {
  Scope s(*this);
  alm::rvq_encode(rvq_view(s, cb, true), levels, s.f32(x), T, codes);
}

void CpuBackend::rvq_decode(const Codebooks& cb, int64_t levels, const int32_t* codes, int64_t T, Span y) {
  Scope s(*this);
  alm::rvq_decode(rvq_view(s, cb, false), levels, codes, T, s.f32(y));
}

// ---- the process's backends ----

Backend& cpu_backend() {
  static CpuBackend be;
  return be;
}

Backend& backend_named(const std::string& name) {
  if (name == "cpu") {
    const char* over = std::getenv("AUDIOLM_BACKEND");
    return over && *over && std::strcmp(over, "cpu") != 0 ? backend_named(over) : cpu_backend();
  }
  if (name == "strict") return strict_backend();
  if (name == "cuda") return cuda_backend(0);
  if (name.rfind("cuda:", 0) == 0 && name.size() > 5 && name.size() < 9 &&
      name.find_first_not_of("0123456789", 5) == std::string::npos)
    return cuda_backend(std::stoi(name.substr(5)));
  fail(ErrorKind::Unsupported, "backend '", name, "' is not available (backends: cpu, strict, cuda, cuda:N)");
}

}  // namespace alm
