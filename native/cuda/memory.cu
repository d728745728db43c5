// Device buffers, the per-thread stream, copies and event timing.
#include <algorithm>
#include <vector>

#include "core/device.h"
#include "cuda/common.cuh"

namespace alm {
namespace cuda {

bool available(std::string* why) {
  const DeviceInfo& d = devices();
  if (d.cuda_compiled && !d.gpus.empty()) return true;
  if (why) *why = d.status;
  return false;
}

std::string device_summary() {
  int dev = 0;
  ALM_CUDA_CHECK(cudaGetDevice(&dev));
  cudaDeviceProp p{};
  ALM_CUDA_CHECK(cudaGetDeviceProperties(&p, dev));
  return std::string(p.name) + " (sm_" + std::to_string(p.major * 10 + p.minor) + ", " +
         std::to_string(p.multiProcessorCount) + " SMs, " + std::to_string(p.totalGlobalMem >> 20) + " MiB)";
}

Buffer::Buffer(size_t bytes) : bytes_(bytes) {
  if (bytes == 0) return;
  cudaError_t err = cudaMalloc(&ptr_, bytes);
  if (err != cudaSuccess) {
    cudaGetLastError();
    ptr_ = nullptr;
    fail(err == cudaErrorMemoryAllocation ? ErrorKind::OutOfMemory : ErrorKind::Cuda, "cudaMalloc of ", bytes,
         " bytes failed: ", cudaGetErrorName(err), " (", cudaGetErrorString(err), ")");
  }
}

Buffer::~Buffer() {
  if (ptr_) cudaFree(ptr_);  // errors here (a dead context at exit) have nowhere to go
}

Buffer& Buffer::operator=(Buffer&& o) noexcept {
  if (this != &o) {
    if (ptr_) cudaFree(ptr_);
    ptr_ = o.ptr_;
    bytes_ = o.bytes_;
    o.ptr_ = nullptr;
    o.bytes_ = 0;
  }
  return *this;
}

namespace {
struct ThreadStream {
  cudaStream_t s = nullptr;
  ~ThreadStream() {
    if (s) cudaStreamDestroy(s);
  }
};
}  // namespace

thread_local cudaStream_t t_bound = nullptr;  // a StreamBinding's stream, else null

void* current_stream() {
  if (t_bound) return t_bound;
  thread_local ThreadStream ts;
  if (!ts.s) ALM_CUDA_CHECK(cudaStreamCreateWithFlags(&ts.s, cudaStreamNonBlocking));
  return ts.s;
}

StreamBinding::StreamBinding(void* stream) : previous_(t_bound) { t_bound = static_cast<cudaStream_t>(stream); }
StreamBinding::~StreamBinding() { t_bound = static_cast<cudaStream_t>(previous_); }

void synchronize() { ALM_CUDA_CHECK(cudaStreamSynchronize(stream())); }

void copy_to_device(void* dst, const void* src, size_t bytes) {
  ALM_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, stream()));
}
void copy_to_host(void* dst, const void* src, size_t bytes) {
  ALM_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, stream()));
}
void copy_device(void* dst, const void* src, size_t bytes) {
  ALM_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, stream()));
}

namespace {
__global__ void fill_nan_kernel(float* x, size_t n) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < n; i += size_t(gridDim.x) * blockDim.x)
    x[i] = __int_as_float(0x7fc00000);
}
__global__ void f32_to_bf16_kernel(const float* src, uint16_t* dst, size_t n) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < n; i += size_t(gridDim.x) * blockDim.x) {
    uint32_t b = __float_as_uint(src[i]);
    if ((b & 0x7fffffffu) > 0x7f800000u) {
      dst[i] = uint16_t((b >> 16) | 0x40);  // NaN stays a quiet NaN
    } else {
      b += 0x7fffu + ((b >> 16) & 1u);  // round to nearest even
      dst[i] = uint16_t(b >> 16);
    }
  }
}
}  // namespace

void fill_nan(float* dst, size_t n) {
  if (n == 0) return;
  fill_nan_kernel<<<blocks_for(int64_t(n), 256, 4096), 256, 0, stream()>>>(dst, n);
  ALM_CUDA_CHECK_LAUNCH("fill_nan");
}

void f32_to_bf16(const float* src, uint16_t* dst, size_t n) {
  if (n == 0) return;
  f32_to_bf16_kernel<<<blocks_for(int64_t(n), 256, 4096), 256, 0, stream()>>>(src, dst, n);
  ALM_CUDA_CHECK_LAUNCH("f32_to_bf16");
}

namespace {
struct Event {
  cudaEvent_t e = nullptr;
  Event() { ALM_CUDA_CHECK(cudaEventCreate(&e)); }
  ~Event() { cudaEventDestroy(e); }
};
}  // namespace

double time_median_ms(const std::function<void()>& fn, int warmup, int reps) {
  for (int i = 0; i < warmup; ++i) fn();
  synchronize();
  std::vector<double> ms;
  Event a, b;
  for (int i = 0; i < std::max(1, reps); ++i) {
    ALM_CUDA_CHECK(cudaEventRecord(a.e, stream()));
    fn();
    ALM_CUDA_CHECK(cudaEventRecord(b.e, stream()));
    ALM_CUDA_CHECK(cudaEventSynchronize(b.e));
    float t = 0;
    ALM_CUDA_CHECK(cudaEventElapsedTime(&t, a.e, b.e));
    ms.push_back(t);
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

}  // namespace cuda
}  // namespace alm
