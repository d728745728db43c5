// libFuzzer entry point for the native parsers that read untrusted bytes: the safetensors header
// (its JSON, dtypes, shapes, offsets) and, through the config key, the JSON parser and the
// config readers of every component family. Any input must end in a result or an alm::Error;
// anything else (a crash, a sanitizer report, another exception) is a finding.
//   cmake -S . -B build-fuzz -DCMAKE_CXX_COMPILER=clang++ -DAUDIOLM_FUZZ=ON && cmake --build build-fuzz --target fuzz_parsers
//   build-fuzz/fuzz/fuzz_parsers -max_total_time=600 test/fuzz/corpus
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

#include "core/error.h"
#include "core/json.h"
#include "core/safetensors.h"
#include "models/codec.h"
#include "models/semantic_tokenizer.h"
#include "models/transformer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    std::map<std::string, std::string> metadata;
    std::map<std::string, alm::TensorInfo> tensors;
    uint64_t offset = 0;
    alm::parse_safetensors_header(data, size, "fuzz", metadata, tensors, offset);
    auto cfg = metadata.find("audiolm.config");
    if (cfg != metadata.end()) {
      alm::Json j = alm::Json::parse(cfg->second, "audiolm.config");
      const std::string family = j.get_string("family", "");
      if (family == "transformer") alm::TransformerConfig::from_json(j, "fuzz");
      else if (family == "encodec") alm::CodecConfig::from_json(j, "fuzz");
      else if (family == "semantic-tokenizer") alm::SemanticTokenizerConfig::from_json(j, "fuzz");
    }
  } catch (const alm::Error&) {
    // a refusal: what hostile input should get
  }
  try {
    // The same bytes as a JSON document on their own.
    alm::Json::parse(std::string(reinterpret_cast<const char*>(data), size), "fuzz");
  } catch (const alm::Error&) {
  }
  return 0;
}
