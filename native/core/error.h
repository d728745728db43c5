// Errors of the native core. Nothing in the core exits or aborts: every failure is an
// alm::Error carrying a stable code that the addon hands to JavaScript as `err.code`.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace alm {

enum class ErrorKind {
  InvalidArgument,  // a caller passed something of the wrong shape, type or range
  InvalidModel,     // a weights file or config is malformed, truncated or inconsistent
  Io,               // a file could not be opened, read, mapped or written
  Unsupported,      // valid input that this build does not handle
  Cuda,             // a CUDA runtime call failed
  Aborted,          // the caller asked to stop
  OutOfMemory,
  Internal,         // a broken invariant inside the core
};

inline const char* error_code(ErrorKind k) {
  switch (k) {
    case ErrorKind::InvalidArgument: return "ERR_AUDIOLM_INVALID_ARGUMENT";
    case ErrorKind::InvalidModel: return "ERR_AUDIOLM_INVALID_MODEL";
    case ErrorKind::Io: return "ERR_AUDIOLM_IO";
    case ErrorKind::Unsupported: return "ERR_AUDIOLM_UNSUPPORTED";
    case ErrorKind::Cuda: return "ERR_AUDIOLM_CUDA";
    case ErrorKind::Aborted: return "ERR_AUDIOLM_ABORTED";
    case ErrorKind::OutOfMemory: return "ERR_AUDIOLM_OUT_OF_MEMORY";
    case ErrorKind::Internal: return "ERR_AUDIOLM_INTERNAL";
  }
  return "ERR_AUDIOLM_INTERNAL";
}

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
  ErrorKind kind() const { return kind_; }
  const char* code() const { return error_code(kind_); }

 private:
  ErrorKind kind_;
};

namespace detail {
inline void append(std::ostringstream&) {}
template <typename T, typename... Rest>
void append(std::ostringstream& os, const T& v, const Rest&... rest) {
  os << v;
  append(os, rest...);
}
}  // namespace detail

// fail(kind, "tensor ", name, " has ", n, " elements") builds the message from its parts.
template <typename... Parts>
[[noreturn]] void fail(ErrorKind kind, const Parts&... parts) {
  std::ostringstream os;
  detail::append(os, parts...);
  throw Error(kind, os.str());
}

}  // namespace alm

#define ALM_CHECK_ARG(cond, ...) \
  do { if (!(cond)) ::alm::fail(::alm::ErrorKind::InvalidArgument, __VA_ARGS__); } while (0)
#define ALM_CHECK_MODEL(cond, ...) \
  do { if (!(cond)) ::alm::fail(::alm::ErrorKind::InvalidModel, __VA_ARGS__); } while (0)
#define ALM_ASSERT(cond) \
  do { if (!(cond)) ::alm::fail(::alm::ErrorKind::Internal, "internal check failed: " #cond " at " __FILE__ ":", __LINE__); } while (0)
