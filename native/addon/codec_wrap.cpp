#include "codec_wrap.h"

#include <vector>

#include "addon_data.h"
#include "worker.h"

namespace alm_addon {
namespace {

using ModelPtr = std::shared_ptr<alm::CodecModel>;

class EncodeWorker : public PromiseWorker {
 public:
  EncodeWorker(Napi::Env env, ModelPtr m, std::vector<std::vector<float>> wavs, int64_t levels)
      : PromiseWorker(env), model_(std::move(m)), wavs_(std::move(wavs)), levels_(levels) {}
  void Run() override {
    int64_t ch = model_->config().channels;
    for (auto& w : wavs_) {
      ALM_CHECK_ARG(w.size() % size_t(ch) == 0, "waveform length ", w.size(), " is not a multiple of ", ch, " channels");
      int64_t frames = 0;
      codes_.push_back(model_->encode(w.data(), int64_t(w.size()) / ch, levels_, &frames));
      frames_.push_back(frames);
    }
  }
  Napi::Value Result(Napi::Env env) override {
    Napi::Object res = Napi::Object::New(env);
    Napi::Array codes = Napi::Array::New(env, codes_.size());
    Napi::Array frames = Napi::Array::New(env, frames_.size());
    for (size_t i = 0; i < codes_.size(); ++i) {
      auto arr = Napi::Int32Array::New(env, codes_[i].size());
      std::copy(codes_[i].begin(), codes_[i].end(), arr.Data());
      codes.Set(uint32_t(i), arr);
      frames.Set(uint32_t(i), Napi::Number::New(env, double(frames_[i])));
    }
    res.Set("codes", codes);
    res.Set("frames", frames);
    return res;
  }

 private:
  ModelPtr model_;
  std::vector<std::vector<float>> wavs_;
  int64_t levels_;
  std::vector<std::vector<int32_t>> codes_;
  std::vector<int64_t> frames_;
};

class DecodeWorker : public PromiseWorker {
 public:
  DecodeWorker(Napi::Env env, ModelPtr m, std::vector<std::vector<int32_t>> codes, int64_t levels)
      : PromiseWorker(env), model_(std::move(m)), codes_(std::move(codes)), levels_(levels) {}
  void Run() override {
    for (size_t i = 0; i < codes_.size(); ++i) {
      auto& c = codes_[i];
      ALM_CHECK_ARG(!c.empty() && c.size() % size_t(levels_) == 0, "codes[", i, "] has ", c.size(),
                    " entries, not a positive multiple of ", levels_, " levels");
      alm::Tensor y = model_->decode(c.data(), levels_, int64_t(c.size()) / levels_);
      out_.emplace_back(y.data(), y.data() + y.numel());
    }
  }
  Napi::Value Result(Napi::Env env) override {
    Napi::Array arr = Napi::Array::New(env, out_.size());
    for (size_t i = 0; i < out_.size(); ++i) {
      auto a = Napi::Float32Array::New(env, out_[i].size());
      std::copy(out_[i].begin(), out_[i].end(), a.Data());
      arr.Set(uint32_t(i), a);
    }
    return arr;
  }

 private:
  ModelPtr model_;
  std::vector<std::vector<int32_t>> codes_;
  int64_t levels_;
  std::vector<std::vector<float>> out_;
};

class EmbedWorker : public PromiseWorker {
 public:
  EmbedWorker(Napi::Env env, ModelPtr m, std::vector<float> wav) : PromiseWorker(env), model_(std::move(m)), wav_(std::move(wav)) {}
  void Run() override {
    int64_t ch = model_->config().channels;
    emb_ = model_->embed(wav_.data(), int64_t(wav_.size()) / ch);
  }
  Napi::Value Result(Napi::Env env) override {
    auto a = Napi::Float32Array::New(env, size_t(emb_.numel()));
    std::copy(emb_.data(), emb_.data() + emb_.numel(), a.Data());
    Napi::Object res = Napi::Object::New(env);
    res.Set("data", a);
    res.Set("dimension", Napi::Number::New(env, double(emb_.dim(0))));
    res.Set("frames", Napi::Number::New(env, double(emb_.dim(1))));
    return res;
  }

