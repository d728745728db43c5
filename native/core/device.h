// Which compute devices this build and this machine have. Asked once, then cached.
#pragma once
#include <string>
#include <vector>

namespace alm {

struct GpuInfo {
  int index = 0;
  std::string name;
  int major = 0, minor = 0;
  size_t total_memory = 0;
  int multiprocessors = 0;
};

struct DeviceInfo {
  bool cuda_compiled = false;  // the CUDA backend is part of this build
  int driver_version = 0;      // 0 when no driver is installed
  int runtime_version = 0;
  std::string status;          // human-readable: why there is no GPU, or "ok"
  std::vector<GpuInfo> gpus;
};

// Implemented in native/cuda/device.cu, or native/cuda/no_cuda.cpp in CPU-only builds.
DeviceInfo query_devices();
// Cached result of query_devices(); never throws.
const DeviceInfo& devices();

}  // namespace alm
