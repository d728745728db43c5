// NativeTransformer and NativeSession: JS handles of a loaded stage and of a KV-cached session
// (lib/models/transformer.ts wraps them with validation).
#pragma once
#include <napi.h>

#include <atomic>
#include <memory>

#include "models/transformer.h"

namespace alm_addon {

class NativeTransformer : public Napi::ObjectWrap<NativeTransformer> {
 public:
  static Napi::Function Define(Napi::Env env);
  static Napi::Value Load(const Napi::CallbackInfo& info);  // loadTransformer(path) -> Promise
  explicit NativeTransformer(const Napi::CallbackInfo& info);
  ~NativeTransformer() override;

 private:
  std::shared_ptr<alm::TransformerModel> model(Napi::Env env) const;
  Napi::Value Config(const Napi::CallbackInfo& info);
  Napi::Value Logits(const Napi::CallbackInfo& info);
  Napi::Value CreateSession(const Napi::CallbackInfo& info);
  Napi::Value Dispose(const Napi::CallbackInfo& info);

  std::shared_ptr<alm::TransformerModel> model_;
  int64_t reported_bytes_ = 0;
};

// What a NativeSession holds: the session plus a flag that keeps two calls from overlapping.
struct SessionState {
  std::unique_ptr<alm::TransformerSession> session;
  std::atomic<bool> busy{false};
};

class NativeSession : public Napi::ObjectWrap<NativeSession> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit NativeSession(const Napi::CallbackInfo& info);
  ~NativeSession() override;

 private:
  std::shared_ptr<SessionState> state(Napi::Env env) const;
  Napi::Value Prefill(const Napi::CallbackInfo& info);
  Napi::Value Generate(const Napi::CallbackInfo& info);
  Napi::Value Extend(const Napi::CallbackInfo& info);
  Napi::Value NextLogits(const Napi::CallbackInfo& info);
  Napi::Value Lengths(const Napi::CallbackInfo& info);
  Napi::Value Abort(const Napi::CallbackInfo& info);
  Napi::Value Dispose(const Napi::CallbackInfo& info);

  std::shared_ptr<SessionState> state_;
  int64_t reported_bytes_ = 0;
};

}  // namespace alm_addon