 private:
  ModelPtr model_;
  std::vector<float> wav_;
  alm::Tensor emb_;
};

int64_t get_levels(Napi::Env env, Napi::Value v) {
  if (!v.IsNumber()) throw make_error(env, "ERR_AUDIOLM_INVALID_ARGUMENT", "Expected a number of quantizer levels");
  return v.As<Napi::Number>().Int64Value();
}

}  // namespace

std::vector<Napi::ClassPropertyDescriptor<NativeCodec>> NativeCodec::Methods() {
  return {InstanceMethod<&NativeCodec::Config>("config"),
          InstanceMethod<&NativeCodec::Encode>("encode"),
          InstanceMethod<&NativeCodec::Decode>("decode"),
          InstanceMethod<&NativeCodec::Embed>("embed")};
}

Napi::Value NativeCodec::Config(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const alm::CodecConfig& c = model(env)->config();
  Napi::Object o = Napi::Object::New(env);
  o.Set("sampleRate", double(c.sample_rate));
  o.Set("channels", double(c.channels));
  o.Set("dimension", double(c.dimension));
  o.Set("hopLength", double(c.hop_length()));
  o.Set("frameRate", c.frame_rate());
  o.Set("codebookSize", double(c.codebook_size));
  o.Set("numQuantizers", double(c.num_quantizers));
  o.Set("causal", c.causal);
  o.Set("normalize", c.normalize);
  o.Set("segmentLength", double(c.segment_length()));
  o.Set("segmentStride", double(c.segment_stride()));
  Napi::Array bws = Napi::Array::New(env, c.target_bandwidths.size());
  for (size_t i = 0; i < c.target_bandwidths.size(); ++i) bws.Set(uint32_t(i), c.target_bandwidths[i]);
  o.Set("targetBandwidths", bws);
  o.Set("weightBytes", double(model(env)->weight_bytes()));
  o.Set("backend", model(env)->backend().name());
  return o;
}

Napi::Value NativeCodec::Encode(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto m = model(env);
  auto wavs = copy_float_arrays(env, info[0], "waveforms");
  auto* w = new EncodeWorker(env, m, std::move(wavs), get_levels(env, info[1]));
  auto p = w->promise();
  w->Queue();
  return p;
}

Napi::Value NativeCodec::Decode(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto m = model(env);
  if (!info[0].IsArray()) throw make_error(env, "ERR_AUDIOLM_INVALID_ARGUMENT", "Expected an array of Int32Array for codes");
  Napi::Array arr = info[0].As<Napi::Array>();
  std::vector<std::vector<int32_t>> codes;
  for (uint32_t i = 0; i < arr.Length(); ++i) {
    Napi::Value e = arr.Get(i);
    if (!e.IsTypedArray() || e.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
      throw make_error(env, "ERR_AUDIOLM_INVALID_ARGUMENT", "Expected an Int32Array for codes[" + std::to_string(i) + "]");
    auto ta = e.As<Napi::Int32Array>();
    codes.emplace_back(ta.Data(), ta.Data() + ta.ElementLength());
  }
  auto* w = new DecodeWorker(env, m, std::move(codes), get_levels(env, info[1]));
  auto p = w->promise();
  w->Queue();
  return p;
}

Napi::Value NativeCodec::Embed(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto m = model(env);
  auto wavs = copy_float_arrays(env, info[0], "waveforms");
  if (wavs.size() != 1) throw make_error(env, "ERR_AUDIOLM_INVALID_ARGUMENT", "embed takes exactly one waveform");
  auto* w = new EmbedWorker(env, m, std::move(wavs[0]));
  auto p = w->promise();
  w->Queue();
  return p;
}

}  // namespace alm_addon
