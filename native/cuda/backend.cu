// The CUDA backend: core/backend.h's ops on native/cuda's kernels, one instance per GPU.
//
// Every op runs on the backend's own stream (bound to the calling thread for the op's duration),
// so work queued from different libuv threads stays in order without host synchronisation, and
// buffers come from the stream-ordered allocator (cudaMallocAsync / cudaFreeAsync on that stream),
// so the many small activations of a decode step cost no device-wide synchronisation. Host
// arrays an op needs (token ids, positions, row lists, descriptors) are copied over on the same
// stream; downloads and sampled tokens synchronise it. Weights arrive in f32 for now.
#include <algorithm>
#include <cstring>
#include <map>
#include <mutex>

#include "core/backend.h"
#include "core/device.h"
#include "cuda/act.cuh"
#include "cuda/attention.cuh"
#include "cuda/common.cuh"
#include "cuda/conv.cuh"
#include "cuda/gemm.cuh"
#include "cuda/gemv.cuh"
#include "cuda/lstm.cuh"
#include "cuda/norm.cuh"
#include "cuda/rvq.cuh"
#include "cuda/sample.cuh"

namespace alm {
namespace {

using namespace cuda;
using Buffer = alm::Buffer;  // not cuda::Buffer, the owning allocation the kernels' tests use

__global__ void fill_kernel(float* x, int64_t n, float v) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) x[i] = v;
}

__global__ void copy_rows_kernel(float* dst, int64_t dst_pitch, const float* src, int64_t src_pitch, int64_t rows, int64_t cols) {
  const int64_t n = rows * cols;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    dst[(i / cols) * dst_pitch + i % cols] = src[(i / cols) * src_pitch + i % cols];
}

// y[c, r] = x[r * pitch + c] through a 32 × 33 shared tile.
__global__ void transpose_kernel(const float* x, int64_t rows, int64_t cols, int64_t pitch, float* y) {
  __shared__ float tile[32][33];
  const int64_t c0 = int64_t(blockIdx.x) * 32, r0 = int64_t(blockIdx.y) * 32;
  for (int i = threadIdx.y; i < 32; i += blockDim.y) {
    const int64_t r = r0 + i, c = c0 + threadIdx.x;
    if (r < rows && c < cols) tile[i][threadIdx.x] = x[r * pitch + c];
  }
  __syncthreads();
  for (int i = threadIdx.y; i < 32; i += blockDim.y) {
    const int64_t c = c0 + i, r = r0 + threadIdx.x;
    if (r < rows && c < cols) y[c * rows + r] = tile[threadIdx.x][i];
  }
}

__global__ void embed_kernel(const float* const* tables, int64_t C, const float* pos, const int32_t* tokens,
                             const int64_t* positions, int64_t n, int64_t dim, float* x) {
  const int64_t total = n * dim;
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total; e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t i = e / dim, d = e % dim;
    float acc = 0.f;
    for (int64_t c = 0; c < C; ++c) {
      const int32_t t = tokens[i * C + c];
      if (t >= 0) acc += tables[c][int64_t(t) * dim + d];
    }
    if (pos) acc += pos[positions[i] * dim + d];
    x[e] = acc;
  }
}

// dst[i] = src[rows[i]] (gather) or dst[rows[i]] = src[i] (scatter), rows of `width`.
__global__ void rows_kernel(const float* src, int64_t width, const int64_t* rows, int64_t n, float* dst, bool scatter) {
  const int64_t total = n * width;
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total; e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t i = e / width, j = e % width;
    if (scatter) dst[rows[i] * width + j] = src[e];
    else dst[e] = src[rows[i] * width + j];
  }
}

// l_row + scale·(l_row − l_guide) into out [V].
__global__ void guide_kernel(const float* l, const float* g, int64_t V, float scale, float* out) {
  for (int64_t v = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; v < V; v += int64_t(gridDim.x) * blockDim.x)
    out[v] = l[v] + scale * (l[v] - g[v]);
}

