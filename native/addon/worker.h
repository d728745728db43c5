// AsyncWorker that settles a Promise. Execute() runs on libuv's pool and catches everything:
// alm::Error keeps its code, anything else becomes ERR_AUDIOLM_INTERNAL, so a failed request
// rejects its own promise and never takes the process down.
#pragma once
#include <napi.h>

#include <functional>
#include <memory>
#include <new>
#include <string>
#include <vector>

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

// Copies an array of typed arrays (Float32Array, Int32Array) on the main thread: workers never
// touch JS memory, which the caller may reuse as soon as the call returns.
template <typename T, napi_typedarray_type Kind>
std::vector<std::vector<T>> copy_typed_rows(Napi::Env env, Napi::Value v, const std::string& name, const char* type_name) {
  if (!v.IsArray()) throw make_error(env, "ERR_AUDIOLM_INVALID_ARGUMENT", std::string("Expected an array of ") + type_name + " for " + name);
  Napi::Array arr = v.As<Napi::Array>();
  std::vector<std::vector<T>> out;
  for (uint32_t i = 0; i < arr.Length(); ++i) {
    Napi::Value e = arr.Get(i);
    if (!e.IsTypedArray() || e.As<Napi::TypedArray>().TypedArrayType() != Kind)
      throw make_error(env, "ERR_AUDIOLM_INVALID_ARGUMENT", std::string("Expected a ") + type_name + " for " + name + "[" + std::to_string(i) + "]");
    auto ta = e.As<Napi::TypedArrayOf<T>>();
    out.emplace_back(ta.Data(), ta.Data() + ta.ElementLength());
  }
  return out;
}
inline std::vector<std::vector<float>> copy_float_arrays(Napi::Env env, Napi::Value v, const std::string& name) {
  return copy_typed_rows<float, napi_float32_array>(env, v, name, "Float32Array");
}
inline std::vector<std::vector<int32_t>> copy_int_arrays(Napi::Env env, Napi::Value v, const std::string& name) {
  return copy_typed_rows<int32_t, napi_int32_array>(env, v, name, "Int32Array");
}

// Loads a model on the pool and resolves to a new instance of its wrapper class, which receives
// the model as an External<shared_ptr<Model>>.
template <typename Model>
class ModelLoadWorker : public PromiseWorker {
 public:
  using Ptr = std::shared_ptr<Model>;
  ModelLoadWorker(Napi::Env env, std::string path, std::function<Ptr(const std::string&)> load, Napi::FunctionReference* ctor)
      : PromiseWorker(env), path_(std::move(path)), load_(std::move(load)), ctor_(ctor) {}
  void Run() override { model_ = load_(path_); }
  Napi::Value Result(Napi::Env env) override {
    auto ext = Napi::External<Ptr>::New(env, new Ptr(model_), [](Napi::Env, Ptr* p) { delete p; });
    return ctor_->New({ext});
  }

 private:
  std::string path_;
  std::function<Ptr(const std::string&)> load_;
  Napi::FunctionReference* ctor_;
  Ptr model_;
};

}  // namespace alm_addon
