// Device memory, the per-thread stream and timing for the CUDA backend, in plain C++ (no CUDA
// types) so that .cpp files, tests and benches can use them. Everything here throws alm::Error
// (ErrorKind::Cuda) on a CUDA failure and ErrorKind::Unsupported in a build without CUDA.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

namespace alm {
namespace cuda {

// True when this build has the CUDA backend and the machine has a usable GPU; otherwise false
// with the reason in *why (when not null). Never throws.
bool available(std::string* why = nullptr);
// "NVIDIA H100 80GB HBM3 (sm_90, 132 SMs)" for the current device.
std::string device_summary();

// An owning device allocation (cudaMalloc / cudaFree). Move-only; freeing never throws.
class Buffer {
 public:
  Buffer() = default;
  explicit Buffer(size_t bytes);
  ~Buffer();
  Buffer(Buffer&& o) noexcept : ptr_(o.ptr_), bytes_(o.bytes_) { o.ptr_ = nullptr; o.bytes_ = 0; }
  Buffer& operator=(Buffer&& o) noexcept;
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;

  void* get() const { return ptr_; }
  template <typename T> T* as() const { return static_cast<T*>(ptr_); }
  size_t bytes() const { return bytes_; }

 private:
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
};

// The calling thread's stream (non-blocking, made on first use). Every launcher and copy below
// runs on it, so work from one thread is ordered and threads do not serialise on each other.
// Returned as void* (a cudaStream_t) to keep CUDA types out of this header.
void* current_stream();
// Makes `stream` (a cudaStream_t) the calling thread's current stream until the binding object
// goes away: the CUDA backend runs every op of the process on its own stream this way.
class StreamBinding {
 public:
  explicit StreamBinding(void* stream);
  ~StreamBinding();
  StreamBinding(const StreamBinding&) = delete;
  StreamBinding& operator=(const StreamBinding&) = delete;

 private:
  void* previous_;
};
// Waits for the calling thread's stream; throws if any work queued on it failed.
void synchronize();

// Asynchronous copies on the calling thread's stream. Host memory should stay alive (and, for
// overlap, be pinned) until synchronize().
void copy_to_device(void* dst, const void* src, size_t bytes);
void copy_to_host(void* dst, const void* src, size_t bytes);
void copy_device(void* dst, const void* src, size_t bytes);
// Fills n floats with quiet NaN: tests poison outputs with it so unwritten elements show.
void fill_nan(float* dst, size_t n);

// bf16 is stored as uint16_t bits (the upper half of an f32). Round to nearest even, on device.
void f32_to_bf16(const float* src, uint16_t* dst, size_t n);

// Median over `reps` timed calls of fn (after `warmup` untimed ones), in milliseconds, from
// events recorded on the calling thread's stream around each call.
double time_median_ms(const std::function<void()>& fn, int warmup, int reps);

}  // namespace cuda
}  // namespace alm
