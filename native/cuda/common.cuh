// Shared helpers for the CUDA sources: error checking that throws (never exits).
#pragma once
#include <cuda_runtime.h>

#include "core/error.h"

#define ALM_CUDA_CHECK(expr)                                                                  \
  do {                                                                                        \
    cudaError_t err_ = (expr);                                                                \
    if (err_ != cudaSuccess)                                                                  \
      ::alm::fail(::alm::ErrorKind::Cuda, #expr " failed: ", cudaGetErrorName(err_), " (",    \
                  cudaGetErrorString(err_), ")");                                             \
  } while (0)
