// AsyncWorker that settles a Promise. Execute() runs on libuv's pool and catches everything:
// alm::Error keeps its code, anything else becomes ERR_AUDIOLM_INTERNAL, so a failed request
// rejects its own promise and never takes the process down.
#pragma once
#include <napi.h>

#include <new>
#include <string>

#include "core/error.h"

namespace alm_addon {

// Makes a JS Error with a stable `code` property.
inline Napi::Error make_error(Napi::Env env, const std::string& code, const std::string& message) {
  Napi::Error err = Napi::Error::New(env, message);
  err.Set("code", Napi::String::New(env, code));
  err.Set("name", Napi::String::New(env, "AudioLMError"));
  return err;
}

// Runs `fn` and converts alm::Error into a thrown JS error with its code (for sync entry points).
template <typename Fn>
auto guard(Napi::Env env, Fn&& fn) -> decltype(fn()) {
  try {
    return fn();
  } catch (const alm::Error& e) {
    throw make_error(env, e.code(), e.what());
  } catch (const std::bad_alloc&) {
    throw make_error(env, "ERR_AUDIOLM_OUT_OF_MEMORY", "out of memory");
  }
}

class PromiseWorker : public Napi::AsyncWorker {
 public:
  explicit PromiseWorker(Napi::Env env) : Napi::AsyncWorker(env), deferred_(Napi::Promise::Deferred::New(env)) {}
  Napi::Promise promise() { return deferred_.Promise(); }

 protected:
  virtual void Run() = 0;                          // worker thread: no N-API calls here
  virtual Napi::Value Result(Napi::Env env) = 0;   // main thread

 private:
  void Execute() override {
    try {
      Run();
    } catch (const alm::Error& e) {
      code_ = e.code();
      SetError(e.what());
    } catch (const std::bad_alloc&) {
      code_ = "ERR_AUDIOLM_OUT_OF_MEMORY";
      SetError("out of memory");
    } catch (const std::exception& e) {
      code_ = "ERR_AUDIOLM_INTERNAL";
      SetError(std::string("internal error: ") + e.what());
    } catch (...) {
      code_ = "ERR_AUDIOLM_INTERNAL";
      SetError("internal error: unknown exception");
    }
  }
  void OnOK() override {
    Napi::Env env = Env();
    try {
      deferred_.Resolve(Result(env));
    } catch (const Napi::Error& e) {
      deferred_.Reject(e.Value());
    }
  }
  void OnError(const Napi::Error& e) override {
    deferred_.Reject(make_error(Env(), code_, e.Message()).Value());
  }

  Napi::Promise::Deferred deferred_;
  std::string code_ = "ERR_AUDIOLM_INTERNAL";
};

}  // namespace alm_addon
