#include "device.h"

#include <mutex>

namespace alm {
const DeviceInfo& devices() {
  static std::once_flag once;
  static DeviceInfo info;
  std::call_once(once, [] {
    try {
      info = query_devices();
    } catch (...) {
      info = DeviceInfo{};
      info.status = "device query failed";
    }
  });
  return info;
}
}  // namespace alm
