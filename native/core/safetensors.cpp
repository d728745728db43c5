#include "safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "dtype.h"
#include "error.h"

namespace alm {
namespace {

constexpr uint64_t kMaxHeader = 100ull << 20;  // the reference implementation's own limit

size_t safetensors_elem_size(const std::string& dt) {
  static const std::map<std::string, size_t> sizes = {
      {"F64", 8}, {"I64", 8}, {"U64", 8}, {"F32", 4}, {"I32", 4}, {"U32", 4}, {"F16", 2},
      {"BF16", 2}, {"I16", 2}, {"U16", 2}, {"I8", 1}, {"U8", 1}, {"BOOL", 1}, {"F8_E4M3", 1}, {"F8_E5M2", 1}};
  auto it = sizes.find(dt);
  return it == sizes.end() ? 0 : it->second;
}

struct Mapping {
  void* addr = nullptr;
  size_t size = 0;
  ~Mapping() {
    if (addr && addr != MAP_FAILED) munmap(addr, size);
  }
};

}  // namespace

void parse_safetensors_header(const uint8_t* file, uint64_t file_size, const std::string& path,
                              std::map<std::string, std::string>& metadata,
                              std::map<std::string, TensorInfo>& tensors, uint64_t& data_offset) {
  if (file_size < 8)
    fail(ErrorKind::InvalidModel, path, ": truncated safetensors file (", file_size, " bytes, need at least 8)");
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | file[i];
  if (n > kMaxHeader)
    fail(ErrorKind::InvalidModel, path, ": safetensors header length ", n, " exceeds the limit of ", kMaxHeader, " bytes");
  if (n > file_size - 8)
    fail(ErrorKind::InvalidModel, path, ": safetensors header length ", n, " runs past the end of the file (",
         file_size, " bytes): the file is truncated or not safetensors");
  std::string header(reinterpret_cast<const char*>(file + 8), n);
  Json root = Json::parse(header, path + " header");
  const auto& entries = root.object(path + " header");
  data_offset = 8 + n;
  uint64_t data_size = file_size - data_offset;

  std::vector<const TensorInfo*> order;
  for (auto& kv : entries) {
    const std::string& name = kv.first;
    if (name == "__metadata__") {
      for (auto& m : kv.second.object(path + " __metadata__"))
        metadata[m.first] = m.second.string(path + " __metadata__." + m.first);
      continue;
    }
    if (tensors.count(name)) fail(ErrorKind::InvalidModel, path, ": tensor '", name, "' appears twice in the header");
    const Json& t = kv.second;
    std::string what = path + ": tensor '" + name + "'";
    if (!t.is_object()) fail(ErrorKind::InvalidModel, what, " is not an object in the header");
    TensorInfo info;
    info.name = name;
    const Json* dt = t.find("dtype");
    const Json* shape = t.find("shape");
    const Json* offs = t.find("data_offsets");
    if (!dt || !shape || !offs) fail(ErrorKind::InvalidModel, what, " lacks dtype, shape or data_offsets");
    info.dtype = dt->string(what + " dtype");
    info.elem_size = safetensors_elem_size(info.dtype);
    if (!info.elem_size) fail(ErrorKind::InvalidModel, what, " has unknown dtype '", info.dtype, "'");
    uint64_t numel = 1;
    for (auto& d : shape->array(what + " shape")) {
      int64_t v = d.integer(what + " shape");
      if (v < 0) fail(ErrorKind::InvalidModel, what, " has a negative dimension ", v);
      if (v > 0 && numel > (uint64_t(1) << 50) / uint64_t(v))
        fail(ErrorKind::InvalidModel, what, " has an absurd shape");
      numel *= uint64_t(v);
      info.shape.push_back(v);
    }
    const auto& o = offs->array(what + " data_offsets");
    if (o.size() != 2) fail(ErrorKind::InvalidModel, what, " data_offsets must have 2 entries");
    int64_t b = o[0].integer(what + " data_offsets"), e = o[1].integer(what + " data_offsets");
    if (b < 0 || e < b) fail(ErrorKind::InvalidModel, what, " has invalid data_offsets [", b, ", ", e, "]");
    info.begin = uint64_t(b);
    info.end = uint64_t(e);
    if (info.end > data_size)
      fail(ErrorKind::InvalidModel, what, " data_offsets [", b, ", ", e, "] run past the end of the data (",
           data_size, " bytes): the file is truncated or corrupt");
    if (info.end - info.begin != numel * info.elem_size)
      fail(ErrorKind::InvalidModel, what, " occupies ", info.end - info.begin, " bytes but ", info.dtype, " ",
           shape_str(info.shape), " needs ", numel * info.elem_size);
    tensors[name] = info;
  }
  for (auto& kv : tensors) order.push_back(&kv.second);
  std::sort(order.begin(), order.end(), [](const TensorInfo* a, const TensorInfo* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  for (size_t i = 1; i < order.size(); ++i) {
    const TensorInfo* prev = order[i - 1];
    const TensorInfo* cur = order[i];
    if (cur->begin < prev->end)
      fail(ErrorKind::InvalidModel, path, ": tensors '", prev->name, "' and '", cur->name,
           "' overlap in the data section");
  }
}

std::shared_ptr<WeightsFile> WeightsFile::open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail(ErrorKind::Io, "cannot open ", path, ": ", std::strerror(errno));
  struct stat st{};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    fail(ErrorKind::Io, path, " is not a regular file");
  }
  auto mapping = std::make_shared<Mapping>();
  mapping->size = static_cast<size_t>(st.st_size);
  if (mapping->size > 0) {
    mapping->addr = mmap(nullptr, mapping->size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (mapping->addr == MAP_FAILED) {
      int err = errno;
      ::close(fd);
      mapping->addr = nullptr;
      fail(ErrorKind::Io, "cannot map ", path, ": ", std::strerror(err));
    }
  }
  ::close(fd);
  std::shared_ptr<WeightsFile> wf(new WeightsFile());
  wf->path_ = path;
  uint64_t data_offset = 0;
  static const uint8_t kEmpty[1] = {0};
  const uint8_t* base = mapping->addr ? static_cast<const uint8_t*>(mapping->addr) : kEmpty;
  parse_safetensors_header(base, mapping->size, path, wf->metadata_, wf->tensors_, data_offset);
  wf->data_ = base + data_offset;
  wf->data_size_ = mapping->size - data_offset;
  wf->mapping_ = mapping;
  return wf;
}

WeightsFile::~WeightsFile() = default;

Json WeightsFile::config() const {
  auto it = metadata_.find("audiolm.config");
  if (it == metadata_.end())
    fail(ErrorKind::InvalidModel, path_, " has no 'audiolm.config' entry in its __metadata__: "
         "convert the checkpoint with `audiolm convert` first");
  return Json::parse(it->second, path_ + " audiolm.config");
}

const TensorInfo& WeightsFile::info(const std::string& name) const {
  auto it = tensors_.find(name);
  if (it == tensors_.end()) fail(ErrorKind::InvalidModel, path_, ": missing tensor '", name, "'");
  return it->second;
}

std::vector<std::string> WeightsFile::names() const {
  std::vector<std::string> out;
  for (auto& kv : tensors_) out.push_back(kv.first);
  return out;
}

Tensor WeightsFile::f32(const std::string& name, const Shape& expected) const {
  const TensorInfo& ti = info(name);
  if (!expected.empty() && expected != ti.shape)
    fail(ErrorKind::InvalidModel, path_, ": tensor '", name, "' has shape ", shape_str(ti.shape), " but ",
         shape_str(expected), " was expected");
  const uint8_t* src = data_ + ti.begin;
  int64_t n = shape_numel(ti.shape);
  if (ti.dtype == "F32" && reinterpret_cast<uintptr_t>(src) % alignof(float) == 0)
    return Tensor::view(const_cast<float*>(reinterpret_cast<const float*>(src)), ti.shape, mapping_);
  Tensor out = Tensor::empty_mapped(ti.shape);
  if (ti.dtype == "F32") {
    std::memcpy(out.data(), src, size_t(n) * 4);
  } else if (ti.dtype == "F16" || ti.dtype == "BF16") {
    std::vector<uint16_t> tmp(static_cast<size_t>(n));  // the data section may be misaligned
    std::memcpy(tmp.data(), src, static_cast<size_t>(n) * 2);
    to_f32(ti.dtype == "F16" ? DType::F16 : DType::BF16, tmp.data(), out.data(), static_cast<size_t>(n));
  } else if (ti.dtype == "F64") {
    for (int64_t i = 0; i < n; ++i) {
      double d;
      std::memcpy(&d, src + 8 * i, 8);
      out.data()[i] = static_cast<float>(d);
    }
  } else {
    fail(ErrorKind::InvalidModel, path_, ": tensor '", name, "' has dtype ", ti.dtype,
         " where a floating-point tensor (F32, F16, BF16) was expected");
  }
  return out;
}

}  // namespace alm
