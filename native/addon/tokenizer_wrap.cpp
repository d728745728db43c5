#include "tokenizer_wrap.h"

#include <vector>

#include "addon_data.h"
#include "worker.h"

namespace alm_addon {
namespace {

using ModelPtr = std::shared_ptr<alm::SemanticTokenizer>;

class TokenizeWorker : public PromiseWorker {
 public:
  TokenizeWorker(Napi::Env env, ModelPtr m, std::vector<std::vector<float>> wavs)
      : PromiseWorker(env), model_(std::move(m)), wavs_(std::move(wavs)) {}
  void Run() override { tokens_ = model_->tokenize(wavs_); }
  Napi::Value Result(Napi::Env env) override {
    Napi::Array arr = Napi::Array::New(env, tokens_.size());
    for (size_t i = 0; i < tokens_.size(); ++i) {
      auto a = Napi::Int32Array::New(env, tokens_[i].size());
      std::copy(tokens_[i].begin(), tokens_[i].end(), a.Data());
      arr.Set(uint32_t(i), a);
    }
    return arr;
  }

 private:
  ModelPtr model_;
  std::vector<std::vector<float>> wavs_;
  std::vector<std::vector<int32_t>> tokens_;
};

class FeaturesWorker : public PromiseWorker {
 public:
  FeaturesWorker(Napi::Env env, ModelPtr m, std::vector<std::vector<float>> wavs)
      : PromiseWorker(env), model_(std::move(m)), wavs_(std::move(wavs)) {}
  void Run() override { feats_ = model_->features(wavs_); }
  Napi::Value Result(Napi::Env env) override {
    Napi::Array arr = Napi::Array::New(env, feats_.size());
    for (size_t i = 0; i < feats_.size(); ++i) {
      const alm::Tensor& f = feats_[i];
      auto a = Napi::Float32Array::New(env, size_t(f.numel()));
      std::copy(f.data(), f.data() + f.numel(), a.Data());
      Napi::Object o = Napi::Object::New(env);
      o.Set("data", a);
      o.Set("frames", Napi::Number::New(env, double(f.dim(0))));
      o.Set("dim", Napi::Number::New(env, double(f.dim(1))));
      arr.Set(uint32_t(i), o);
    }
    return arr;
  }

 private:
  ModelPtr model_;
  std::vector<std::vector<float>> wavs_;
  std::vector<alm::Tensor> feats_;
};

}  // namespace

Napi::Function NativeSemanticTokenizer::Define(Napi::Env env) {
  return DefineClass(env, "NativeSemanticTokenizer",
                     {InstanceMethod<&NativeSemanticTokenizer::Config>("config"),
                      InstanceMethod<&NativeSemanticTokenizer::Tokenize>("tokenize"),
                      InstanceMethod<&NativeSemanticTokenizer::Features>("features"),
                      InstanceMethod<&NativeSemanticTokenizer::Dispose>("dispose")});
}

Napi::Value NativeSemanticTokenizer::Load(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString())
    throw make_error(env, "ERR_AUDIOLM_INVALID_ARGUMENT", "Expected a path string for loadSemanticTokenizer(path)");
  auto* w = new ModelLoadWorker<alm::SemanticTokenizer>(env, info[0].As<Napi::String>().Utf8Value(), alm::SemanticTokenizer::load, &addon_data(env).tokenizer_ctor);
  auto p = w->promise();
  w->Queue();
  return p;
}

NativeSemanticTokenizer::NativeSemanticTokenizer(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeSemanticTokenizer>(info) {
  Napi::Env env = info.Env();
  if (info.Length() != 1 || !info[0].IsExternal())
    throw make_error(env, "ERR_AUDIOLM_INVALID_ARGUMENT",
                     "NativeSemanticTokenizer cannot be constructed directly: use loadSemanticTokenizer(path)");
  model_ = *info[0].As<Napi::External<ModelPtr>>().Data();
  reported_bytes_ = int64_t(model_->weight_bytes());
  Napi::MemoryManagement::AdjustExternalMemory(env, reported_bytes_);
}

NativeSemanticTokenizer::~NativeSemanticTokenizer() {
  // The env may be shutting down; the weights are freed with the last shared_ptr either way.
  if (model_ && reported_bytes_) Napi::MemoryManagement::AdjustExternalMemory(Env(), -reported_bytes_);
}

std::shared_ptr<alm::SemanticTokenizer> NativeSemanticTokenizer::model(Napi::Env env) const {
  if (!model_) throw make_error(env, "ERR_AUDIOLM_DISPOSED", "this semantic tokenizer was disposed");
  return model_;
}

Napi::Value NativeSemanticTokenizer::Config(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const alm::SemanticTokenizerConfig& c = model(env)->config();
  Napi::Object o = Napi::Object::New(env);
  o.Set("frontend", c.frontend);
  o.Set("sampleRate", double(c.sample_rate));
  o.Set("frameRate", c.frame_rate());
  o.Set("hopLength", double(c.hop()));
  o.Set("minSamples", double(c.min_samples()));
  o.Set("clusters", double(c.clusters));
  o.Set("layer", double(c.layer));
  o.Set("featureDim", double(c.feature_dim()));
  o.Set("weightBytes", double(model_->weight_bytes()));
  return o;
}

Napi::Value NativeSemanticTokenizer::Tokenize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto m = model(env);
  auto* w = new TokenizeWorker(env, m, copy_float_arrays(env, info[0], "waveforms"));
  auto p = w->promise();
  w->Queue();
  return p;
}

Napi::Value NativeSemanticTokenizer::Features(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto m = model(env);
  auto* w = new FeaturesWorker(env, m, copy_float_arrays(env, info[0], "waveforms"));
  auto p = w->promise();
  w->Queue();
  return p;
}

Napi::Value NativeSemanticTokenizer::Dispose(const Napi::CallbackInfo& info) {
  if (model_) {
    Napi::MemoryManagement::AdjustExternalMemory(info.Env(), -reported_bytes_);
    reported_bytes_ = 0;
    model_.reset();  // in-flight workers hold their own reference and finish normally
  }
  return info.Env().Undefined();
}

}  // namespace alm_addon
