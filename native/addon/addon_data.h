// Per-environment data (the addon is context-aware: worker threads each get their own).
#pragma once
#include <napi.h>

namespace alm_addon {
struct AddonData {
  Napi::FunctionReference codec_ctor;
  Napi::FunctionReference transformer_ctor;
  Napi::FunctionReference session_ctor;
  Napi::FunctionReference tokenizer_ctor;
};
inline AddonData& addon_data(Napi::Env env) { return *env.GetInstanceData<AddonData>(); }
}  // namespace alm_addon
