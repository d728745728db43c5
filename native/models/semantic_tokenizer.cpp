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

std::shared_ptr<SemanticTokenizer> SemanticTokenizer::load(const std::string& path, Backend& be) {
  auto file = WeightsFile::open(path);
  std::shared_ptr<SemanticTokenizer> t(new SemanticTokenizer());
  t->be_ = &be;
  t->file_ = file;
  SemanticTokenizerConfig& cfg = t->cfg_;
  cfg = SemanticTokenizerConfig::from_json(file->config(), path);
  const int64_t K = cfg.clusters, D = cfg.feature_dim();

  const Tensor centroids = file->f32("kmeans.centroids", {K, D});
  for (int64_t i = 0; i < K * D; ++i)
    if (!std::isfinite(centroids.data()[i]))
      fail(ErrorKind::InvalidModel, path, ": kmeans.centroids[", i / D, "][", i % D, "] is not finite");
  t->kmeans_.codebook_size = K;
  t->kmeans_.dim = D;
  t->kmeans_.embed = {be.weight(centroids)};
  be.rvq_norms(t->kmeans_);

  if (cfg.frontend == "hubert") {
    t->hubert_ = HubertModel::load(file, cfg.hubert, cfg.layer, be);
  } else {
    try {
      t->mfcc_.reset(new Mfcc(cfg.mfcc, be));
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

Buffer SemanticTokenizer::run_frontend(const float* wav, int64_t len, int64_t* frames) const {
  if (hubert_) return hubert_->forward_buffer(wav, len, cfg_.layer, nullptr, frames);
  Tensor feat = mfcc_->compute(wav, len);
  *frames = feat.dim(0);
  return be_->upload_f32(feat.data(), feat.numel());
}

Tensor SemanticTokenizer::download(const Buffer& feat, int64_t frames) const {
  Tensor out = Tensor::empty({frames, kmeans_.dim});
  be_->download(out.data(), feat, size_t(out.numel()) * 4);
  return out;
}

Tensor SemanticTokenizer::features(const float* wav, int64_t len) const {
  check_input(wav, len, "the waveform");
  int64_t F = 0;
  Buffer feat = run_frontend(wav, len, &F);
  return download(feat, F);
}

std::vector<int32_t> SemanticTokenizer::assign(const Buffer& feat, int64_t frames) const {
  std::vector<int32_t> codes(static_cast<size_t>(frames));
  be_->rvq_encode(kmeans_, 1, feat, frames, codes.data());
  return codes;
}

std::vector<int32_t> SemanticTokenizer::tokenize(const float* wav, int64_t len) const {
  check_input(wav, len, "the waveform");
  int64_t F = 0;
  Buffer feat = run_frontend(wav, len, &F);
  return assign(feat, F);
}

std::vector<Tensor> SemanticTokenizer::features(const std::vector<std::vector<float>>& wavs) const {
  for (size_t i = 0; i < wavs.size(); ++i) check_input(wavs[i].data(), int64_t(wavs[i].size()), "waveform " + std::to_string(i));
  std::vector<Tensor> out;
  for (auto& w : wavs) {
    int64_t F = 0;
    Buffer feat = run_frontend(w.data(), int64_t(w.size()), &F);
    out.push_back(download(feat, F));
  }
  return out;
}

std::vector<std::vector<int32_t>> SemanticTokenizer::tokenize(const std::vector<std::vector<float>>& wavs) const {
  for (size_t i = 0; i < wavs.size(); ++i) check_input(wavs[i].data(), int64_t(wavs[i].size()), "waveform " + std::to_string(i));
  std::vector<std::vector<int32_t>> out;
  for (auto& w : wavs) {
    int64_t F = 0;
    Buffer feat = run_frontend(w.data(), int64_t(w.size()), &F);
    out.push_back(assign(feat, F));
  }
  return out;
}

}  // namespace alm
