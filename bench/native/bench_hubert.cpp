// Times the HuBERT-base semantic tokenizer on the CPU with random weights: load (weight-norm
// fold included), the conv feature extractor alone, features at layer L, and tokens (features +
// 500-centroid assignment), reported as seconds of audio per second. Prints a table and, last,
// one JSON line. Medians of repeated runs after a warm-up.
//
//   build/bench/bench_hubert [--seconds 10] [--layer 9] [--clusters 500] [--runs 3] [--threads N]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <unistd.h>
#include <vector>

#include "core/threadpool.h"
#include "cpu/gemm.h"
#include "models/semantic_tokenizer.h"

using namespace alm;

namespace {

struct Blob {
  std::vector<int64_t> shape;
  std::vector<float> data;
};

// The smallest safetensors writer that serves: F32 tensors and the audiolm.config metadata.
void write_component(const std::string& path, const std::string& config, const std::map<std::string, Blob>& tensors) {
  std::string h = "{\"__metadata__\":{\"audiolm.config\":\"";
  for (char c : config) h += (c == '"' ? std::string("\\\"") : std::string(1, c));
  h += "\"}";
  uint64_t off = 0;
  for (auto& [name, b] : tensors) {
    h += ",\"" + name + "\":{\"dtype\":\"F32\",\"shape\":[";
    for (size_t i = 0; i < b.shape.size(); ++i) h += (i ? "," : "") + std::to_string(b.shape[i]);
    h += "],\"data_offsets\":[" + std::to_string(off) + "," + std::to_string(off + b.data.size() * 4) + "]}";
    off += b.data.size() * 4;
  }
  h += "}";
  while (h.size() % 8) h += ' ';
  std::ofstream f(path, std::ios::binary);
  const uint64_t n = h.size();
  f.write(reinterpret_cast<const char*>(&n), 8);
  f.write(h.data(), std::streamsize(n));
  for (auto& [name, b] : tensors) f.write(reinterpret_cast<const char*>(b.data.data()), std::streamsize(b.data.size() * 4));
}

// HuBERT base (hidden 768, 12 heads, FF 3072, 7 conv layers of 512) with `layers` encoder layers,
// weights uniform with variance 1 / fan_in so that activations keep their scale.
std::string make_model(const std::string& path, int64_t layers, int64_t clusters) {
  std::mt19937 gen(1234);
  std::map<std::string, Blob> t;
  auto rnd = [&](const std::string& name, std::vector<int64_t> shape, double fan_in) {
    int64_t n = 1;
    for (auto d : shape) n *= d;
    const float a = float(std::sqrt(3.0 / fan_in));
    std::uniform_real_distribution<float> u(-a, a);
    Blob b{shape, std::vector<float>(size_t(n))};
    for (auto& v : b.data) v = u(gen);
    t[name] = std::move(b);
  };
  auto fill = [&](const std::string& name, int64_t n, float v) { t[name] = Blob{{n}, std::vector<float>(size_t(n), v)}; };
  auto norm = [&](const std::string& p, int64_t n) { fill(p + ".weight", n, 1.f), fill(p + ".bias", n, 0.f); };
  auto linear = [&](const std::string& p, int64_t out, int64_t in) { rnd(p + ".weight", {out, in}, double(in)), fill(p + ".bias", out, 0.01f); };
  const int64_t kernels[] = {10, 3, 3, 3, 3, 2, 2};
  int64_t cin = 1;
  for (int i = 0; i < 7; ++i) {
    rnd("feature_extractor.conv_layers." + std::to_string(i) + ".conv.weight", {512, cin, kernels[i]}, double(cin * kernels[i]));
    cin = 512;
  }
  norm("feature_extractor.conv_layers.0.layer_norm", 512);
  norm("feature_projection.layer_norm", 512);
  linear("feature_projection.projection", 768, 512);
  rnd("encoder.pos_conv_embed.conv.weight_v", {768, 48, 128}, 48.0 * 128);
  fill("encoder.pos_conv_embed.conv.weight_g", 128, 0.3f);
  t["encoder.pos_conv_embed.conv.weight_g"].shape = {1, 1, 128};
  fill("encoder.pos_conv_embed.conv.bias", 768, 0.f);
  norm("encoder.layer_norm", 768);
  for (int64_t l = 0; l < layers; ++l) {
    const std::string p = "encoder.layers." + std::to_string(l);
    for (const char* m : {"q_proj", "k_proj", "v_proj", "out_proj"}) linear(p + ".attention." + m, 768, 768);
    norm(p + ".layer_norm", 768);
    linear(p + ".feed_forward.intermediate_dense", 3072, 768);
    linear(p + ".feed_forward.output_dense", 768, 3072);
    norm(p + ".final_layer_norm", 768);
  }
  rnd("kmeans.centroids", {clusters, 768}, 1.0);
  const std::string config = "{\"family\":\"semantic-tokenizer\",\"frontend\":\"hubert\",\"sampleRate\":16000,\"layer\":" +
                             std::to_string(layers) + ",\"clusters\":" + std::to_string(clusters) +
                             ",\"hubert\":{\"hiddenSize\":768,\"layers\":" + std::to_string(layers) +
                             ",\"heads\":12,\"intermediateSize\":3072,\"convDim\":[512,512,512,512,512,512,512],"
                             "\"convKernel\":[10,3,3,3,3,2,2],\"convStride\":[5,2,2,2,2,2,2],\"convBias\":false,"
                             "\"featExtractNorm\":\"group\",\"posConvKernel\":128,\"posConvGroups\":16,\"layerNormEps\":1e-5}}";
  write_component(path, config, t);
  return path;
}

double median_time(const std::function<void()>& fn, int runs) {
  using clock = std::chrono::steady_clock;
  fn();  // warm-up
  std::vector<double> times;
  for (int r = 0; r < runs; ++r) {
    const auto t0 = clock::now();
    fn();
    times.push_back(std::chrono::duration<double>(clock::now() - t0).count());
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 10;
  int64_t layer = 9, clusters = 500;
  int runs = 3;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--seconds") seconds = std::atof(argv[i + 1]);
    else if (a == "--layer") layer = std::atoll(argv[i + 1]);
    else if (a == "--clusters") clusters = std::atoll(argv[i + 1]);
    else if (a == "--runs") runs = std::atoi(argv[i + 1]);
    else if (a == "--threads") set_num_threads(std::atoi(argv[i + 1]));
    else {
      std::fprintf(stderr, "unknown option %s\n", a.c_str());
      return 2;
    }
  }
  const std::string path =
      (std::filesystem::temp_directory_path() / ("audiolm-bench-hubert-" + std::to_string(::getpid()) + ".safetensors")).string();
  try {
    make_model(path, layer, clusters);
    using clock = std::chrono::steady_clock;
    const auto t0 = clock::now();
    auto tok = SemanticTokenizer::load(path);
    const double load_s = std::chrono::duration<double>(clock::now() - t0).count();
    std::filesystem::remove(path);  // the mapping stays valid

    const int64_t T = int64_t(seconds * 16000);
    std::vector<float> wav(static_cast<size_t>(T));
    std::mt19937 gen(7);
    std::normal_distribution<float> noise(0.f, 0.02f);
    for (int64_t i = 0; i < T; ++i) wav[size_t(i)] = 0.3f * std::sin(0.031f * float(i)) * std::sin(0.0007f * float(i)) + noise(gen);

    const double conv_s = median_time([&] { tok->hubert()->extract_features(wav.data(), T); }, runs);
    const double feat_s = median_time([&] { tok->features(wav.data(), T); }, runs);
    const double tok_s = median_time([&] { tok->tokenize(wav.data(), T); }, runs);
    std::printf("HuBERT base, layer %lld, %lld clusters, %.1f s of audio (%lld frames), %d threads, %s kernels\n",
                (long long)layer, (long long)clusters, seconds, (long long)tok->config().frames_for(T), num_threads(),
                simd_avx2_active() ? "avx2+fma" : "portable");
    std::printf("%-28s %9.3f s\n", "load (fold weight norm)", load_s);
    std::printf("%-28s %9.3f s   %7.2f s audio / s\n", "conv feature extractor", conv_s, seconds / conv_s);
    std::printf("%-28s %9.3f s   %7.2f s audio / s\n", "features (layer L)", feat_s, seconds / feat_s);
    std::printf("%-28s %9.3f s   %7.2f s audio / s\n", "tokens", tok_s, seconds / tok_s);
    std::printf("{\"bench\":\"hubert\",\"layer\":%lld,\"clusters\":%lld,\"audio_s\":%.3f,\"threads\":%d,\"load_s\":%.4f,"
                "\"conv_s\":%.4f,\"features_s\":%.4f,\"tokenize_s\":%.4f,\"seconds_of_audio_per_second\":%.3f}\n",
                (long long)layer, (long long)clusters, seconds, num_threads(), load_s, conv_s, feat_s, tok_s, seconds / tok_s);
  } catch (const std::exception& e) {
    std::error_code ec;
    std::filesystem::remove(path, ec);
    std::fprintf(stderr, "bench_hubert: %s\n", e.what());
    return 1;
  }
  return 0;
}
