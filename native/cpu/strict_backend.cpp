// The strict test backend: the CPU kernels over memory that host code cannot reach. A buffer's
// handle is not its address but the address with its top bits flipped, a non-canonical x86-64
// address (and never a valid one on other 64-bit platforms either), so host code that reads or
// writes device memory through a handle faults at once, in a test, instead of working by accident
// on the CPU; only this backend's calls turn handles back into addresses. New buffers are filled
// with NaN, so an op that reads memory nothing wrote (a forgotten upload) shows in its results.
// Weights are copied in, as to a GPU.
#include <cstdint>
#include <cstring>
#include <limits>

#include "core/error.h"
#include "cpu/backend.h"

namespace alm {
namespace {

constexpr uintptr_t kDisguise = uintptr_t(0xa5a5) << 48;

class StrictBackend final : public CpuBackend {
 public:
  const char* name() const override { return "strict"; }
  // Weights are copied in, as to a GPU (Backend::weight), not adopted as on the CPU backend.
  Weight weight(const Tensor& host) override { return Backend::weight(host); }

 protected:
  void* allocate(size_t bytes) override {
    float* p = static_cast<float*>(CpuBackend::allocate((bytes + 3) / 4 * 4));
    std::fill(p, p + (bytes + 3) / 4, std::numeric_limits<float>::quiet_NaN());
    return reinterpret_cast<void*>(reinterpret_cast<uintptr_t>(p) ^ kDisguise);
  }
  void deallocate(void* handle, size_t bytes) noexcept override { CpuBackend::deallocate(address(handle), bytes); }
  void* address(void* handle) const override { return reinterpret_cast<void*>(reinterpret_cast<uintptr_t>(handle) ^ kDisguise); }
};

}  // namespace

Backend& strict_backend() {
  static StrictBackend be;
  return be;
}

}  // namespace alm
