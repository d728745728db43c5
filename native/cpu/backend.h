// The CPU backend: core/backend.h's ops on native/cpu's kernels. A buffer's handle is its host
// address. The strict backend (strict_backend.cpp) is this class with handles that are not
// addresses: every op turns the handles it is given into addresses through Scope.
#pragma once
#include "core/backend.h"
#include "cpu/rvq.h"

namespace alm {

class CpuBackend : public Backend {
 public:
  const char* name() const override { return "cpu"; }

  Buffer alloc(size_t bytes) override;
  Weight weight(const Tensor& host) override;
  void upload(Span dst, const void* src, size_t bytes) override;
  void download(void* dst, Span src, size_t bytes) override;
  void copy(Span dst, Span src, size_t bytes) override;
  void fill(Span dst, float value, int64_t n) override;

  void linear(Span x, int64_t n, const Linear& L, Span y, bool accumulate) override;
  void matmul(bool trans_b, int64_t M, int64_t N, int64_t K, Span A, int64_t lda, Span B, int64_t ldb, Span C,
              int64_t ldc) override;
  void power_spectrum(Span spec, int64_t F, int64_t B, Span power) override;
  void norm(NormKind kind, Span x, int64_t rows, int64_t dim, const Weight& w, const Weight& b, float eps, Span y) override;
  void activate(Activation a, Span x, int64_t n, float alpha) override;
  void geglu(Span u, int64_t rows, int64_t F, Span g) override;
  void axpby(Span y, Span x, int64_t n, float a, float b) override;
  void embed(const std::vector<const Weight*>& tables, const Weight* pos, const int32_t* tokens, const int64_t* positions,
             int64_t n, int64_t dim, Span x) override;
  void rotary(Span x, int64_t T, int64_t nheads, int64_t head_dim, int64_t rot_dim, const int64_t* positions,
              float base) override;
  void attention(const AttentionShape& shape, Span q, const std::vector<AttentionRow>& rows, const AttentionBias& bias,
                 Span out) override;
  void gather_rows(Span src, int64_t width, const std::vector<int64_t>& rows, Span dst) override;
  void scatter_rows(Span src, int64_t width, const std::vector<int64_t>& rows, Span dst) override;
  void sample(Span logits, int64_t V, const std::vector<SampleJob>& jobs, int32_t* tokens) override;
  void copy_rows(Span dst, int64_t dst_pitch, Span src, int64_t src_pitch, int64_t rows, int64_t cols) override;
  void transpose(Span x, int64_t rows, int64_t cols, Span y) override;
  void affine_rows(Span x, int64_t rows, int64_t width, const std::vector<float>& sub, const std::vector<float>& mul,
                   const std::vector<float>& add) override;
  void pad(Span x, int64_t channels, int64_t len, int64_t left, int64_t right, PadMode mode, Span y) override;
  void conv1d(const Conv1dShape& shape, Span x, int64_t in_len, const Weight& w, const Weight& b, Span y) override;
  void conv_transpose1d(const Conv1dShape& shape, Span x, int64_t in_len, const Weight& w, const Weight& b, Span y) override;
  void group_norm(Span x, int64_t channels, int64_t T, int64_t groups, const Weight& w, const Weight& b, float eps,
                  Span y) override;
  void lstm(const std::vector<LstmLayer>& layers, Span x, int64_t T, int64_t B, Span y) override;
  void rvq_norms(Codebooks& cb) override;
  void rvq_encode(const Codebooks& cb, int64_t levels, Span x, int64_t T, int32_t* codes) override;
  void rvq_decode(const Codebooks& cb, int64_t levels, const int32_t* codes, int64_t T, Span y) override;

 protected:
  void release(DeviceBuffer& b) noexcept override;
  // A new buffer's handle, and its end.
  virtual void* allocate(size_t bytes);
  virtual void deallocate(void* handle, size_t bytes) noexcept;
  // The host address behind a handle (the same here).
  virtual void* address(void* handle) const { return handle; }

  // What one op reads and writes: spans checked against their buffers and turned into addresses.
  class Scope {
   public:
    explicit Scope(CpuBackend& be) : be_(be) {}
    void* ptr(Span s);
    float* f32(Span s) { return static_cast<float*>(ptr(s)); }
    float* f32(const Weight& w) { return w.defined() ? f32(w.span()) : nullptr; }

   private:
    CpuBackend& be_;
  };
  // The kernels' view of codebooks (pointers into this backend's buffers, norms copied in).
  RvqCodebooks rvq_view(Scope& s, const Codebooks& cb, bool with_norms);
};

}  // namespace alm
