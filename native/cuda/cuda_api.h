// The CUDA backend's host API for .cpp code (tests, benches, later the models): plain C++, no
// CUDA types. Launchers take device pointers, run asynchronously on the calling thread's stream
// and throw alm::Error (ErrorKind::Cuda) when a launch fails; in a build without nvcc each
// entry point throws ErrorKind::Unsupported (native/cuda/no_cuda.cpp) and available() says why.
#pragma once
#include "cuda/act.cuh"
#include "cuda/attention.cuh"
#include "cuda/gemm.cuh"
#include "cuda/gemv.cuh"
#include "cuda/memory.cuh"
#include "cuda/norm.cuh"
#include "cuda/rvq.cuh"
#include "cuda/sample.cuh"
