#include "transformer_wrap.h"

#include <functional>
#include <utility>
#include <vector>

#include "addon_data.h"
#include "worker.h"

namespace alm_addon {
namespace {

using ModelPtr = std::shared_ptr<alm::TransformerModel>;

Napi::Error arg_error(Napi::Env env, const std::string& msg) { return make_error(env, "ERR_AUDIOLM_INVALID_ARGUMENT", msg); }

std::unique_ptr<std::vector<std::vector<float>>> copy_contexts(Napi::Env env, Napi::Value v) {
  if (v.IsUndefined() || v.IsNull()) return nullptr;
  if (!v.IsArray()) throw arg_error(env, "Expected an array of Float32Array for contexts");
  Napi::Array arr = v.As<Napi::Array>();
  auto out = std::make_unique<std::vector<std::vector<float>>>();
  for (uint32_t i = 0; i < arr.Length(); ++i) {
    Napi::Value e = arr.Get(i);
    if (!e.IsTypedArray() || e.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
      throw arg_error(env, "Expected a Float32Array for contexts[" + std::to_string(i) + "]");
    auto ta = e.As<Napi::Float32Array>();
    out->emplace_back(ta.Data(), ta.Data() + ta.ElementLength());
  }
  return out;
}

std::vector<double> number_array(Napi::Env env, Napi::Object o, const char* key, size_t n) {
  Napi::Value v = o.Get(key);
  if (!v.IsArray()) throw arg_error(env, std::string("Expected an array for ") + key);
  Napi::Array a = v.As<Napi::Array>();
  if (a.Length() != n) throw arg_error(env, std::string("Expected ") + std::to_string(n) + " entries in " + key);
  std::vector<double> out(n);
  for (uint32_t i = 0; i < n; ++i) {
    Napi::Value e = a.Get(i);
    if (!e.IsNumber()) throw arg_error(env, std::string("Expected numbers in ") + key);
    out[i] = e.As<Napi::Number>().DoubleValue();
  }
  return out;
}

// One Float32Array per row; row(i) gives its start and length.
template <typename Row>
Napi::Array float_rows(Napi::Env env, size_t n, const Row& row) {
  Napi::Array arr = Napi::Array::New(env, n);
  for (size_t i = 0; i < n; ++i) {
    const auto [p, len] = row(i);
    auto a = Napi::Float32Array::New(env, len);
    std::copy(p, p + len, a.Data());
    arr.Set(uint32_t(i), a);
  }
  return arr;
}

class LogitsWorker : public PromiseWorker {
 public:
  LogitsWorker(Napi::Env env, ModelPtr m, std::vector<std::vector<int32_t>> tokens,
               std::unique_ptr<std::vector<std::vector<float>>> ctx, int64_t head)
      : PromiseWorker(env), model_(std::move(m)), tokens_(std::move(tokens)), ctx_(std::move(ctx)), head_(head) {}
  void Run() override {
    ALM_CHECK_ARG(!tokens_.empty(), "logits needs at least one row");
    int64_t cap = 1, C = model_->config().input_codebooks;
    for (auto& t : tokens_) cap = std::max<int64_t>(cap, int64_t(t.size()) / C);
    alm::TransformerSession s(model_, int64_t(tokens_.size()), cap);
    out_ = s.prefill_all(tokens_, ctx_.get(), head_);
  }
  Napi::Value Result(Napi::Env env) override {
    return float_rows(env, out_.size(), [&](size_t i) { return std::pair(out_[i].data(), out_[i].size()); });
  }

 private:
  ModelPtr model_;
  std::vector<std::vector<int32_t>> tokens_;
  std::unique_ptr<std::vector<std::vector<float>>> ctx_;
  int64_t head_;
  std::vector<std::vector<float>> out_;
};

// Marks the session busy for the lifetime of one call.
class SessionWorker : public PromiseWorker {
 public:
  SessionWorker(Napi::Env env, std::shared_ptr<SessionState> st) : PromiseWorker(env), st_(std::move(st)) {}
  ~SessionWorker() override { st_->busy.store(false); }

 protected:
  std::shared_ptr<SessionState> st_;
};

// A session call that resolves to undefined (prefill, extend).
class SessionTaskWorker : public SessionWorker {
 public:
  SessionTaskWorker(Napi::Env env, std::shared_ptr<SessionState> st, std::function<void(alm::TransformerSession&)> task)
      : SessionWorker(env, std::move(st)), task_(std::move(task)) {}
  void Run() override { task_(*st_->session); }
  Napi::Value Result(Napi::Env env) override { return env.Undefined(); }

 private:
  std::function<void(alm::TransformerSession&)> task_;
};

class GenerateWorker : public SessionWorker {
 public:
  GenerateWorker(Napi::Env env, std::shared_ptr<SessionState> st, alm::TransformerSession::GenerateRequest req)
      : SessionWorker(env, std::move(st)), req_(std::move(req)) {}
  void Run() override {
    tokens_ = st_->session->generate(req_);
    stopped_ = st_->session->stopped();
  }
  Napi::Value Result(Napi::Env env) override {
    Napi::Object res = Napi::Object::New(env);
    Napi::Array toks = Napi::Array::New(env, tokens_.size());
    Napi::Array stopped = Napi::Array::New(env, stopped_.size());
    for (size_t i = 0; i < tokens_.size(); ++i) {
      auto a = Napi::Int32Array::New(env, tokens_[i].size());
      std::copy(tokens_[i].begin(), tokens_[i].end(), a.Data());
      toks.Set(uint32_t(i), a);
      stopped.Set(uint32_t(i), Napi::Boolean::New(env, stopped_[i]));
    }
    res.Set("tokens", toks);
    res.Set("stopped", stopped);
    return res;
  }

 private:
  alm::TransformerSession::GenerateRequest req_;
  std::vector<std::vector<int32_t>> tokens_;
  std::vector<bool> stopped_;
};

}  // namespace

// ---- NativeTransformer ----

std::vector<Napi::ClassPropertyDescriptor<NativeTransformer>> NativeTransformer::Methods() {
  return {InstanceMethod<&NativeTransformer::Config>("config"),
          InstanceMethod<&NativeTransformer::Logits>("logits"),
          InstanceMethod<&NativeTransformer::CreateSession>("createSession")};
}

Napi::Value NativeTransformer::Config(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const alm::TransformerConfig& c = model(env)->config();
  Napi::Object o = Napi::Object::New(env);
  o.Set("family", "transformer");
  o.Set("vocabSize", double(c.vocab_size));
  o.Set("outputSize", double(c.output_size));
  o.Set("dim", double(c.dim));
  o.Set("layers", double(c.layers));
  o.Set("heads", double(c.heads));
  o.Set("kvHeads", double(c.kv_heads));
  o.Set("headDim", double(c.head_dim));
  o.Set("ffDim", double(c.ff_dim));
  o.Set("ff", c.ff);
  o.Set("norm", c.norm);
  o.Set("prenorm", c.prenorm);
  o.Set("causal", c.causal);
  o.Set("position", c.position);
  o.Set("maxPositions", double(c.max_positions));
  o.Set("crossAttention", c.cross_attention);
  o.Set("contextDim", double(c.context_dim));
  o.Set("inputCodebooks", double(c.input_codebooks));
  o.Set("sharedInputEmbedding", c.shared_input_embedding);
  o.Set("outputHeads", double(c.output_heads));
  o.Set("valueResidual", c.value_residual);
  o.Set("segmentBias", c.segment_bias);
  o.Set("backend", model(env)->backend().name());
  o.Set("weightBytes", double(model(env)->weight_bytes()));
  return o;
}

Napi::Value NativeTransformer::Logits(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto m = model(env);
  auto tokens = copy_int_arrays(env, info[0], "tokens");
  auto ctx = copy_contexts(env, info[1]);
  int64_t head = info[2].IsNumber() ? info[2].As<Napi::Number>().Int64Value() : 0;
  auto* w = new LogitsWorker(env, m, std::move(tokens), std::move(ctx), head);
  auto p = w->promise();
  w->Queue();
  return p;
}

Napi::Value NativeTransformer::CreateSession(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto m = model(env);
  if (!info[0].IsNumber() || !info[1].IsNumber()) throw arg_error(env, "Expected createSession(batch, capacity)");
  int64_t batch = info[0].As<Napi::Number>().Int64Value(), capacity = info[1].As<Napi::Number>().Int64Value();
  auto st = guard(env, [&] {
    auto s = std::make_shared<SessionState>();
    s->session = std::make_unique<alm::TransformerSession>(m, batch, capacity);
    return s;
  });
  auto* holder = new std::shared_ptr<SessionState>(st);
  auto ext = Napi::External<std::shared_ptr<SessionState>>::New(env, holder, [](Napi::Env, std::shared_ptr<SessionState>* p) { delete p; });
  return addon_data(env).session_ctor.New({ext});
}

// ---- NativeSession ----

std::vector<Napi::ClassPropertyDescriptor<NativeSession>> NativeSession::Methods() {
  return {InstanceMethod<&NativeSession::Prefill>("prefill"),
          InstanceMethod<&NativeSession::Generate>("generate"),
          InstanceMethod<&NativeSession::Extend>("extend"),
          InstanceMethod<&NativeSession::NextLogits>("nextLogits"),
          InstanceMethod<&NativeSession::Lengths>("lengths"),
          InstanceMethod<&NativeSession::Abort>("abort")};
}

static void claim(Napi::Env env, SessionState& st) {
  bool expected = false;
  if (!st.busy.compare_exchange_strong(expected, true))
    throw make_error(env, "ERR_AUDIOLM_INVALID_ARGUMENT", "this session is busy with another call; await it first");
}

// Claims the session and runs `task` on the pool; the promise resolves to undefined.
static Napi::Value queue_task(Napi::Env env, const std::shared_ptr<SessionState>& st,
                              std::function<void(alm::TransformerSession&)> task) {
  claim(env, *st);
  auto* w = new SessionTaskWorker(env, st, std::move(task));
  auto p = w->promise();
  w->Queue();
  return p;
}

Napi::Value NativeSession::Prefill(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto st = held(env);
  auto prompts = copy_int_arrays(env, info[0], "prompts");
  std::shared_ptr<std::vector<std::vector<float>>> ctx = copy_contexts(env, info[1]);
  return queue_task(env, st, [prompts = std::move(prompts), ctx](alm::TransformerSession& s) { s.prefill(prompts, ctx.get()); });
}

Napi::Value NativeSession::Generate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto st = held(env);
  if (!info[0].IsObject()) throw arg_error(env, "Expected a request object for generate");
  Napi::Object o = info[0].As<Napi::Object>();
  const size_t B = size_t(st->session->batch());
  alm::TransformerSession::GenerateRequest req;
  if (!o.Get("steps").IsNumber()) throw arg_error(env, "Expected a number for steps");
  req.steps = o.Get("steps").As<Napi::Number>().Int64Value();
  auto temp = number_array(env, o, "temperature", B), topk = number_array(env, o, "topK", B), topp = number_array(env, o, "topP", B);
  auto seeds = number_array(env, o, "seeds", B);
  for (size_t i = 0; i < B; ++i) {
    alm::SampleParams p;
    p.temperature = float(temp[i]);
    p.top_k = int32_t(topk[i]);
    p.top_p = float(topp[i]);
    req.params.push_back(p);
    req.seeds.push_back(uint64_t(seeds[i]));
  }
  Napi::Value rv = o.Get("ranges");
  if (rv.IsArray()) {
    Napi::Array ranges = rv.As<Napi::Array>();
    for (uint32_t i = 0; i < ranges.Length(); ++i) {
      Napi::Value e = ranges.Get(i);
      if (!e.IsObject()) throw arg_error(env, "Expected {lo, hi, extra} objects in ranges");
      Napi::Object r = e.As<Napi::Object>();
      alm::TokenRange tr;
      tr.lo = r.Get("lo").As<Napi::Number>().Int32Value();
      tr.hi = r.Get("hi").As<Napi::Number>().Int32Value();
      Napi::Value ex = r.Get("extra");
      if (ex.IsArray()) {
        Napi::Array xa = ex.As<Napi::Array>();
        for (uint32_t j = 0; j < xa.Length(); ++j) tr.extra.push_back(xa.Get(j).As<Napi::Number>().Int32Value());
      }
      req.ranges.push_back(tr);
    }
    auto origins = number_array(env, o, "origins", B);
    for (double d : origins) req.origins.push_back(int64_t(d));
  }
  Napi::Value eos = o.Get("eos");
  req.eos = eos.IsNumber() ? eos.As<Napi::Number>().Int32Value() : -1;
  if (o.Get("guide").IsArray()) {
    auto guide = number_array(env, o, "guide", B), scale = number_array(env, o, "guideScale", B);
    for (size_t i = 0; i < B; ++i) {
      req.guide.push_back(int64_t(guide[i]));
      req.guide_scale.push_back(float(scale[i]));
    }
  }
  claim(env, *st);
  auto* w = new GenerateWorker(env, st, std::move(req));
  auto p = w->promise();
  w->Queue();
  return p;
}

Napi::Value NativeSession::Extend(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto st = held(env);
  auto tokens = copy_int_arrays(env, info[0], "tokens");
  return queue_task(env, st, [tokens = std::move(tokens)](alm::TransformerSession& s) { s.extend(tokens); });
}

Napi::Value NativeSession::NextLogits(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto st = held(env);
  if (st->busy.load()) throw make_error(env, "ERR_AUDIOLM_INVALID_ARGUMENT", "this session is busy with another call");
  alm::TransformerSession& s = *st->session;
  const auto& all = s.last_logits();
  const size_t V = all.size() / size_t(s.batch());
  return float_rows(env, size_t(s.batch()), [&](size_t r) { return std::pair(all.data() + r * V, V); });
}

Napi::Value NativeSession::Lengths(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto st = held(env);
  if (st->busy.load()) throw make_error(env, "ERR_AUDIOLM_INVALID_ARGUMENT", "this session is busy with another call");
  const auto& len = st->session->lengths();
  Napi::Array arr = Napi::Array::New(env, len.size());
  for (size_t i = 0; i < len.size(); ++i) arr.Set(uint32_t(i), double(len[i]));
  return arr;
}

Napi::Value NativeSession::Abort(const Napi::CallbackInfo& info) {
  if (SessionState* st = live()) st->session->abort();
  return info.Env().Undefined();
}

}  // namespace alm_addon
