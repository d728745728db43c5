// The device layer: memory that belongs to a backend, and the ops the models are built from.
//
// Models hold their weights, caches and activations as Buffers of one Backend and only ever call
// its transfers and ops; they never include native/cpu or native/cuda and never read a buffer's
// memory themselves. Small host-side facts an op needs (token ids, positions, row offsets) are
// passed as host arrays; a device backend copies them over itself.
//
// Backends: "cpu" (native/cpu kernels; weights stay where the loader put them, no copy),
// "strict" (the same kernels over memory that host code cannot reach: a test backend that proves
// every transfer is explicit) and "cuda" (native/cuda's kernels, native/cuda/backend.cu).
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/dtype.h"
#include "core/ops.h"
#include "core/sampling.h"
#include "core/tensor.h"

namespace alm {

class Backend;

// Memory owned by one backend. Its handle means something to that backend only.
class DeviceBuffer {
 public:
  DeviceBuffer(Backend* owner, void* handle, size_t bytes, std::shared_ptr<void> keep = {})
      : owner_(owner), handle_(handle), bytes_(bytes), keep_(std::move(keep)) {}
  ~DeviceBuffer();
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  size_t bytes() const { return bytes_; }
  Backend& backend() const { return *owner_; }
  // For the owning backend only.
  void* handle() const { return handle_; }
  // Adopted memory (kept alive by `keep`, not freed by the backend).
  bool adopted() const { return keep_ != nullptr; }

 private:
  Backend* owner_;
  void* handle_;
  size_t bytes_;
  std::shared_ptr<void> keep_;
};
using Buffer = std::shared_ptr<DeviceBuffer>;

// A place in a buffer: the buffer and a byte offset. at() steps in f32 elements.
struct Span {
  DeviceBuffer* buf = nullptr;
  size_t off = 0;
  Span() = default;
  Span(const Buffer& b, size_t byte_offset = 0) : buf(b.get()), off(byte_offset) {}
  Span(DeviceBuffer* b, size_t byte_offset) : buf(b), off(byte_offset) {}
  explicit operator bool() const { return buf != nullptr; }
  Span at(int64_t floats) const { return {buf, off + size_t(floats) * 4}; }
  Span bytes_at(int64_t n) const { return {buf, off + size_t(n)}; }
};

// A weight: a buffer in its stored dtype and its shape. Undefined when absent (an optional bias).
struct Weight {
  Buffer buf;
  DType dtype = DType::F32;
  Shape shape;
  bool defined() const { return buf != nullptr; }
  Span span() const { return Span(buf); }
};

// y = x · wᵀ + b: w [out, in], b [out] or undefined.
struct Linear {
  Weight w, b;
  int64_t out = 0, in = 0;
};

enum class NormKind { Layer, Rms };
enum class Activation { Gelu, GeluTanh, Relu, Elu, LogFloor };  // LogFloor: log(max(x, alpha))

// One layer of an LSTM (torch.nn.LSTM's gate order i, f, g, o): w_ih [4H, I], w_hh [4H, H], biases
// [4H] or undefined.
struct LstmLayer {
  Weight w_ih, w_hh, b_ih, b_hh;
  int64_t input_size = 0, hidden_size = 0;
};

// Residual vector quantiser codebooks: `embed` [levels] of [codebook_size, dim], and norms
// [levels, codebook_size] (||e||², made once by Backend::rvq_norms).
struct Codebooks {
  std::vector<Weight> embed;
  Buffer norms;
  int64_t codebook_size = 0, dim = 0;
};

// One batch row of a ragged attention call: queries [q_row, q_row + tq) of q and out, sitting at
// absolute positions q_pos0.., against keys [0, tk) of k and v (kv_stride f32 between positions).
struct AttentionRow {
  int64_t q_row = 0, tq = 0, q_pos0 = 0;
  Span k, v;
  int64_t tk = 0, kv_stride = 0;
  Span segments;  // [tk] uint8 segment of each key (the queries' are at q_pos0..), or none
};
// Score bias shared by the rows: rel [heads, rel_len] indexed by (key - query) + rel_offset, and
// with segments, cross [heads] between positions of different segments (see cpu/attention.h).
struct AttentionBias {
  Span rel;
  int64_t rel_len = 0, rel_offset = 0;
  Span cross;
};

// One token to pick from row `row` of a [rows, V] logits buffer, with u = rng_uniform(seed,
// counter) (the same draw on every backend); with guide >= 0 the logits are
// l_row + scale·(l_row − l_guide) (classifier-free guidance).
struct SampleJob {
  int64_t row = 0;
  int64_t guide = -1;
  float scale = 0.f;
  SampleParams params;
  const TokenRange* range = nullptr;
  uint64_t seed = 0, counter = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual const char* name() const = 0;

