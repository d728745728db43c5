// Built instead of the .cu files when nvcc is absent: the CUDA backend reports no devices and
// every entry point of native/cuda/cuda_api.h throws ErrorKind::Unsupported.
#include "core/backend.h"
#include "core/device.h"
#include "core/error.h"
#include "cuda/cuda_api.h"

namespace alm {
Backend& cuda_backend(int device) {
  fail(ErrorKind::Unsupported, "device cuda:", device, " is not available: this build has no CUDA backend (nvcc was not found at build time)");
}

DeviceInfo query_devices() {
  DeviceInfo info;
  info.cuda_compiled = false;
  info.status = "built without CUDA (nvcc was not found at build time)";
  return info;
}

namespace cuda {
namespace {
[[noreturn]] void no_cuda(const char* what) {
  fail(ErrorKind::Unsupported, what, ": this build has no CUDA backend (nvcc was not found at build time)");
}
}  // namespace

bool available(std::string* why) {
  if (why) *why = devices().status;
  return false;
}
std::string device_summary() { no_cuda("device_summary"); }
Buffer::Buffer(size_t bytes) : bytes_(bytes) {
  if (bytes) no_cuda("cuda::Buffer");
}
Buffer::~Buffer() = default;
Buffer& Buffer::operator=(Buffer&& o) noexcept {
  ptr_ = o.ptr_;
  bytes_ = o.bytes_;
  o.ptr_ = nullptr;
  o.bytes_ = 0;
  return *this;
}
void* current_stream() { no_cuda("current_stream"); }
StreamBinding::StreamBinding(void*) : previous_(nullptr) { no_cuda("StreamBinding"); }
StreamBinding::~StreamBinding() = default;
void synchronize() { no_cuda("synchronize"); }
void copy_to_device(void*, const void*, size_t) { no_cuda("copy_to_device"); }
void copy_to_host(void*, const void*, size_t) { no_cuda("copy_to_host"); }
void copy_device(void*, const void*, size_t) { no_cuda("copy_device"); }
void fill_nan(float*, size_t) { no_cuda("fill_nan"); }
void f32_to_bf16(const float*, uint16_t*, size_t) { no_cuda("f32_to_bf16"); }
double time_median_ms(const std::function<void()>&, int, int) { no_cuda("time_median_ms"); }

void gemm_f32(int64_t, int64_t, int64_t, const float*, int64_t, const float*, int64_t, float*, int64_t) {
  no_cuda("gemm_f32");
}
void gemm_bf16(int64_t, int64_t, int64_t, const uint16_t*, int64_t, const uint16_t*, int64_t, float*, int64_t) {
  no_cuda("gemm_bf16");
}
void gemv_rows(int64_t, int64_t, int64_t, const float*, int64_t, const float*, int64_t, float*, int64_t) {
  no_cuda("gemv_rows");
}
void gemv_rows_bf16(int64_t, int64_t, int64_t, const float*, int64_t, const uint16_t*, int64_t, float*, int64_t) {
  no_cuda("gemv_rows_bf16");
}
void layer_norm(const float*, int64_t, int64_t, const float*, const float*, float, float*) { no_cuda("layer_norm"); }
void rms_norm(const float*, int64_t, int64_t, const float*, float, float*) { no_cuda("rms_norm"); }
void softmax_rows(float*, int64_t, int64_t) { no_cuda("softmax_rows"); }
void elu(float*, int64_t, float) { no_cuda("elu"); }
void gelu(float*, int64_t) { no_cuda("gelu"); }
void gelu_tanh(float*, int64_t) { no_cuda("gelu_tanh"); }
void sigmoid(float*, int64_t) { no_cuda("sigmoid"); }
void tanh_inplace(float*, int64_t) { no_cuda("tanh_inplace"); }
size_t attention_decode_workspace_bytes(const DecodeAttentionShape&) { no_cuda("attention_decode_workspace_bytes"); }
void attention_decode(const DecodeAttentionShape&, const float*, const float*, const float*, const int32_t*, void*,
                      float*) {
  no_cuda("attention_decode");
}
void rvq_code_norms(int64_t, int64_t, int64_t, const float*, float*) { no_cuda("rvq_code_norms"); }
void rvq_encode(const RvqDeviceCodebooks&, int64_t, const float*, int64_t, int32_t*) { no_cuda("rvq_encode"); }
void rvq_decode(const RvqDeviceCodebooks&, int64_t, const int32_t*, int64_t, float*) { no_cuda("rvq_decode"); }
void sample_tokens(const float*, int64_t, int64_t, int64_t, const DeviceSampleParams&, const uint64_t*,
                   const uint64_t*, int32_t*) {
  no_cuda("sample_tokens");
}
}  // namespace cuda
}  // namespace alm
