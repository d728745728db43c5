// What the addon's JS handles share, so that each wrap holds only its own methods: construction
// only from an object the addon made, the memory reported to V8 for as long as the handle holds
// it, the use-after-dispose error and dispose() (HandleWrap: models and sessions), and the loader
// that builds a model on the pool (ModelWrap: NativeCodec, NativeTransformer,
// NativeSemanticTokenizer).
#pragma once
#include <napi.h>

#include <memory>
#include <string>
#include <vector>

#include "addon_data.h"
#include "core/backend.h"
#include "worker.h"

namespace alm_addon {

// HandleWrap: a JS object that holds one native object T (shared with the workers running on it)
// until dispose(). Derived provides kClass, kNoun, MadeBy() (what to call instead of the
// constructor), HeldBytes(const T&) (what to report to V8) and Methods(); it may hide
// BeforeRelease(T&) to stop work in flight before the handle lets go.
template <typename Derived, typename T>
class HandleWrap : public Napi::ObjectWrap<Derived> {
 public:
  using Ptr = std::shared_ptr<T>;
  using Wrap = Napi::ObjectWrap<Derived>;

  // The class: Derived::Methods() and dispose().
  static Napi::Function Define(Napi::Env env) {
    std::vector<Napi::ClassPropertyDescriptor<Derived>> methods = Derived::Methods();
    methods.push_back(Wrap::InstanceMethod("dispose", static_cast<typename Wrap::InstanceMethodCallback>(&HandleWrap::Dispose)));
    return Wrap::DefineClass(env, Derived::kClass, methods);
  }

  ~HandleWrap() override {
    // The env may be shutting down; the object is freed with the last shared_ptr either way.
    if (held_ && reported_bytes_) Napi::MemoryManagement::AdjustExternalMemory(this->Env(), -reported_bytes_);
  }

 protected:
  // Built only from an External<shared_ptr<T>> that the addon itself makes.
  explicit HandleWrap(const Napi::CallbackInfo& info) : Wrap(info) {
    Napi::Env env = info.Env();
    if (info.Length() != 1 || !info[0].IsExternal())
      throw make_error(env, "ERR_AUDIOLM_INVALID_ARGUMENT", std::string(Derived::kClass) + " cannot be constructed directly: use " + Derived::MadeBy());
    // Taken, not copied: the External lives until garbage collection, and a copy left in it would
    // keep the model's memory past dispose() until then.
    held_ = std::move(*info[0].As<Napi::External<Ptr>>().Data());
    if (!held_) throw make_error(env, "ERR_AUDIOLM_INVALID_ARGUMENT", std::string(Derived::kClass) + ": this handle was already taken");
    reported_bytes_ = Derived::HeldBytes(*held_);
    Napi::MemoryManagement::AdjustExternalMemory(env, reported_bytes_);
  }

  // The object; throws ERR_AUDIOLM_DISPOSED once the handle was disposed.
  Ptr held(Napi::Env env) const {
    if (!held_) throw make_error(env, "ERR_AUDIOLM_DISPOSED", std::string("this ") + Derived::kNoun + " was disposed");
    return held_;
  }
  // The object, or null once disposed (for calls that are harmless after the end).
  T* live() const { return held_.get(); }

  static void BeforeRelease(T&) {}

 private:
  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    if (held_) {
      Derived::BeforeRelease(*held_);
      Napi::MemoryManagement::AdjustExternalMemory(info.Env(), -reported_bytes_);
      reported_bytes_ = 0;
      held_.reset();  // in-flight workers hold their own reference and finish normally
    }
    return info.Env().Undefined();
  }

  Ptr held_;
  int64_t reported_bytes_ = 0;
};

// ModelWrap: a HandleWrap of a loaded model, with its loader. Derived adds kLoader ("loadCodec"),
// kCtor (its constructor's slot in AddonData) and LoadModel(path, backend), which the pool runs.
template <typename Derived, typename Model>
class ModelWrap : public HandleWrap<Derived, Model> {
 public:
  // Defines the class, keeps its constructor for the loader, and exports both:
  // exports[kClass] and exports[kLoader](path) -> Promise<Derived>.
  static void Export(Napi::Env env, Napi::Object exports) {
    Napi::Function ctor = HandleWrap<Derived, Model>::Define(env);
    addon_data(env).*Derived::kCtor = Napi::Persistent(ctor);
    exports.Set(Derived::kClass, ctor);
    exports.Set(Derived::kLoader, Napi::Function::New(env, Load, Derived::kLoader));
  }
  static std::string MadeBy() { return std::string(Derived::kLoader) + "(path)"; }
  static int64_t HeldBytes(const Model& m) { return int64_t(m.weight_bytes()); }

 protected:
  explicit ModelWrap(const Napi::CallbackInfo& info) : HandleWrap<Derived, Model>(info) {}
  std::shared_ptr<Model> model(Napi::Env env) const { return this->held(env); }

 private:
  // kLoader(path, backend = "cpu"): the backend is resolved here, so an unknown one rejects before
  // anything is read.
  static Napi::Value Load(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsString())
      throw make_error(env, "ERR_AUDIOLM_INVALID_ARGUMENT", std::string("Expected a path string for ") + Derived::kLoader + "(path)");
    std::string device = "cpu";
    if (info.Length() > 1 && !info[1].IsUndefined()) {
      if (!info[1].IsString())
        throw make_error(env, "ERR_AUDIOLM_INVALID_ARGUMENT", std::string("Expected a backend name for ") + Derived::kLoader + "(path, backend)");
      device = info[1].As<Napi::String>().Utf8Value();
    }
    alm::Backend* be = nullptr;
    try {
      be = &alm::backend_named(device);
    } catch (const alm::Error& e) {
      auto d = Napi::Promise::Deferred::New(env);
      d.Reject(make_error(env, e.code(), e.what()).Value());
      return d.Promise();
    }
    auto load = [be](const std::string& path) { return Derived::LoadModel(path, *be); };
    auto* w = new ModelLoadWorker<Model>(env, info[0].As<Napi::String>().Utf8Value(), load, &(addon_data(env).*Derived::kCtor));
    auto p = w->promise();
    w->Queue();
    return p;
  }
};

}  // namespace alm_addon
