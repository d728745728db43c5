// NativeTransformer and NativeSession: JS handles of a loaded stage and of a KV-cached session
// (lib/models/transformer.ts wraps them with validation).
#pragma once
#include <napi.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "model_wrap.h"
#include "models/transformer.h"

namespace alm_addon {

class NativeTransformer : public ModelWrap<NativeTransformer, alm::TransformerModel> {
 public:
  static constexpr const char* kClass = "NativeTransformer";
  static constexpr const char* kLoader = "loadTransformer";
  static constexpr const char* kNoun = "transformer";
  static constexpr Napi::FunctionReference AddonData::*kCtor = &AddonData::transformer_ctor;
  static std::shared_ptr<alm::TransformerModel> LoadModel(const std::string& path, alm::Backend& be) {
    return alm::TransformerModel::load(path, be);
  }
  static std::vector<Napi::ClassPropertyDescriptor<NativeTransformer>> Methods();
  explicit NativeTransformer(const Napi::CallbackInfo& info) : ModelWrap(info) {}

 private:
  Napi::Value Config(const Napi::CallbackInfo& info);
  Napi::Value Logits(const Napi::CallbackInfo& info);
  Napi::Value CreateSession(const Napi::CallbackInfo& info);
};

// What a NativeSession holds: the session plus a flag that keeps two calls from overlapping.
struct SessionState {
  std::unique_ptr<alm::TransformerSession> session;
  std::atomic<bool> busy{false};
};

class NativeSession : public HandleWrap<NativeSession, SessionState> {
 public:
  static constexpr const char* kClass = "NativeSession";
  static constexpr const char* kNoun = "session";
  static std::string MadeBy() { return "transformer.createSession()"; }
  // A lower bound of the KV cache is enough for GC pressure.
  static int64_t HeldBytes(const SessionState& st) { return st.session->batch() * st.session->capacity() * 8; }
  // An in-flight call stops early and then releases the cache.
  static void BeforeRelease(SessionState& st) { st.session->abort(); }
  static std::vector<Napi::ClassPropertyDescriptor<NativeSession>> Methods();
  explicit NativeSession(const Napi::CallbackInfo& info) : HandleWrap(info) {}

 private:
  Napi::Value Prefill(const Napi::CallbackInfo& info);
  Napi::Value Generate(const Napi::CallbackInfo& info);
  Napi::Value Extend(const Napi::CallbackInfo& info);
  Napi::Value NextLogits(const Napi::CallbackInfo& info);
  Napi::Value Lengths(const Napi::CallbackInfo& info);
  Napi::Value Abort(const Napi::CallbackInfo& info);
};

}  // namespace alm_addon
