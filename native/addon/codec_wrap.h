// NativeCodec: the JS handle of a loaded codec (lib/models/codec.ts wraps it with validation).
#pragma once
#include <napi.h>

#include <vector>

#include "model_wrap.h"
#include "models/codec.h"

namespace alm_addon {

class NativeCodec : public ModelWrap<NativeCodec, alm::CodecModel> {
 public:
  static constexpr const char* kClass = "NativeCodec";
  static constexpr const char* kLoader = "loadCodec";
  static constexpr const char* kNoun = "codec";
  static constexpr Napi::FunctionReference AddonData::*kCtor = &AddonData::codec_ctor;
  static std::shared_ptr<alm::CodecModel> LoadModel(const std::string& path, alm::Backend& be) {
    return alm::CodecModel::load(path, be);
  }
  static std::vector<Napi::ClassPropertyDescriptor<NativeCodec>> Methods();
  explicit NativeCodec(const Napi::CallbackInfo& info) : ModelWrap(info) {}

 private:
  Napi::Value Config(const Napi::CallbackInfo& info);
  Napi::Value Encode(const Napi::CallbackInfo& info);
  Napi::Value Decode(const Napi::CallbackInfo& info);
  Napi::Value Embed(const Napi::CallbackInfo& info);
};

}  // namespace alm_addon
