// NativeSemanticTokenizer: the JS handle of a loaded semantic tokenizer (lib/models/semantic-tokenizer.ts
// wraps it with validation and resampling).
#pragma once
#include <napi.h>

#include <memory>

#include "models/semantic_tokenizer.h"

namespace alm_addon {

class NativeSemanticTokenizer : public Napi::ObjectWrap<NativeSemanticTokenizer> {
 public:
  static Napi::Function Define(Napi::Env env);
  // loadSemanticTokenizer(path) -> Promise<NativeSemanticTokenizer>
  static Napi::Value Load(const Napi::CallbackInfo& info);
  explicit NativeSemanticTokenizer(const Napi::CallbackInfo& info);
  ~NativeSemanticTokenizer() override;

 private:
  std::shared_ptr<alm::SemanticTokenizer> model(Napi::Env env) const;
  Napi::Value Config(const Napi::CallbackInfo& info);
  Napi::Value Tokenize(const Napi::CallbackInfo& info);
  Napi::Value Features(const Napi::CallbackInfo& info);
  Napi::Value Dispose(const Napi::CallbackInfo& info);

  std::shared_ptr<alm::SemanticTokenizer> model_;
  int64_t reported_bytes_ = 0;
};

}  // namespace alm_addon
