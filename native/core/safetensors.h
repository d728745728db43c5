// Memory-mapped safetensors files, validated in full before any tensor is handed out:
// header size and JSON, dtypes, shapes, offsets in bounds and without overlap. Every problem is
// an ERR_AUDIOLM_INVALID_MODEL (or _IO) error naming the file and the tensor.
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "json.h"
#include "tensor.h"

namespace alm {

struct TensorInfo {
  std::string name;
  std::string dtype;  // as written in the header: F32, F16, BF16, F64, I64, I32, ...
  size_t elem_size = 0;
  Shape shape;
  uint64_t begin = 0, end = 0;  // byte offsets into the data section
};

class WeightsFile {
 public:
  // Maps and validates the file. Throws alm::Error (ERR_AUDIOLM_IO / ERR_AUDIOLM_INVALID_MODEL).
  static std::shared_ptr<WeightsFile> open(const std::string& path);
  ~WeightsFile();

  const std::string& path() const { return path_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  // The config JSON stored under __metadata__["audiolm.config"]; error if absent.
  Json config() const;

  bool has(const std::string& name) const { return tensors_.count(name) != 0; }
  const TensorInfo& info(const std::string& name) const;
  std::vector<std::string> names() const;

  // The tensor as f32: a view of the mapping when stored aligned as F32 (no copy), else a
  // converted copy (F16, BF16, F64). `expected` (when non-empty) must equal its shape.
  Tensor f32(const std::string& name, const Shape& expected = {}) const;

 private:
  WeightsFile() = default;
  std::string path_;
  std::shared_ptr<void> mapping_;  // keeps the mmap alive for views handed out
  const uint8_t* data_ = nullptr;  // start of the data section
  uint64_t data_size_ = 0;
  std::map<std::string, std::string> metadata_;
  std::map<std::string, TensorInfo> tensors_;
};

// Parses and validates a safetensors header (exposed for tests): `file` is the whole file.
void parse_safetensors_header(const uint8_t* file, uint64_t file_size, const std::string& path,
                              std::map<std::string, std::string>& metadata,
                              std::map<std::string, TensorInfo>& tensors, uint64_t& data_offset);

}  // namespace alm