  // ---- memory and transfers (bytes; spans must lie inside their buffers) ----
  // Uninitialised memory.
  virtual Buffer alloc(size_t bytes) = 0;
  Buffer alloc_f32(int64_t n) { return alloc(size_t(n) * 4); }
  // A weight from an f32 host tensor: copied into a new buffer (the CPU backend keeps the
  // tensor's own memory instead).
  virtual Weight weight(const Tensor& host) {
    Weight w;
    w.shape = host.shape();
    w.buf = alloc(size_t(host.numel()) * 4);
    upload(w.span(), host.data(), size_t(host.numel()) * 4);
    return w;
  }
  virtual void upload(Span dst, const void* src, size_t bytes) = 0;
  virtual void download(void* dst, Span src, size_t bytes) = 0;
  virtual void copy(Span dst, Span src, size_t bytes) = 0;
  virtual void fill(Span dst, float value, int64_t n) = 0;
  // Helpers over the transfers.
  std::vector<float> download_f32(Span src, int64_t n) {
    std::vector<float> out(static_cast<size_t>(n));
    download(out.data(), src, size_t(n) * 4);
    return out;
  }
  Buffer upload_f32(const float* src, int64_t n) {
    Buffer b = alloc_f32(n);
    upload(Span(b), src, size_t(n) * 4);
    return b;
  }

  // ---- ops (f32 activations) ----
  // y[n, L.out] = x[n, L.in] · L.wᵀ + L.b, or with `accumulate` y += the same (y holds a residual).
  virtual void linear(Span x, int64_t n, const Linear& L, Span y, bool accumulate) = 0;
  // C[M, N] = A[M, K] · op(B) (op(B) = B [K, N], or Bᵀ for B [N, K] with trans_b), row-major with
  // leading dimensions; C's old contents are not read.
  virtual void matmul(bool trans_b, int64_t M, int64_t N, int64_t K, Span A, int64_t lda, Span B, int64_t ldb, Span C,
                      int64_t ldc) = 0;
  // Row-wise normalisation of x [rows, dim] into y (may alias x); b may be undefined.
  virtual void norm(NormKind kind, Span x, int64_t rows, int64_t dim, const Weight& w, const Weight& b, float eps, Span y) = 0;
  // In place on n values; alpha is ELU's, or LogFloor's floor (the others ignore it).
  virtual void activate(Activation a, Span x, int64_t n, float alpha) = 0;
  // g[rows, F] = gelu(u[:, F:2F]) * u[:, :F] for u [rows, 2F].
  virtual void geglu(Span u, int64_t rows, int64_t F, Span g) = 0;
  // y = a·y + b·x over n values (a residual add is a = b = 1).
  virtual void axpby(Span y, Span x, int64_t n, float a, float b) = 0;
  // x[i] = Σ_c tables[c][tokens[i·C + c]] (+ pos[positions[i]]) for i < n, C = tables.size();
  // with C > 1 a token of -1 means "codebook not given". Ids were checked by the caller.
  virtual void embed(const std::vector<const Weight*>& tables, const Weight* pos, const int32_t* tokens,
                     const int64_t* positions, int64_t n, int64_t dim, Span x) = 0;
  // GPT-NeoX rotary embedding in place on x [T, nheads, head_dim] at host positions[T].
  virtual void rotary(Span x, int64_t T, int64_t nheads, int64_t head_dim, int64_t rot_dim, const int64_t* positions,
                      float base) = 0;
  // q, out: [Σtq, heads, head_dim]; each row attends to its own keys (see AttentionRow).
  virtual void attention(const AttentionShape& shape, Span q, const std::vector<AttentionRow>& rows, const AttentionBias& bias,
                         Span out) = 0;
  // dst[i] = src[rows[i]] for rows of `width` f32.
  virtual void gather_rows(Span src, int64_t width, const std::vector<int64_t>& rows, Span dst) = 0;
  // dst[rows[i]] = src[i].
  virtual void scatter_rows(Span src, int64_t width, const std::vector<int64_t>& rows, Span dst) = 0;
  // tokens[j] = the token job j picks (only the chosen tokens come back to the host).
  virtual void sample(Span logits, int64_t V, const std::vector<SampleJob>& jobs, int32_t* tokens) = 0;

