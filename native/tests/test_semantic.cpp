// Semantic tokenizer against the reference fixtures (test/fixtures/semantic, written by
// test/fixtures/make_semantic_fixtures.py: a toy-width HuBERT with random weights in Hugging Face
// layout, sklearn k-means, the numpy MFCC of docs/mfcc.md). The fixture model is an HF
// checkpoint, not a component, so each test writes a component the way the converter does: the
// HF tensors re-emitted with our `audiolm.config` and `kmeans.centroids`.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <unistd.h>

#include "core/json.h"
#include "core/safetensors.h"
#include "cpu/gemm.h"
#include "cpu/norm.h"
#include "harness.h"
#include "models/semantic_tokenizer.h"
#include "models/weight_norm.h"
#include "npy.h"

using namespace alm;
namespace fs = std::filesystem;

namespace {

constexpr double kTol = 1e-4;  // relative L2 against the reference (the bound)
const int kInputs[] = {0, 1, 2};

std::string fixture(const std::string& name) {
  const char* env = std::getenv("AUDIOLM_FIXTURES");
  std::string root = std::string(env ? env : "test/fixtures") + "/semantic";
  if (!fs::exists(root + "/hf/model.safetensors")) throw alm_test::Failure{"no fixtures at " + root + " (run from the repo root)"};
  return root + "/" + name;
}
std::vector<float> f32(const std::string& name) { return alm_test::read_npy(fixture(name)).f32(); }
std::vector<int32_t> i32(const std::string& name) { return alm_test::read_npy(fixture(name)).i32(); }
std::string idx(const std::string& stem, int i, const std::string& suffix = "") {
  return stem + "_" + std::to_string(i) + suffix + ".npy";
}

// A scratch directory removed when the tests end.
struct Scratch {
  fs::path dir = fs::temp_directory_path() / ("audiolm-test-semantic-" + std::to_string(::getpid()));
  Scratch() { fs::create_directories(dir); }
  ~Scratch() {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  std::string file(const std::string& name) const { return (dir / name).string(); }
};
Scratch& scratch() {
  static Scratch s;
  return s;
}

// ---- a minimal safetensors writer (F32 only) ----
struct StTensor {
  Shape shape;
  std::vector<float> data;
};
using StMap = std::map<std::string, StTensor>;

std::string json_quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

void write_safetensors(const std::string& path, const std::string& config, const StMap& tensors) {
  std::string h = "{\"__metadata__\":{\"audiolm.config\":" + json_quote(config) + "}";
  uint64_t off = 0;
  for (auto& [name, t] : tensors) {
    const uint64_t bytes = t.data.size() * 4;
    h += "," + json_quote(name) + ":{\"dtype\":\"F32\",\"shape\":[";
    for (size_t i = 0; i < t.shape.size(); ++i) h += (i ? "," : "") + std::to_string(t.shape[i]);
    h += "],\"data_offsets\":[" + std::to_string(off) + "," + std::to_string(off + bytes) + "]}";
    off += bytes;
  }
  h += "}";
  while (h.size() % 8) h += ' ';
  std::ofstream f(path, std::ios::binary);
  const uint64_t n = h.size();
  f.write(reinterpret_cast<const char*>(&n), 8);
  f.write(h.data(), std::streamsize(h.size()));
  for (auto& [name, t] : tensors) f.write(reinterpret_cast<const char*>(t.data.data()), std::streamsize(t.data.size() * 4));
}

// Every tensor of the fixture's HF model.safetensors, as f32.
StMap hf_tensors() {
  auto wf = WeightsFile::open(fixture("hf/model.safetensors"));
  StMap out;
  for (auto& name : wf->names()) {
    Tensor t = wf->f32(name);
    out[name] = StTensor{t.shape(), std::vector<float>(t.data(), t.data() + t.numel())};
  }
  return out;
}

// A JSON object built member by member; set() replaces a member or appends it.
struct Obj {
  std::vector<std::pair<std::string, std::string>> kv;
  Obj& set(const std::string& k, const std::string& raw) {
    for (auto& e : kv)
      if (e.first == k) return e.second = raw, *this;
    kv.emplace_back(k, raw);
    return *this;
  }
  std::string str() const {
    std::string s = "{";
    for (size_t i = 0; i < kv.size(); ++i) s += (i ? "," : "") + json_quote(kv[i].first) + ":" + kv[i].second;
    return s + "}";
  }
};

std::string int_array(const Json& j, const std::string& key) {
  std::string s = "[";
  for (auto& v : j.find(key)->array(key)) s += (s.size() > 1 ? "," : "") + std::to_string(v.integer(key));
  return s + "]";
}

// Our `hubert` config section, read off the fixture's HF config.json.
Obj hubert_section() {
  std::ifstream f(fixture("hf/config.json"));
  std::string text((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  Json hf = Json::parse(text, "config.json");
  Obj h;
  h.set("hiddenSize", std::to_string(hf.get_int("hidden_size", 0)))
      .set("layers", std::to_string(hf.get_int("num_hidden_layers", 0)))
      .set("heads", std::to_string(hf.get_int("num_attention_heads", 0)))
      .set("intermediateSize", std::to_string(hf.get_int("intermediate_size", 0)))
      .set("convDim", int_array(hf, "conv_dim"))
      .set("convKernel", int_array(hf, "conv_kernel"))
      .set("convStride", int_array(hf, "conv_stride"))
      .set("convBias", hf.get_bool("conv_bias", false) ? "true" : "false")
      .set("featExtractNorm", json_quote(hf.get_string("feat_extract_norm", "")))
      .set("posConvKernel", std::to_string(hf.get_int("num_conv_pos_embeddings", 0)))
      .set("posConvGroups", std::to_string(hf.get_int("num_conv_pos_embedding_groups", 0)))
      .set("layerNormEps", std::to_string(hf.get_number("layer_norm_eps", 0)))
      .set("doStableLayerNorm", "false");
  return h;
}

Obj top_config(const std::string& frontend, int64_t clusters) {
  Obj c;
  c.set("family", "\"semantic-tokenizer\"").set("frontend", json_quote(frontend)).set("sampleRate", "16000");
  c.set("clusters", std::to_string(clusters));
  return c;
}

StTensor centroids(const std::string& npy) {
  auto n = alm_test::read_npy(fixture(npy));
  return StTensor{n.shape, n.f32()};
}

// A HuBERT component clustering layer `layer`, with encoder layers >= `stored` dropped from the
// file (the converter keeps exactly `layer`).
std::string hubert_component(const std::string& name, int64_t layer, int64_t stored, const std::string& kmeans = "kmeans_centroids.npy",
                             StMap tensors = hf_tensors()) {
  for (auto it = tensors.begin(); it != tensors.end();) {
    int n = -1;
    if (std::sscanf(it->first.c_str(), "encoder.layers.%d.", &n) == 1 && n >= stored) it = tensors.erase(it);
    else ++it;
  }
  tensors["kmeans.centroids"] = centroids(kmeans);
  Obj h = hubert_section();
  h.set("layers", std::to_string(stored));
  Obj c = top_config("hubert", tensors["kmeans.centroids"].shape[0]);
  c.set("layer", std::to_string(layer)).set("hubert", h.str());
  std::string path = scratch().file(name);
  write_safetensors(path, c.str(), tensors);
  return path;
}

std::string mfcc_component(const std::string& name, const std::string& mfcc_section = "{}") {
  StMap t;
  t["kmeans.centroids"] = centroids("mfcc_kmeans_centroids.npy");
  Obj c = top_config("mfcc", t["kmeans.centroids"].shape[0]);
  c.set("mfcc", mfcc_section);
  std::string path = scratch().file(name);
  write_safetensors(path, c.str(), t);
  return path;
}

double fraction_equal(const std::vector<int32_t>& a, const std::vector<int32_t>& b) {
  if (a.size() != b.size() || a.empty()) return a.size() == b.size() ? 1.0 : 0.0;
  size_t same = 0;
  for (size_t i = 0; i < a.size(); ++i) same += a[i] == b[i];
  return double(same) / double(a.size());
}

double max_abs(const float* a, const float* b, size_t n) {
  double m = 0;
  for (size_t i = 0; i < n; ++i) m = std::max(m, std::abs(double(a[i]) - double(b[i])));
  return m;
}

void expect_close(const Tensor& got, const std::vector<float>& want, const std::string& what, double* err_out = nullptr) {
  EXPECT_MSG(size_t(got.numel()) == want.size(), what + ": " + std::to_string(got.numel()) + " values, want " + std::to_string(want.size()));
  double e = alm_test::rel_l2(got.data(), want.data(), want.size());
  if (err_out) *err_out = e;
  EXPECT_MSG(e < kTol, what + ": relative L2 error " + std::to_string(e));
}

}  // namespace

TEST(group_norm_matches_reference) {
  struct Case { int64_t C, T, G; bool affine; };
  const Case cases[] = {{16, 1000, 16, true}, {512, 777, 512, true}, {32, 5000, 4, true}, {8, 3, 1, true}, {6, 40001, 2, false}};
  for (bool simd : {true, false}) {
    set_simd_enabled(simd);
    uint32_t seed = 1;
    for (const Case& c : cases) {
      // An offset keeps the mean well away from zero, as after a conv with a DC response.
      auto x = alm_test::random_vec(size_t(c.C * c.T), seed++, -1.f, 3.f);
      auto w = alm_test::random_vec(size_t(c.C), seed++), b = alm_test::random_vec(size_t(c.C), seed++);
      std::vector<float> got(x.size()), want(x.size());
      const float* wp = c.affine ? w.data() : nullptr;
      const float* bp = c.affine ? b.data() : nullptr;
      group_norm(x.data(), c.C, c.T, c.G, wp, bp, 1e-5f, got.data());
      group_norm_ref(x.data(), c.C, c.T, c.G, wp, bp, 1e-5f, want.data());
      EXPECT_CLOSE(got.data(), want.data(), got.size(), 1e-5);
      group_norm(x.data(), c.C, c.T, c.G, wp, bp, 1e-5f, x.data());  // in place
      EXPECT(x == got);
    }
  }
  set_simd_enabled(true);
  std::vector<float> x(12);
  EXPECT_THROWS_CODE(group_norm(x.data(), 4, 3, 3, nullptr, nullptr, 1e-5f, x.data()), "ERR_AUDIOLM_INVALID_ARGUMENT");
}

TEST(weight_norm_folds_over_the_kernel_dim) {
  // g [1, 1, K] and v [O, I, K]: w[:, :, k] = g[k] v[:, :, k] / ||v[:, :, k]||.
  const int64_t O = 6, I = 3, K = 5;
  StMap t;
  t["c.weight_g"] = StTensor{{1, 1, K}, alm_test::random_vec(K, 7, -1.5f, 1.5f)};
  t["c.weight_v"] = StTensor{{O, I, K}, alm_test::random_vec(size_t(O * I * K), 8)};
  const std::string path = scratch().file("wn.safetensors");
  write_safetensors(path, "{}", t);
  Tensor w = load_conv_weight(*WeightsFile::open(path), "c.", {O, I, K}, 2);
  std::vector<float> want(size_t(O * I * K));
  for (int64_t k = 0; k < K; ++k) {
    double ss = 0;
    for (int64_t r = 0; r < O * I; ++r) ss += double(t["c.weight_v"].data[size_t(r * K + k)]) * t["c.weight_v"].data[size_t(r * K + k)];
    for (int64_t r = 0; r < O * I; ++r)
      want[size_t(r * K + k)] = float(t["c.weight_g"].data[size_t(k)] * t["c.weight_v"].data[size_t(r * K + k)] / std::sqrt(ss));
  }
  EXPECT_CLOSE(w.data(), want.data(), want.size(), 1e-6);
  // A gain of the wrong shape (dim 0's [O, 1, 1]) is named.
  EXPECT_THROWS_CODE(load_conv_weight(*WeightsFile::open(path), "c.", {O, I, K}, 0), "ERR_AUDIOLM_INVALID_MODEL");
}

TEST(hubert_hidden_states_match_reference_at_every_layer) {
  auto tok = SemanticTokenizer::load(hubert_component("all_layers.safetensors", 3, 3), backend_named("cpu"));
  const HubertModel* h = tok->hubert();
  EXPECT(h != nullptr && h->loaded_layers() == 3);
  for (int i : kInputs) {
    auto wav = f32(idx("input", i));
    double err = 0;
    expect_close(h->extract_features(wav.data(), int64_t(wav.size())), f32(idx("features", i)), idx("features", i), &err);
    std::printf("     input %d (%zu samples): conv features rel L2 %.2e", i, wav.size(), err);
    std::vector<Tensor> all;
    h->forward(wav.data(), int64_t(wav.size()), 3, &all);
    EXPECT(all.size() == 4);
    for (int l = 0; l <= 3; ++l) {
      expect_close(all[size_t(l)], f32(idx("hidden", i, "_L" + std::to_string(l))), idx("hidden", i, "_L" + std::to_string(l)), &err);
      std::printf(", L%d %.2e", l, err);
    }
    std::printf("\n");
  }
}

TEST(hubert_features_in_blocks_match_one_pass) {
  // Long inputs run the conv stack a block of frames at a time, with the first layer's group norm
  // statistics from a streamed pass: blocks of 1, 3 and 7 frames against the whole input at once.
  auto tok = SemanticTokenizer::load(hubert_component("blocks.safetensors", 1, 1), backend_named("cpu"));
  const HubertModel* h = tok->hubert();
  for (int i : kInputs) {
    auto wav = f32(idx("input", i));
    const int64_t n = int64_t(wav.size());
    Tensor whole = h->extract_features(wav.data(), n, 1 << 30);
    if (i == 0) EXPECT(whole.dim(0) > 7);
    for (int64_t block : {1, 3, 7}) {
      if (block >= whole.dim(0)) continue;  // one block: the one-pass path itself
      Tensor part = h->extract_features(wav.data(), n, block);
      EXPECT(part.dim(0) == whole.dim(0) && part.dim(1) == whole.dim(1));
      double err = 0;
      expect_close(part, std::vector<float>(whole.data(), whole.data() + whole.numel()), "blocks of " + std::to_string(block), &err);
      EXPECT_MSG(err < 1e-5, "blocks of " + std::to_string(block) + ": relative L2 " + std::to_string(err));
      std::printf("     input %d, blocks of %lld frames: rel L2 %.2e against one pass\n", i, (long long)block, err);
    }
  }
}

TEST(hubert_tokens_match_sklearn_labels) {
  // The converter's layout: layer 2 clustered, layers past 2 not stored.
  for (auto [km, labels] : {std::pair<std::string, std::string>{"kmeans_centroids.npy", "labels"},
                            {"kmeans_minibatch_centroids.npy", "minibatch_labels"}}) {
    auto tok = SemanticTokenizer::load(hubert_component("layer2_" + km + ".safetensors", 2, 2, km), backend_named("cpu"));
    const auto& c = tok->config();
    EXPECT(c.frontend == "hubert" && c.layer == 2 && c.feature_dim() == 32 && c.clusters == 16);
    EXPECT(std::abs(c.frame_rate() - 50.0) < 1e-12);
    for (int i : kInputs) {
      auto wav = f32(idx("input", i));
      expect_close(tok->features(wav.data(), int64_t(wav.size())), f32(idx("hidden", i, "_L2")), "layer-2 features");
      auto got = tok->tokenize(wav.data(), int64_t(wav.size()));
      double agree = fraction_equal(got, i32(idx(labels, i)));
      EXPECT_MSG(agree >= 0.999, km + " input " + std::to_string(i) + ": tokens agree on " + std::to_string(agree));
    }
  }
}

TEST(layer_zero_runs_no_encoder_layer) {
  auto tok = SemanticTokenizer::load(hubert_component("layer0.safetensors", 0, 0), backend_named("cpu"));
  EXPECT(tok->config().layer == 0 && tok->hubert()->loaded_layers() == 0);
  for (int i : kInputs) {
    auto wav = f32(idx("input", i));
    expect_close(tok->features(wav.data(), int64_t(wav.size())), f32(idx("hidden", i, "_L0")), idx("hidden", i, "_L0"));
  }
}

TEST(positional_conv_weight_in_every_stored_form_gives_the_same_features) {
  StMap base = hf_tensors();
  const std::string p = "encoder.pos_conv_embed.conv.";
  StTensor g = base.at(p + "parametrizations.weight.original0"), v = base.at(p + "parametrizations.weight.original1");
  StMap gv = base;
  gv.erase(p + "parametrizations.weight.original0");
  gv.erase(p + "parametrizations.weight.original1");
  StMap folded = gv;
  gv[p + "weight_g"] = g;
  gv[p + "weight_v"] = v;
  // Folded in the test, in double, as an independent check of the loader's fold.
  const int64_t K = v.shape[2], R = v.shape[0] * v.shape[1];
  StTensor w{v.shape, v.data};
  for (int64_t k = 0; k < K; ++k) {
    double ss = 0;
    for (int64_t r = 0; r < R; ++r) ss += double(v.data[size_t(r * K + k)]) * v.data[size_t(r * K + k)];
    for (int64_t r = 0; r < R; ++r) w.data[size_t(r * K + k)] = float(g.data[size_t(k)] * v.data[size_t(r * K + k)] / std::sqrt(ss));
  }
  folded[p + "weight"] = w;
  auto wav = f32("input_1.npy");
  auto want = f32("hidden_1_L2.npy");
  for (auto& [name, t] : {std::pair<std::string, StMap>{"gv", gv}, {"folded", folded}}) {
    auto tok = SemanticTokenizer::load(hubert_component("pos_" + name + ".safetensors", 2, 2, "kmeans_centroids.npy", t), backend_named("cpu"));
    expect_close(tok->features(wav.data(), int64_t(wav.size())), want, "pos conv stored as " + name);
  }
}

TEST(frames_follow_the_receptive_field_and_hop) {
  auto tok = SemanticTokenizer::load(hubert_component("frames.safetensors", 1, 1), backend_named("cpu"));
  auto mf = SemanticTokenizer::load(mfcc_component("frames_mfcc.safetensors"), backend_named("cpu"));
  auto long_wav = f32("input_1.npy");
  for (int64_t T : {400, 719, 720, 1039, 1040, 8000, 20800}) {
    const int64_t want = (T - 400) / 320 + 1;
    EXPECT(tok->config().frames_for(T) == want && mf->config().frames_for(T) == want);
    EXPECT(tok->features(long_wav.data(), T).dim(0) == want);
    EXPECT(int64_t(mf->tokenize(long_wav.data(), T).size()) == want);
  }
  EXPECT(tok->config().min_samples() == 400 && mf->config().min_samples() == 400);
}

TEST(batch_items_are_independent_of_their_batch) {
  auto tok = SemanticTokenizer::load(hubert_component("batch.safetensors", 2, 2), backend_named("cpu"));
  std::vector<std::vector<float>> wavs = {f32("input_1.npy"), f32("input_2.npy"), f32("input_0.npy")};
  auto feats = tok->features(wavs);
  auto toks = tok->tokenize(wavs);
  EXPECT(feats.size() == 3 && toks.size() == 3);
  for (size_t i = 0; i < wavs.size(); ++i) {
    Tensor alone = tok->features(wavs[i].data(), int64_t(wavs[i].size()));
    EXPECT(alone.numel() == feats[i].numel());
    EXPECT(std::equal(alone.data(), alone.data() + alone.numel(), feats[i].data()));
    EXPECT(toks[i] == tok->tokenize(wavs[i].data(), int64_t(wavs[i].size())));
  }
}

TEST(mfcc_features_and_tokens_match_reference) {
  auto tok = SemanticTokenizer::load(mfcc_component("mfcc.safetensors"), backend_named("cpu"));
  auto raw = SemanticTokenizer::load(mfcc_component("mfcc_raw.safetensors", "{\"cmvn\":false}"), backend_named("cpu"));
  const auto& c = tok->config();
  EXPECT(c.frontend == "mfcc" && c.feature_dim() == 39 && c.clusters == 16 && tok->hubert() == nullptr);
  for (int i : kInputs) {
    auto wav = f32(idx("input", i));
    Tensor feat = tok->features(wav.data(), int64_t(wav.size()));
    auto want = f32(idx("mfcc", i));
    double err = 0, raw_err = 0;
    expect_close(feat, want, idx("mfcc", i), &err);
    expect_close(raw->features(wav.data(), int64_t(wav.size())), f32(idx("mfcc_raw", i)), idx("mfcc_raw", i), &raw_err);
    std::printf("     input %d: MFCC rel L2 %.2e (max abs %.2e), before CMVN rel L2 %.2e\n", i, err,
                max_abs(feat.data(), want.data(), want.size()), raw_err);
    EXPECT_MSG(tok->tokenize(wav.data(), int64_t(wav.size())) == i32(idx("mfcc_labels", i)), "MFCC tokens of input " + std::to_string(i));
  }
}

TEST(mfcc_filterbank_matches_reference) {
  Mfcc m{MfccConfig{}};
  auto want = f32("mfcc_filterbank.npy");
  EXPECT(m.filterbank().size() == want.size());
  EXPECT(max_abs(m.filterbank().data(), want.data(), want.size()) < 1e-6);
}

TEST(bad_audio_is_a_clear_error) {
  auto hub = SemanticTokenizer::load(hubert_component("bad_audio.safetensors", 1, 1), backend_named("cpu"));
  auto mf = SemanticTokenizer::load(mfcc_component("bad_audio_mfcc.safetensors"), backend_named("cpu"));
  auto wav = f32("input_0.npy");
  for (auto* t : {hub.get(), mf.get()}) {
    EXPECT_THROWS_CODE(t->tokenize(wav.data(), 399), "ERR_AUDIOLM_INVALID_ARGUMENT");
    EXPECT_THROWS_CODE(t->features(wav.data(), 0), "ERR_AUDIOLM_INVALID_ARGUMENT");
    auto nan = wav;
    nan[1234] = std::nanf("");
    EXPECT_THROWS_CODE(t->tokenize(nan.data(), int64_t(nan.size())), "ERR_AUDIOLM_INVALID_ARGUMENT");
    nan[1234] = INFINITY;
    EXPECT_THROWS_CODE(t->tokenize(std::vector<std::vector<float>>{wav, nan}), "ERR_AUDIOLM_INVALID_ARGUMENT");
    EXPECT(t->tokenize(wav.data(), 400).size() == 1);  // and it still works
  }
  try {
    hub->tokenize(wav.data(), 399);
  } catch (const Error& e) {
    EXPECT_MSG(std::string(e.what()).find("at least 400") != std::string::npos, e.what());
  }
}

TEST(bad_components_are_clear_errors) {
  const std::string bad = "ERR_AUDIOLM_INVALID_MODEL";
  // Wrong tensor shapes.
  {
    StMap t = hf_tensors();
    t["feature_extractor.conv_layers.3.conv.weight"].shape = {16, 16, 2};
    t["feature_extractor.conv_layers.3.conv.weight"].data.resize(16 * 16 * 2);
    EXPECT_THROWS_CODE(SemanticTokenizer::load(hubert_component("bad_conv.safetensors", 1, 1, "kmeans_centroids.npy", t), backend_named("cpu")), bad);
  }
  EXPECT_THROWS_CODE(SemanticTokenizer::load(hubert_component("bad_km.safetensors", 1, 1, "mfcc_kmeans_centroids.npy"), backend_named("cpu")), bad);
  {
    StMap t;
    t["kmeans.centroids"] = centroids("kmeans_centroids.npy");  // 32-dimensional, MFCC is 39
    write_safetensors(scratch().file("bad_mfcc_km.safetensors"), top_config("mfcc", 16).str(), t);
    EXPECT_THROWS_CODE(SemanticTokenizer::load(scratch().file("bad_mfcc_km.safetensors"), backend_named("cpu")), bad);
    t["kmeans.centroids"] = centroids("mfcc_kmeans_centroids.npy");
    t["kmeans.centroids"].data[17] = std::nanf("");
    write_safetensors(scratch().file("nan_km.safetensors"), top_config("mfcc", 16).str(), t);
    EXPECT_THROWS_CODE(SemanticTokenizer::load(scratch().file("nan_km.safetensors"), backend_named("cpu")), bad);
  }
  // Layer 2 clustered but only layer 1 stored: the config says so and is refused; a config that
  // claims the layer is there while its tensors are missing names the tensor.
  EXPECT_THROWS_CODE(SemanticTokenizer::load(hubert_component("few_layers.safetensors", 2, 1), backend_named("cpu")), bad);
  {
    StMap t = hf_tensors();
    t.erase("encoder.layers.1.feed_forward.output_dense.weight");
    try {
      SemanticTokenizer::load(hubert_component("missing.safetensors", 2, 2, "kmeans_centroids.npy", t), backend_named("cpu"));
      throw alm_test::Failure{"a missing tensor was accepted"};
    } catch (const Error& e) {
      EXPECT(std::string(e.code()) == bad);
      EXPECT_MSG(std::string(e.what()).find("encoder.layers.1.feed_forward.output_dense.weight") != std::string::npos, e.what());
    }
  }
  // Bad configs.
  auto with_config = [&](const std::string& name, const Obj& cfg) {
    StMap t = hf_tensors();
    t["kmeans.centroids"] = centroids("kmeans_centroids.npy");
    write_safetensors(scratch().file(name), cfg.str(), t);
    return scratch().file(name);
  };
  auto hub_cfg = [&](const std::string& key, const std::string& raw) {
    Obj h = hubert_section();
    h.set(key, raw);
    Obj c = top_config("hubert", 16);
    return c.set("layer", "1").set("hubert", h.str());
  };
  EXPECT_THROWS_CODE(SemanticTokenizer::load(with_config("fe.safetensors", top_config("wav2vec", 16).set("layer", "1")), backend_named("cpu")), bad);
  EXPECT_THROWS_CODE(SemanticTokenizer::load(with_config("fam.safetensors", top_config("hubert", 16).set("family", "\"encodec\"")), backend_named("cpu")), bad);
  EXPECT_THROWS_CODE(SemanticTokenizer::load(with_config("nohub.safetensors", top_config("hubert", 16).set("layer", "1")), backend_named("cpu")), bad);
  EXPECT_THROWS_CODE(SemanticTokenizer::load(with_config("norm.safetensors", hub_cfg("featExtractNorm", "\"batch\"")), backend_named("cpu")), bad);
  EXPECT_THROWS_CODE(SemanticTokenizer::load(with_config("heads.safetensors", hub_cfg("heads", "5")), backend_named("cpu")), bad);
  EXPECT_THROWS_CODE(SemanticTokenizer::load(with_config("convs.safetensors", hub_cfg("convStride", "[5,2]")), backend_named("cpu")), bad);
  EXPECT_THROWS_CODE(SemanticTokenizer::load(with_config("stable.safetensors", hub_cfg("doStableLayerNorm", "true")), backend_named("cpu")), "ERR_AUDIOLM_UNSUPPORTED");
  EXPECT_THROWS_CODE(SemanticTokenizer::load(with_config("layer.safetensors", hub_cfg("layers", "3").set("layer", "4")), backend_named("cpu")), bad);
  EXPECT_THROWS_CODE(SemanticTokenizer::load(mfcc_component("mfcc_key.safetensors", "{\"nfft\":512}"), backend_named("cpu")), bad);
  EXPECT_THROWS_CODE(SemanticTokenizer::load(mfcc_component("mfcc_scale.safetensors", "{\"melScale\":\"slaney\"}"), backend_named("cpu")), "ERR_AUDIOLM_UNSUPPORTED");
  EXPECT_THROWS_CODE(SemanticTokenizer::load(mfcc_component("mfcc_mels.safetensors", "{\"nMels\":400}"), backend_named("cpu")), bad);
  EXPECT_THROWS_CODE(SemanticTokenizer::load(mfcc_component("mfcc_fmax.safetensors", "{\"fMax\":9000}"), backend_named("cpu")), bad);
  EXPECT_THROWS_CODE(SemanticTokenizer::load(scratch().file("does-not-exist.safetensors"), backend_named("cpu")), "ERR_AUDIOLM_IO");
}

TEST_MAIN()