#define ALM_LAUNCH(kernel, n, ...)                                                        \
  do {                                                                                    \
    if ((n) > 0) {                                                                        \
      kernel<<<blocks_for((n), 256, 8192), 256, 0, cuda::stream()>>>(__VA_ARGS__);        \
      ALM_CUDA_CHECK_LAUNCH(#kernel);                                                     \
    }                                                                                     \
  } while (0)

class CudaBackend final : public Backend {
 public:
  explicit CudaBackend(int device) : device_(device) {
    ALM_CUDA_CHECK(cudaSetDevice(device_));
    ALM_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    name_ = "cuda:" + std::to_string(device);
  }
  const char* name() const override { return name_.c_str(); }

  Buffer alloc(size_t bytes) override {
    Bind b(*this);
    void* p = nullptr;
    cudaError_t err = cudaMallocAsync(&p, std::max<size_t>(bytes, 4), stream_);
    if (err != cudaSuccess) {
      cudaGetLastError();
      fail(err == cudaErrorMemoryAllocation ? ErrorKind::OutOfMemory : ErrorKind::Cuda, "cudaMallocAsync of ", bytes,
           " bytes on ", name_, " failed: ", cudaGetErrorName(err), " (", cudaGetErrorString(err), ")");
    }
    return std::make_shared<DeviceBuffer>(this, p, bytes);
  }
  void upload(Span dst, const void* src, size_t bytes) override {
    Bind b(*this);
    check(dst, bytes);
    if (bytes) ALM_CUDA_CHECK(cudaMemcpyAsync(ptr(dst), src, bytes, cudaMemcpyHostToDevice, stream_));
  }
  void download(void* dst, Span src, size_t bytes) override {
    Bind b(*this);
    check(src, bytes);
    if (bytes) ALM_CUDA_CHECK(cudaMemcpyAsync(dst, ptr(src), bytes, cudaMemcpyDeviceToHost, stream_));
    ALM_CUDA_CHECK(cudaStreamSynchronize(stream_));
  }
  void copy(Span dst, Span src, size_t bytes) override {
    Bind b(*this);
    check(dst, bytes);
    check(src, bytes);
    if (bytes) ALM_CUDA_CHECK(cudaMemcpyAsync(ptr(dst), ptr(src), bytes, cudaMemcpyDeviceToDevice, stream_));
  }
  void fill(Span dst, float value, int64_t n) override {
    Bind b(*this);
    ALM_LAUNCH(fill_kernel, n, f(dst), n, value);
  }

  void linear(Span x, int64_t n, const Linear& L, Span y, bool accumulate) override {
    Bind b(*this);
    Buffer tmp;
    float* out = f(y);
    if (accumulate) {
      tmp = alloc_f32(n * L.out);
      out = f(Span(tmp));
    }
    if (n <= 32) gemv_rows(n, L.out, L.in, f(x), L.in, f(L.w), L.in, out, L.out);
    else gemm_f32(n, L.out, L.in, f(x), L.in, f(L.w), L.in, out, L.out);
    if (L.b.defined()) add_bias(out, f(L.b), n, L.out);
    if (accumulate) cuda::axpby(f(y), out, n * L.out, 1.f, 1.f);
  }
  void matmul(bool trans_b, int64_t M, int64_t N, int64_t K, Span A, int64_t lda, Span B, int64_t ldb, Span C, int64_t ldc) override {
    Bind b(*this);
    if (trans_b) {
      gemm_f32(M, N, K, f(A), lda, f(B), ldb, f(C), ldc);
      return;
    }
    Buffer bt = alloc_f32(N * K);  // B [K, N] → Bᵀ [N, K], the layout the kernel reads
    launch_transpose(f(B), K, N, ldb, f(Span(bt)));
    gemm_f32(M, N, K, f(A), lda, f(Span(bt)), K, f(C), ldc);
  }
  void norm(NormKind kind, Span x, int64_t rows, int64_t dim, const Weight& w, const Weight& bias, float eps, Span y) override {
    Bind b(*this);
    if (kind == NormKind::Rms) rms_norm(f(x), rows, dim, f(w), eps, f(y));
    else layer_norm(f(x), rows, dim, f(w), f(bias), eps, f(y));
  }
  void activate(Activation a, Span x, int64_t n, float alpha) override {
    Bind b(*this);
    switch (a) {
      case Activation::Gelu: gelu(f(x), n); break;
      case Activation::GeluTanh: gelu_tanh(f(x), n); break;
      case Activation::Relu: relu(f(x), n); break;
      case Activation::Elu: elu(f(x), n, alpha); break;
      case Activation::LogFloor: log_floor(f(x), n, alpha); break;
    }
  }
  void geglu(Span u, int64_t rows, int64_t F, Span g) override {
    Bind b(*this);
    cuda::geglu(f(u), rows, F, f(g));
  }
  void axpby(Span y, Span x, int64_t n, float a, float bb) override {
    Bind b(*this);
    cuda::axpby(f(y), f(x), n, a, bb);
  }
  void embed(const std::vector<const Weight*>& tables, const Weight* pos, const int32_t* tokens, const int64_t* positions,
             int64_t n, int64_t dim, Span x) override {
    Bind b(*this);
    const int64_t C = int64_t(tables.size());
    std::vector<const float*> tp;
    for (const Weight* t : tables) tp.push_back(f(*t));
    Buffer tab = put(tp.data(), tp.size()), tok = put(tokens, size_t(n * C)), ps = put(positions, size_t(n));
    ALM_LAUNCH(embed_kernel, n * dim, static_cast<const float* const*>(ptr(Span(tab))), C, pos ? f(*pos) : nullptr,
               static_cast<const int32_t*>(ptr(Span(tok))), static_cast<const int64_t*>(ptr(Span(ps))), n, dim, f(x));
  }
  void rotary(Span x, int64_t T, int64_t nheads, int64_t head_dim, int64_t rot_dim, const int64_t* positions, float base) override {
    Bind b(*this);
    Buffer ps = put(positions, size_t(T));
    cuda::rotary(f(x), T, nheads, head_dim, rot_dim, static_cast<const int64_t*>(ptr(Span(ps))), base);
  }
  void attention(const AttentionShape& shape, Span q, const std::vector<AttentionRow>& rows, const AttentionBias& bias,
                 Span out) override {
    Bind b(*this);
    std::vector<AttentionRowDesc> desc(rows.size());
    std::vector<int32_t> q_rows;
    for (size_t i = 0; i < rows.size(); ++i) {
      const AttentionRow& r = rows[i];
      desc[i] = AttentionRowDesc{f(r.k), f(r.v), r.segments ? static_cast<const uint8_t*>(ptr(r.segments)) : nullptr,
                                 r.q_row, r.tq, r.q_pos0, r.tk, r.kv_stride};
      for (int64_t j = 0; j < r.tq; ++j) q_rows.push_back(int32_t(i));
    }
    // Queries are laid out row after row, as the models make them (q_row = running sum of tq).
    for (size_t i = 0, at = 0; i < rows.size(); at += size_t(rows[i].tq), ++i)
      ALM_CHECK_ARG(rows[i].q_row == int64_t(at), "cuda attention: rows must list their queries in order");
    AttentionRowsShape sh{shape.heads, shape.kv_heads, shape.head_dim, shape.scale, shape.causal,
                          bias.rel ? f(bias.rel) : nullptr, bias.rel_len, bias.rel_offset, bias.cross ? f(bias.cross) : nullptr};
    Buffer d = put(desc.data(), desc.size()), qr = put(q_rows.data(), q_rows.size());
    attention_rows(sh, f(q), static_cast<const AttentionRowDesc*>(ptr(Span(d))), static_cast<const int32_t*>(ptr(Span(qr))),
                   int64_t(q_rows.size()), f(out));
  }
  void gather_rows(Span src, int64_t width, const std::vector<int64_t>& rows, Span dst) override { move_rows(src, width, rows, dst, false); }
  void scatter_rows(Span src, int64_t width, const std::vector<int64_t>& rows, Span dst) override { move_rows(src, width, rows, dst, true); }
  void sample(Span logits, int64_t V, const std::vector<SampleJob>& jobs, int32_t* tokens) override {
    Bind b(*this);
    if (jobs.empty()) return;
    const int64_t J = int64_t(jobs.size());
    std::vector<uint64_t> seeds, counters;
    for (const SampleJob& j : jobs) {
      seeds.push_back(j.seed);
      counters.push_back(j.counter);
    }
    Buffer sd = put(seeds.data(), seeds.size()), ct = put(counters.data(), counters.size()), out = alloc(size_t(J) * 4);
    Buffer mixed;
    std::vector<Buffer> extras;
    for (int64_t i = 0; i < J; ++i) {
      const SampleJob& job = jobs[size_t(i)];
      const float* l = f(logits) + job.row * V;
      if (job.guide >= 0) {
        if (!mixed) mixed = alloc_f32(V);
        ALM_LAUNCH(guide_kernel, V, l, f(logits) + job.guide * V, V, job.scale, f(Span(mixed)));
        l = f(Span(mixed));
      }
      DeviceSampleParams p;
      p.temperature = job.params.temperature;
      p.top_k = job.params.top_k;
      p.top_p = job.params.top_p;
      if (job.range) {
        p.has_range = true;
        p.lo = job.range->lo;
        p.hi = job.range->hi;
        p.n_extra = int32_t(job.range->extra.size());
        if (p.n_extra) {
          extras.push_back(put(job.range->extra.data(), job.range->extra.size()));
          p.extra = static_cast<const int32_t*>(ptr(Span(extras.back())));
        }
      }
      sample_tokens(l, 1, V, V, p, static_cast<const uint64_t*>(ptr(Span(sd))) + i, static_cast<const uint64_t*>(ptr(Span(ct))) + i,
                    static_cast<int32_t*>(ptr(Span(out))) + i);
    }
    download(tokens, Span(out), size_t(J) * 4);
    for (int64_t i = 0; i < J; ++i)
      ALM_CHECK_ARG(tokens[i] >= 0, "row ", jobs[size_t(i)].row, ": no token can be sampled (a NaN logit, or no allowed token with a finite logit)");
  }

  void copy_rows(Span dst, int64_t dst_pitch, Span src, int64_t src_pitch, int64_t rows, int64_t cols) override {
    Bind b(*this);
    ALM_LAUNCH(copy_rows_kernel, rows * cols, f(dst), dst_pitch, f(src), src_pitch, rows, cols);
  }
  void transpose(Span x, int64_t rows, int64_t cols, Span y) override {
    Bind b(*this);
    launch_transpose(f(x), rows, cols, cols, f(y));
  }
  void affine_rows(Span x, int64_t rows, int64_t width, const std::vector<float>& sub, const std::vector<float>& mul,
                   const std::vector<float>& add) override {
    Bind b(*this);
    Buffer s = put(sub.data(), sub.size()), m = put(mul.data(), mul.size()), a = put(add.data(), add.size());
    cuda::affine_rows(f(x), rows, width, f(Span(s)), f(Span(m)), f(Span(a)));
  }
  void power_spectrum(Span spec, int64_t F, int64_t B, Span power) override {
    Bind b(*this);
    cuda::power_spectrum(f(spec), F, B, f(power));
  }
  void pad(Span x, int64_t channels, int64_t len, int64_t left, int64_t right, PadMode mode, Span y) override {
    Bind b(*this);
    pad1d(f(x), channels, len, left, right, mode, f(y));
  }
  void conv1d(const Conv1dShape& shape, Span x, int64_t in_len, const Weight& w, const Weight& bias, Span y) override {
    Bind b(*this);
    cuda::conv1d(shape, f(x), in_len, f(w), f(bias), f(y));
  }
  void conv_transpose1d(const Conv1dShape& shape, Span x, int64_t in_len, const Weight& w, const Weight& bias, Span y) override {
    Bind b(*this);
    cuda::conv_transpose1d(shape, f(x), in_len, f(w), f(bias), f(y));
  }
  void group_norm(Span x, int64_t channels, int64_t T, int64_t groups, const Weight& w, const Weight& bias, float eps, Span y) override {
    Bind b(*this);
    cuda::group_norm(f(x), channels, T, groups, f(w), f(bias), eps, f(y));
  }
  void lstm(const std::vector<LstmLayer>& layers, Span x, int64_t T, int64_t B, Span y) override {
    Bind b(*this);
    Buffer in;
    Span cur = x;
    for (size_t li = 0; li < layers.size(); ++li) {
      const LstmLayer& L = layers[li];
      const int64_t H = L.hidden_size, G = 4 * H;
      Buffer gx = alloc_f32(T * B * G), gh = alloc_f32(B * G), h = alloc_f32(B * H), c = alloc_f32(B * H);
      Buffer out = li + 1 == layers.size() ? nullptr : alloc_f32(T * B * H);
      float* yo = out ? f(Span(out)) : f(y);
      if (T * B > 32) gemm_f32(T * B, G, L.input_size, f(cur), L.input_size, f(L.w_ih), L.input_size, f(Span(gx)), G);
      else gemv_rows(T * B, G, L.input_size, f(cur), L.input_size, f(L.w_ih), L.input_size, f(Span(gx)), G);
      if (L.b_ih.defined()) add_bias(f(Span(gx)), f(L.b_ih), T * B, G);
      ALM_LAUNCH(fill_kernel, B * H, f(Span(h)), B * H, 0.f);
      ALM_LAUNCH(fill_kernel, B * H, f(Span(c)), B * H, 0.f);
      for (int64_t t = 0; t < T; ++t) {
        if (B <= 32) gemv_rows(B, G, H, f(Span(h)), H, f(L.w_hh), H, f(Span(gh)), G);
        else gemm_f32(B, G, H, f(Span(h)), H, f(L.w_hh), H, f(Span(gh)), G);
        lstm_cell(f(Span(gx)) + t * B * G, f(Span(gh)), f(L.b_hh), B, H, f(Span(c)), f(Span(h)), yo + t * B * H, H);
      }
      in = out;
      cur = out ? Span(in) : cur;
    }
  }
  void rvq_norms(Codebooks& cb) override {
    Bind b(*this);
    // norms holds the codebooks end to end [L, K, D] (the layout the kernels read), then ||e||².
    const int64_t L = int64_t(cb.embed.size()), K = cb.codebook_size, D = cb.dim;
    cb.norms = alloc_f32(L * K * D + L * K);
    for (int64_t l = 0; l < L; ++l) copy(Span(cb.norms).at(l * K * D), cb.embed[size_t(l)].span(), size_t(K * D) * 4);
    rvq_code_norms(L, K, D, f(Span(cb.norms)), f(Span(cb.norms).at(L * K * D)));
  }
  void rvq_encode(const Codebooks& cb, int64_t levels, Span x, int64_t T, int32_t* codes) override {
    Bind b(*this);
    Buffer out = alloc(size_t(levels * T) * 4);
    cuda::rvq_encode(device_codebooks(cb), levels, f(x), T, static_cast<int32_t*>(ptr(Span(out))));
    download(codes, Span(out), size_t(levels * T) * 4);
  }
  void rvq_decode(const Codebooks& cb, int64_t levels, const int32_t* codes, int64_t T, Span y) override {
    Bind b(*this);
    for (int64_t l = 0; l < levels; ++l)
      for (int64_t t = 0; t < T; ++t)
        ALM_CHECK_ARG(codes[l * T + t] >= 0 && codes[l * T + t] < cb.codebook_size, "code ", codes[l * T + t], " at level ", l,
                      ", frame ", t, " is outside [0, ", cb.codebook_size, ")");
    Buffer c = put(codes, size_t(levels * T));
    cuda::rvq_decode(device_codebooks(cb), levels, static_cast<const int32_t*>(ptr(Span(c))), T, f(y));
  }

 protected:
  void release(DeviceBuffer& b) noexcept override {
    cudaSetDevice(device_);
    cudaFreeAsync(b.handle(), stream_);  // stream-ordered: after every op queued before it
  }

 private:
  // Every op runs on this backend's device and stream.
  struct Bind {
    explicit Bind(CudaBackend& be) : stream(be.stream_) { ALM_CUDA_CHECK(cudaSetDevice(be.device_)); }
    StreamBinding stream;
  };

  void check(Span s, size_t bytes) const {
    ALM_CHECK_ARG(s.buf != nullptr, "cuda backend: missing buffer");
    ALM_CHECK_ARG(&s.buf->backend() == this, "cuda backend: a buffer of the ", s.buf->backend().name(), " backend was given to ", name_);
    ALM_CHECK_ARG(s.off + bytes <= s.buf->bytes(), "cuda backend: ", bytes, " bytes at offset ", s.off, " overrun a buffer of ",
                  s.buf->bytes());
  }
  void* ptr(Span s) const {
    check(s, 0);
    return static_cast<char*>(s.buf->handle()) + s.off;
  }
  float* f(Span s) const { return static_cast<float*>(ptr(s)); }
  float* f(const Weight& w) const { return w.defined() ? f(w.span()) : nullptr; }

  // A host array copied to a new device buffer on the stream.
  template <typename T>
  Buffer put(const T* data, size_t n) {
    Buffer b = alloc(n * sizeof(T));
    upload(Span(b), data, n * sizeof(T));
    return b;
  }
  void launch_transpose(const float* x, int64_t rows, int64_t cols, int64_t pitch, float* y) {
    if (rows * cols == 0) return;
    dim3 grid(unsigned((cols + 31) / 32), unsigned((rows + 31) / 32)), block(32, 8);
    transpose_kernel<<<grid, block, 0, cuda::stream()>>>(x, rows, cols, pitch, y);
    ALM_CUDA_CHECK_LAUNCH("transpose");
  }
  void move_rows(Span src, int64_t width, const std::vector<int64_t>& rows, Span dst, bool scatter) {
    Bind b(*this);
    Buffer r = put(rows.data(), rows.size());
    ALM_LAUNCH(rows_kernel, int64_t(rows.size()) * width, f(src), width, static_cast<const int64_t*>(ptr(Span(r))),
               int64_t(rows.size()), f(dst), scatter);
  }
  RvqDeviceCodebooks device_codebooks(const Codebooks& cb) const {
    const int64_t L = int64_t(cb.embed.size()), K = cb.codebook_size, D = cb.dim;
    ALM_CHECK_ARG(cb.norms != nullptr, "cuda backend: codebooks without rvq_norms");
    RvqDeviceCodebooks d;
    d.num_levels = L;
    d.codebook_size = K;
    d.dim = D;
    d.embed = f(Span(cb.norms));
    d.norms = f(Span(cb.norms).at(L * K * D));
    return d;
  }

  int device_;
  cudaStream_t stream_ = nullptr;
  std::string name_;
};

}  // namespace

Backend& cuda_backend(int device) {
  std::string why;
  if (!cuda::available(&why)) fail(ErrorKind::Unsupported, "device cuda:", device, " is not available: ", why);
  const int count = int(devices().gpus.size());
  if (device < 0 || device >= count)
    fail(ErrorKind::Unsupported, "device cuda:", device, " does not exist (this machine has ", count, " GPU", count == 1 ? "" : "s", ")");
  static std::mutex mu;
  static std::map<int, std::unique_ptr<CudaBackend>> backends;  // one per GPU, for the process's life
  std::lock_guard<std::mutex> lock(mu);
  auto& be = backends[device];
  if (!be) be.reset(new CudaBackend(device));
  return *be;
}

}  // namespace alm
