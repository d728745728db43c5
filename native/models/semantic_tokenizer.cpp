#include "models/semantic_tokenizer.h"

#include <cmath>

#include "core/error.h"

namespace alm {

int64_t SemanticTokenizerConfig::feature_dim() const {
  return frontend == "hubert" ? hubert.hidden_size : mfcc.feature_dim();
}

int64_t SemanticTokenizerConfig::hop() const { return frontend == "hubert" ? hubert.hop() : mfcc.hop_length; }

int64_t SemanticTokenizerConfig::min_samples() const {
  return frontend == "hubert" ? hubert.receptive_field() : mfcc.frame_length;
}

double SemanticTokenizerConfig::frame_rate() const { return double(sample_rate) / double(hop()); }

int64_t SemanticTokenizerConfig::frames_for(int64_t len) const {
  return frontend == "hubert" ? hubert.frames_for(len) : mfcc.frames_for(len);
}

SemanticTokenizerConfig SemanticTokenizerConfig::from_json(const Json& j, const std::string& what) {
  SemanticTokenizerConfig c;
  const std::string family = j.get_string("family", "");
  if (family != "semantic-tokenizer")
    fail(ErrorKind::InvalidModel, what, ": expected a component of family 'semantic-tokenizer' but found '", family, "'");
  c.frontend = j.get_string("frontend", "");
  if (c.frontend != "hubert" && c.frontend != "mfcc")
    fail(ErrorKind::InvalidModel, what, ": frontend must be 'hubert' or 'mfcc', not '", c.frontend, "'");
  c.sample_rate = j.get_int("sampleRate", c.sample_rate);
  if (c.sample_rate < 1000 || c.sample_rate > (1 << 20))
    fail(ErrorKind::InvalidModel, what, ": sampleRate ", c.sample_rate, " is out of range [1000, 2^20]");
  c.clusters = j.get_int("clusters", 0);
  if (c.clusters < 1 || c.clusters > (1 << 20))
    fail(ErrorKind::InvalidModel, what, ": clusters ", c.clusters, " is out of range [1, 2^20]");
  if (c.frontend == "hubert") {
    const Json* h = j.find("hubert");
    if (!h) fail(ErrorKind::InvalidModel, what, ": a hubert tokenizer needs a 'hubert' section in its config");
    c.hubert = HubertConfig::from_json(*h, what);
    if (!j.find("layer")) fail(ErrorKind::InvalidModel, what, ": a hubert tokenizer needs 'layer' in its config");
    c.layer = j.get_int("layer", 0);
    if (c.layer < 0 || c.layer > c.hubert.layers)
      fail(ErrorKind::InvalidModel, what, ": layer ", c.layer, " is not in [0, hubert.layers = ", c.hubert.layers, "]");
  } else {
    const Json* m = j.find("mfcc");
    c.mfcc = MfccConfig::from_json(m ? *m : Json(), c.sample_rate, what);
  }
  return c;
}

std::shared_ptr<SemanticTokenizer> SemanticTokenizer::load(const std::string& path) {
  auto file = WeightsFile::open(path);
  std::shared_ptr<SemanticTokenizer> t(new SemanticTokenizer());
  t->file_ = file;
  SemanticTokenizerConfig& cfg = t->cfg_;
  cfg = SemanticTokenizerConfig::from_json(file->config(), path);
  const int64_t K = cfg.clusters, D = cfg.feature_dim();

  t->centroids_ = file->f32("kmeans.centroids", {K, D});
  for (int64_t i = 0; i < K * D; ++i)
    if (!std::isfinite(t->centroids_.data()[i]))
      fail(ErrorKind::InvalidModel, path, ": kmeans.centroids[", i / D, "][", i % D, "] is not finite");
  t->kmeans_.num_levels = 1;
  t->kmeans_.codebook_size = K;
  t->kmeans_.dim = D;
  t->kmeans_.embed = {t->centroids_.data()};
  rvq_cache_norms(t->kmeans_);

  if (cfg.frontend == "hubert") {
    t->hubert_ = HubertModel::load(file, cfg.hubert, cfg.layer);
  } else {
    try {
      t->mfcc_.reset(new Mfcc(cfg.mfcc));
    } catch (const Error& e) {
      fail(e.kind(), path, ": ", e.what());
    }
  }
  for (auto& name : file->names()) t->weight_bytes_ += file->info(name).end - file->info(name).begin;
  return t;
}

void SemanticTokenizer::check_input(const float* wav, int64_t len, const std::string& name) const {
  const int64_t need = cfg_.min_samples();
  ALM_CHECK_ARG(len >= need, name, " has ", len, " samples but the ", cfg_.frontend, " tokenizer needs at least ", need,
                " (", 1000.0 * double(need) / double(cfg_.sample_rate), " ms at ", cfg_.sample_rate, " Hz) for one token");
  for (int64_t i = 0; i < len; ++i)
    ALM_CHECK_ARG(std::isfinite(wav[i]), name, " sample ", i, " is not finite (", wav[i], ")");
}

Tensor SemanticTokenizer::run_frontend(const float* wav, int64_t len) const {
  return hubert_ ? hubert_->forward(wav, len, cfg_.layer) : mfcc_->compute(wav, len);
}

Tensor SemanticTokenizer::features(const float* wav, int64_t len) const {
  check_input(wav, len, "the waveform");
  return run_frontend(wav, len);
}

std::vector<int32_t> SemanticTokenizer::assign(const Tensor& feat) const {
  ALM_ASSERT(feat.ndim() == 2 && feat.dim(1) == kmeans_.dim);
  std::vector<int32_t> codes(size_t(feat.dim(0)));
  rvq_encode(kmeans_, 1, feat.data(), feat.dim(0), codes.data());
  return codes;
}

std::vector<int32_t> SemanticTokenizer::tokenize(const float* wav, int64_t len) const { return assign(features(wav, len)); }

std::vector<Tensor> SemanticTokenizer::features(const std::vector<std::vector<float>>& wavs) const {
  for (size_t i = 0; i < wavs.size(); ++i) check_input(wavs[i].data(), int64_t(wavs[i].size()), "waveform " + std::to_string(i));
  std::vector<Tensor> out;
  for (auto& w : wavs) out.push_back(run_frontend(w.data(), int64_t(w.size())));
  return out;
}

std::vector<std::vector<int32_t>> SemanticTokenizer::tokenize(const std::vector<std::vector<float>>& wavs) const {
  for (size_t i = 0; i < wavs.size(); ++i) check_input(wavs[i].data(), int64_t(wavs[i].size()), "waveform " + std::to_string(i));
  std::vector<std::vector<int32_t>> out;
  for (auto& w : wavs) out.push_back(assign(run_frontend(w.data(), int64_t(w.size()))));
  return out;
}

}  // namespace alm
