// Runs a test body with the AVX2 kernels (where the CPU has them) and again with the portable ones.
#pragma once
#include <string>

#include "cpu/gemm.h"

namespace alm_test {

template <typename Fn>
inline void for_each_isa(const Fn& fn) {
  alm::set_simd_enabled(true);
  fn();
  alm::set_simd_enabled(false);
  try {
    fn();
  } catch (...) {
    alm::set_simd_enabled(true);
    throw;
  }
  alm::set_simd_enabled(true);
}

inline std::string isa() { return alm::simd_avx2_active() ? " [avx2]" : " [portable]"; }

}  // namespace alm_test
