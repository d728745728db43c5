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

std::vector<Napi::ClassPropertyDescriptor<NativeSemanticTokenizer>> NativeSemanticTokenizer::Methods() {
  return {InstanceMethod<&NativeSemanticTokenizer::Config>("config"),
          InstanceMethod<&NativeSemanticTokenizer::Tokenize>("tokenize"),
          InstanceMethod<&NativeSemanticTokenizer::Features>("features")};
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
  o.Set("weightBytes", double(model(env)->weight_bytes()));
  o.Set("backend", model(env)->backend().name());
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

}  // namespace alm_addon
