// Built instead of the .cu files when nvcc is absent: the CUDA backend reports no devices.
#include "core/device.h"

namespace alm {
DeviceInfo query_devices() {
  DeviceInfo info;
  info.cuda_compiled = false;
  info.status = "built without CUDA (nvcc was not found at build time)";
  return info;
}
}  // namespace alm
