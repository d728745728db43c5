// NativeCodec: the JS handle of a loaded codec (lib/models/codec.ts wraps it with validation).
#pragma once
#include <napi.h>

#include <memory>

#include "models/codec.h"

namespace alm_addon {

class NativeCodec : public Napi::ObjectWrap<NativeCodec> {
 public:
  static Napi::Function Define(Napi::Env env);
  static Napi::Value Load(const Napi::CallbackInfo& info);  // loadCodec(path) -> Promise<NativeCodec>
  explicit NativeCodec(const Napi::CallbackInfo& info);
  ~NativeCodec() override;

 private:
  std::shared_ptr<alm::CodecModel> model(Napi::Env env) const;
  Napi::Value Config(const Napi::CallbackInfo& info);
  Napi::Value Encode(const Napi::CallbackInfo& info);
  Napi::Value Decode(const Napi::CallbackInfo& info);
  Napi::Value Embed(const Napi::CallbackInfo& info);
  Napi::Value Dispose(const Napi::CallbackInfo& info);

  std::shared_ptr<alm::CodecModel> model_;
  int64_t reported_bytes_ = 0;
};

}  // namespace alm_addon
