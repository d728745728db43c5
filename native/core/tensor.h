// A minimal f32 tensor for CPU compute: contiguous, row-major, owning its buffer or viewing
// someone else's (an mmapped weights file) with a keep-alive handle.
#pragma once
#include <sys/mman.h>

#include <cstdint>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include "error.h"

namespace alm {

using Shape = std::vector<int64_t>;

inline int64_t shape_numel(const Shape& s) {
  int64_t n = 1;
  for (auto d : s) n *= d;
  return n;
}

inline std::string shape_str(const Shape& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

class Tensor {
 public:
  Tensor() = default;

  static Tensor empty(Shape shape) {
    Tensor t;
    int64_t n = shape_numel(shape);
    ALM_CHECK_ARG(n >= 0, "negative tensor size ", shape_str(shape));
    auto buf = std::shared_ptr<float[]>(new float[n > 0 ? n : 1]);
    t.data_ = buf.get();
    t.owner_ = std::move(buf);
    t.shape_ = std::move(shape);
    return t;
  }
  // Storage that lives as long as a model: its own anonymous mapping, so that freeing it gives the
  // pages back to the system at once. From the heap, weights freed on one of libuv's threads stay
  // in that thread's malloc arena, and a service that loads and disposes models grows without end
  // (measured: +1.5 GB over 40 cycles of the default model; bench/memory.mjs).
  static Tensor empty_mapped(Shape shape) {
    int64_t n = shape_numel(shape);
    ALM_CHECK_ARG(n >= 0, "negative tensor size ", shape_str(shape));
    const size_t bytes = size_t(n > 0 ? n : 1) * sizeof(float);
    void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) fail(ErrorKind::OutOfMemory, "cannot map ", bytes, " bytes for a tensor of shape ", shape_str(shape));
    Tensor t;
    t.data_ = static_cast<float*>(p);
    t.owner_ = std::shared_ptr<void>(p, [bytes](void* q) { munmap(q, bytes); });
    t.shape_ = std::move(shape);
    return t;
  }
  static Tensor zeros(Shape shape) {
    Tensor t = empty(std::move(shape));
    std::fill(t.data_, t.data_ + t.numel(), 0.0f);
    return t;
  }
  // Views memory owned by `owner` (kept alive as long as the view lives).
  static Tensor view(float* data, Shape shape, std::shared_ptr<void> owner) {
    Tensor t;
    t.data_ = data;
    t.shape_ = std::move(shape);
    t.owner_ = std::move(owner);
    return t;
  }

  float* data() { return data_; }
  const float* data() const { return data_; }
  const Shape& shape() const { return shape_; }
  int64_t dim(size_t i) const { return shape_.at(i); }
  size_t ndim() const { return shape_.size(); }
  int64_t numel() const { return shape_numel(shape_); }
  bool defined() const { return data_ != nullptr; }
  // Same buffer, new shape of the same size.
  Tensor reshaped(Shape s) const {
    ALM_CHECK_ARG(shape_numel(s) == numel(), "cannot reshape ", shape_str(shape_), " to ", shape_str(s));
    Tensor t = *this;
    t.shape_ = std::move(s);
    return t;
  }

 private:
  float* data_ = nullptr;
  Shape shape_;
  std::shared_ptr<void> owner_;
};

}  // namespace alm
