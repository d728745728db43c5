// Module entry: build and device information, thread settings, and the model classes.
#include <napi.h>

#include "addon_data.h"
#include "codec_wrap.h"
#include "tokenizer_wrap.h"
#include "transformer_wrap.h"
#include "core/device.h"
#include "core/threadpool.h"
#include "cpu/gemm.h"
#include "worker.h"

namespace alm_addon {
namespace {

Napi::Value Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const alm::DeviceInfo& d = alm::devices();
  Napi::Object o = Napi::Object::New(env);
  o.Set("cudaCompiled", d.cuda_compiled);
  o.Set("cudaStatus", d.status);
  o.Set("cudaDriverVersion", d.driver_version);
  o.Set("cudaRuntimeVersion", d.runtime_version);
  Napi::Array gpus = Napi::Array::New(env, d.gpus.size());
  for (size_t i = 0; i < d.gpus.size(); ++i) {
    const alm::GpuInfo& g = d.gpus[i];
    Napi::Object go = Napi::Object::New(env);
    go.Set("index", g.index);
    go.Set("name", g.name);
    go.Set("computeCapability", std::to_string(g.major) + "." + std::to_string(g.minor));
    go.Set("totalMemory", double(g.total_memory));
    go.Set("multiprocessors", g.multiprocessors);
    gpus.Set(uint32_t(i), go);
  }
  o.Set("gpus", gpus);
  o.Set("threads", alm::num_threads());
  o.Set("cpuKernels", alm::simd_kernel_name());
#ifdef NDEBUG
  o.Set("buildType", "release");
#else
  o.Set("buildType", "debug");
#endif
  return o;
}

Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber())
    throw make_error(env, "ERR_AUDIOLM_INVALID_ARGUMENT", "Expected a number for setThreads(n)");
  alm::set_num_threads(info[0].As<Napi::Number>().Int32Value());
  return Napi::Number::New(env, alm::num_threads());
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  auto* data = new AddonData();
  env.SetInstanceData<AddonData>(data);
  NativeCodec::Export(env, exports);
  NativeTransformer::Export(env, exports);
  NativeSemanticTokenizer::Export(env, exports);
  data->session_ctor = Napi::Persistent(NativeSession::Define(env));
  exports.Set("info", Napi::Function::New(env, Info, "info"));
  exports.Set("setThreads", Napi::Function::New(env, SetThreads, "setThreads"));
  return exports;
}

}  // namespace
}  // namespace alm_addon

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) { return alm_addon::Init(env, exports); }

NODE_API_MODULE(audiolm, InitAddon)
