// Device discovery for the CUDA backend. A machine without a driver answers
// cudaErrorInsufficientDriver (35) or cudaErrorNoDevice: that means "no GPU", not a failure.
#include "common.cuh"
#include "core/device.h"

namespace alm {

DeviceInfo query_devices() {
  DeviceInfo info;
  info.cuda_compiled = true;
  cudaRuntimeGetVersion(&info.runtime_version);
  if (cudaDriverGetVersion(&info.driver_version) != cudaSuccess) info.driver_version = 0;
  int count = 0;
  cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    cudaGetLastError();  // clear the sticky error so later calls start clean
    info.status = std::string("no usable GPU: ") + cudaGetErrorName(err) + " (" + cudaGetErrorString(err) + ")";
    return info;
  }
  for (int i = 0; i < count; ++i) {
    cudaDeviceProp prop{};
    if (cudaGetDeviceProperties(&prop, i) != cudaSuccess) continue;
    GpuInfo g;
    g.index = i;
    g.name = prop.name;
    g.major = prop.major;
    g.minor = prop.minor;
    g.total_memory = prop.totalGlobalMem;
    g.multiprocessors = prop.multiProcessorCount;
    info.gpus.push_back(g);
  }
  info.status = count > 0 ? "ok" : "no GPU found";
  return info;
}

}  // namespace alm
