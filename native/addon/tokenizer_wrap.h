// NativeSemanticTokenizer: the JS handle of a loaded semantic tokenizer (lib/models/semantic-tokenizer.ts
// wraps it with validation and resampling).
#pragma once
#include <napi.h>

#include <vector>

#include "model_wrap.h"
#include "models/semantic_tokenizer.h"

namespace alm_addon {

class NativeSemanticTokenizer : public ModelWrap<NativeSemanticTokenizer, alm::SemanticTokenizer> {
 public:
  static constexpr const char* kClass = "NativeSemanticTokenizer";
  static constexpr const char* kLoader = "loadSemanticTokenizer";
  static constexpr const char* kNoun = "semantic tokenizer";
  static constexpr Napi::FunctionReference AddonData::*kCtor = &AddonData::tokenizer_ctor;
  static std::shared_ptr<alm::SemanticTokenizer> LoadModel(const std::string& path, alm::Backend& be) {
    return alm::SemanticTokenizer::load(path, be);
  }
  static std::vector<Napi::ClassPropertyDescriptor<NativeSemanticTokenizer>> Methods();
  explicit NativeSemanticTokenizer(const Napi::CallbackInfo& info) : ModelWrap(info) {}

 private:
  Napi::Value Config(const Napi::CallbackInfo& info);
  Napi::Value Tokenize(const Napi::CallbackInfo& info);
  Napi::Value Features(const Napi::CallbackInfo& info);
};

}  // namespace alm_addon