  // ---- signals [channels, time] (the codec's and HuBERT's) ----
  // A block copy: `rows` rows of `cols` f32, src rows src_pitch apart into dst rows dst_pitch apart.
  virtual void copy_rows(Span dst, int64_t dst_pitch, Span src, int64_t src_pitch, int64_t rows, int64_t cols) = 0;
  // y [cols, rows] = x [rows, cols]ᵀ.
  virtual void transpose(Span x, int64_t rows, int64_t cols, Span y) = 0;
  // x[r, t] = (x[r, t] − sub[r]) · mul[r] + add[r] for x [rows, width], with host sub, mul, add.
  virtual void affine_rows(Span x, int64_t rows, int64_t width, const std::vector<float>& sub, const std::vector<float>& mul,
                           const std::vector<float>& add) = 0;
  // power [F, B] = re² + im² of spec [F, 2B] (each row: B real parts, then B imaginary parts).
  virtual void power_spectrum(Span spec, int64_t F, int64_t B, Span power) = 0;
  // y [C, left + len + right] = x [C, len] padded (reflect needs left and right below len).
  virtual void pad(Span x, int64_t channels, int64_t len, int64_t left, int64_t right, PadMode mode, Span y) = 0;
  // y [Cout, conv1d_out_len] = conv(x [Cin, in_len] already padded, w [Cout, Cin/groups, K]) + b.
  virtual void conv1d(const Conv1dShape& shape, Span x, int64_t in_len, const Weight& w, const Weight& b, Span y) = 0;
  // y [Cout, conv_transpose1d_out_len] for w in torch's ConvTranspose1d layout [Cin, Cout/groups, K].
  virtual void conv_transpose1d(const Conv1dShape& shape, Span x, int64_t in_len, const Weight& w, const Weight& b,
                                Span y) = 0;
  // GroupNorm of one item's [C, T] (groups runs of C / groups channels; w, b per channel or
  // undefined). y may alias x.
  virtual void group_norm(Span x, int64_t channels, int64_t T, int64_t groups, const Weight& w, const Weight& b, float eps,
                          Span y) = 0;
  // y [T, B, H_last] for x [T, B, I] through the stacked layers (zero initial state).
  virtual void lstm(const std::vector<LstmLayer>& layers, Span x, int64_t T, int64_t B, Span y) = 0;
  // cb.norms for cb.embed.
  virtual void rvq_norms(Codebooks& cb) = 0;
  // codes [levels, T] (host) for x [T, dim]: per level the nearest code, then its residual.
  virtual void rvq_encode(const Codebooks& cb, int64_t levels, Span x, int64_t T, int32_t* codes) = 0;
  // y [T, dim] = Σ levels of the host codes' vectors (a code out of range is an error naming it).
  virtual void rvq_decode(const Codebooks& cb, int64_t levels, const int32_t* codes, int64_t T, Span y) = 0;

 protected:
  friend class DeviceBuffer;
  virtual void release(DeviceBuffer& b) noexcept = 0;
};

inline DeviceBuffer::~DeviceBuffer() {
  if (!keep_) owner_->release(*this);
}

// The CPU backend (one per process).
Backend& cpu_backend();
// The strict test backend (one per process): see native/cpu/strict_backend.cpp.
Backend& strict_backend();
// The CUDA backend of GPU `device` (one per GPU); ERR_AUDIOLM_UNSUPPORTED, saying why, where there
// is no usable GPU or the build has no CUDA.
Backend& cuda_backend(int device);
// "cpu", "strict", "cuda" or "cuda:N". "cpu" means the backend AUDIOLM_BACKEND names when that is
// set (strict, cuda, cuda:N), so that whole test suites run on another backend unchanged.
// Unknown names are ERR_AUDIOLM_UNSUPPORTED.
Backend& backend_named(const std::string& name);

}  // namespace alm
