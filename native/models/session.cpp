// TransformerSession: KV cache ownership, prefill over ragged prompts, and the per-token
// generation loop (sampling, vocabulary ranges, EOS) that runs without returning to JavaScript.
#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/positions.h"
#include "transformer.h"

namespace alm {

TransformerSession::TransformerSession(std::shared_ptr<const TransformerModel> model, int64_t batch, int64_t capacity)
    : model_(std::move(model)), be_(model_->backend()), batch_(batch), capacity_(capacity) {
  const TransformerConfig& c = model_->config();
  ALM_CHECK_ARG(batch >= 1 && batch <= 65536, "session batch must be in [1, 65536] but is ", batch);
  ALM_CHECK_ARG(capacity >= 1 && capacity <= (1 << 22), "session capacity must be in [1, 4194304] but is ", capacity);
  if (c.position == "learned" || c.position == "bias_table")
    ALM_CHECK_ARG(capacity <= c.max_positions, "session capacity ", capacity, " exceeds the model's ", c.max_positions,
                  " positions");
  kv_dim_ = c.kv_heads * c.head_dim;
  double bytes = 2.0 * double(c.layers) * double(batch) * double(capacity) * double(kv_dim_) * 4.0;
  if (bytes > 64.0 * (1ull << 30))
    fail(ErrorKind::OutOfMemory, "a KV cache of ", bytes / double(1ull << 30), " GiB is more than this build allows");
  const int64_t n = c.layers * batch * capacity * kv_dim_;
  k_ = be_.alloc_f32(n);
  v_ = be_.alloc_f32(n);
  be_.fill(k_, 0.f, n);
  be_.fill(v_, 0.f, n);
  len_.assign(size_t(batch), 0);
  stopped_.assign(size_t(batch), false);
  logits_ = be_.alloc_f32(batch * c.output_size);
  be_.fill(logits_, 0.f, batch * c.output_size);
  ctx_k_.resize(size_t(c.layers * batch));
  ctx_v_.resize(size_t(c.layers * batch));
  ctx_len_.assign(size_t(batch), 0);
  if (c.segment_bias) {
    seg_ = be_.alloc(size_t(batch * capacity));
    std::vector<uint8_t> zeros(size_t(batch * capacity), 0);
    be_.upload(seg_, zeros.data(), zeros.size());
  }

  // Relative bias by (key - query) over every distance this session can see, for every head,
  // built on the host from the model's table and uploaded once.
  const int64_t R = 2 * capacity - 1, H = c.heads;
  std::vector<float> rel;
  if (c.position == "t5") {
    rel.assign(size_t(H * R), 0.f);
    const float* table = model_->rel_bias_.data();
    for (int64_t d = -(capacity - 1); d <= capacity - 1; ++d) {
      int64_t bucket = t5_relative_bucket(d, !c.causal, c.t5_buckets, c.t5_max_distance);
      for (int64_t h = 0; h < H; ++h) rel[size_t(h * R + d + capacity - 1)] = table[bucket * H + h];
    }
  } else if (c.position == "bias_table") {
    rel.assign(size_t(H * R), 0.f);
    const int64_t M = c.max_positions, W = 2 * M - 1;
    const float* table = model_->bias_table_.data();
    for (int64_t d = -(capacity - 1); d <= capacity - 1; ++d)
      for (int64_t h = 0; h < H; ++h) rel[size_t(h * R + d + capacity - 1)] = table[h * W + (-d) + M - 1];
  }
  if (!rel.empty()) rel_ = be_.upload_f32(rel.data(), H * R);
}

const std::vector<float>& TransformerSession::last_logits() {
  // Into the same vector every time, so references and iterators taken earlier stay valid.
  host_logits_.resize(size_t(batch_ * model_->config().output_size));
  be_.download(host_logits_.data(), logits_, host_logits_.size() * 4);
  return host_logits_;
}

void TransformerSession::keep_last_logits(Span x, const std::vector<int64_t>& rows, const std::vector<int64_t>& counts) {
  const TransformerModel& m = *model_;
  const int64_t D = m.config().dim, V = m.config().output_size, n = int64_t(rows.size());
  Span last = x;
  Buffer gathered;
  if (std::any_of(counts.begin(), counts.end(), [](int64_t k) { return k != 1; })) {
    std::vector<int64_t> at(rows.size());
    for (size_t i = 0, off = 0; i < rows.size(); ++i) at[i] = int64_t(off += size_t(counts[i])) - 1;
    gathered = be_.alloc_f32(n * D);
    be_.gather_rows(x, D, at, gathered);
    last = Span(gathered);
  }
  Buffer logits = be_.alloc_f32(n * V);
  m.head(last, n, 0, logits);
  be_.scatter_rows(logits, V, rows, logits_);
}

void TransformerSession::run(const std::vector<std::vector<int32_t>>& prompts, const std::vector<std::vector<float>>* contexts,
                             bool all_logits, int64_t head, std::vector<std::vector<float>>* all_out) {
  const TransformerModel& m = *model_;
  const TransformerConfig& c = m.config();
  ALM_CHECK_ARG(int64_t(prompts.size()) == batch_, "expected ", batch_, " prompts (one per session row) but got ", prompts.size());
  std::vector<int64_t> rows(static_cast<size_t>(batch_)), counts(static_cast<size_t>(batch_));
  for (int64_t r = 0; r < batch_; ++r) {
    const auto& p = prompts[size_t(r)];
    ALM_CHECK_ARG(!p.empty(), "prompt ", r, " is empty: every row needs at least one token");
    ALM_CHECK_ARG(int64_t(p.size()) % c.input_codebooks == 0, "prompt ", r, " has ", p.size(),
                  " entries, not a multiple of the model's ", c.input_codebooks, " codebooks");
    rows[size_t(r)] = r;
    counts[size_t(r)] = int64_t(p.size()) / c.input_codebooks;
    ALM_CHECK_ARG(counts[size_t(r)] <= capacity_, "prompt ", r, " has ", counts[size_t(r)], " positions but the session holds ",
                  capacity_);
  }
  abort_.store(false);
  std::fill(len_.begin(), len_.end(), 0);
  std::fill(stopped_.begin(), stopped_.end(), false);
  if (c.cross_attention) {
    ALM_CHECK_ARG(contexts && int64_t(contexts->size()) == batch_, "this model attends to a context: give one per row");
    for (int64_t r = 0; r < batch_; ++r) {
      const auto& ctx = (*contexts)[size_t(r)];
      ALM_CHECK_ARG(!ctx.empty() && ctx.size() % size_t(c.context_dim) == 0, "context ", r, " has ", ctx.size(),
                    " values, not a positive multiple of contextDim ", c.context_dim);
      for (size_t i = 0; i < ctx.size(); ++i)
        ALM_CHECK_ARG(std::isfinite(ctx[i]), "context ", r, " value ", i, " is not finite");
      m.encode_context(*this, r, ctx.data(), int64_t(ctx.size()) / c.context_dim);
    }
  }
  const int64_t N = std::accumulate(counts.begin(), counts.end(), int64_t(0)), D = c.dim;
  std::vector<int32_t> tokens;
  std::vector<int64_t> pos;
  tokens.reserve(size_t(N * c.input_codebooks));
  for (int64_t r = 0; r < batch_; ++r) {
    tokens.insert(tokens.end(), prompts[size_t(r)].begin(), prompts[size_t(r)].end());
    for (int64_t j = 0; j < counts[size_t(r)]; ++j) pos.push_back(j);
  }
  Buffer x = be_.alloc_f32(N * D);
  m.embed(tokens.data(), N, pos.data(), x);
  m.forward(*this, rows, counts, tokens.data(), x);
  const int64_t V = c.output_size;
  if (all_logits) {
    all_out->clear();
    Buffer logits = be_.alloc_f32(N * V);
    for (int64_t r = 0, off = 0; r < batch_; off += counts[size_t(r)], ++r) {
      m.head(Span(x).at(off * D), counts[size_t(r)], head, Span(logits).at(off * V));
      all_out->push_back(be_.download_f32(Span(logits).at(off * V), counts[size_t(r)] * V));
    }
  } else {
    keep_last_logits(x, rows, counts);
  }
}

void TransformerSession::prefill(const std::vector<std::vector<int32_t>>& prompts, const std::vector<std::vector<float>>* contexts) {
  run(prompts, contexts, false, 0, nullptr);
}

std::vector<std::vector<float>> TransformerSession::prefill_all(const std::vector<std::vector<int32_t>>& prompts,
                                                                const std::vector<std::vector<float>>* contexts, int64_t head) {
  std::vector<std::vector<float>> out;
  run(prompts, contexts, true, head, &out);
  return out;
}

void TransformerSession::extend(const std::vector<std::vector<int32_t>>& tokens) {
  const TransformerModel& m = *model_;
  const TransformerConfig& c = m.config();
  ALM_CHECK_ARG(c.causal, "extending rows one step at a time needs a causal model");
  ALM_CHECK_ARG(int64_t(tokens.size()) == batch_, "expected ", batch_, " rows of tokens but got ", tokens.size());
  std::vector<int64_t> rows, counts, pos;
  std::vector<int32_t> flat;
  for (int64_t r = 0; r < batch_; ++r) {
    const auto& t = tokens[size_t(r)];
    if (t.empty()) continue;
    ALM_CHECK_ARG(len_[size_t(r)] > 0, "row ", r, " was never prefilled: call prefill first");
    ALM_CHECK_ARG(int64_t(t.size()) % c.input_codebooks == 0, "row ", r, " tokens are not a multiple of ", c.input_codebooks,
                  " codebooks");
    int64_t n = int64_t(t.size()) / c.input_codebooks;
    rows.push_back(r);
    counts.push_back(n);
    flat.insert(flat.end(), t.begin(), t.end());
    for (int64_t j = 0; j < n; ++j) pos.push_back(len_[size_t(r)] + j);
  }
  if (rows.empty()) return;
  const int64_t N = int64_t(pos.size()), D = c.dim;
  Buffer x = be_.alloc_f32(N * D);
  m.embed(flat.data(), N, pos.data(), x);
  m.forward(*this, rows, counts, flat.data(), x);
  keep_last_logits(x, rows, counts);
  for (int64_t r : rows) stopped_[size_t(r)] = false;
}

std::vector<std::vector<int32_t>> TransformerSession::generate(const GenerateRequest& req) {
  const TransformerModel& m = *model_;
  const TransformerConfig& c = m.config();
  ALM_CHECK_ARG(c.causal, "token-by-token generation needs a causal model");
  ALM_CHECK_ARG(req.steps >= 0, "steps must be non-negative");
  ALM_CHECK_ARG(int64_t(req.params.size()) == batch_ && int64_t(req.seeds.size()) == batch_,
                "generate needs sampling parameters and a seed for each of the ", batch_, " rows");
  ALM_CHECK_ARG(req.ranges.empty() || int64_t(req.origins.size()) == batch_, "a range schedule needs an origin per row");
  for (const auto& r : req.ranges) {
    ALM_CHECK_ARG(r.lo >= 0 && r.hi <= c.output_size && (r.lo < r.hi || !r.extra.empty()),
                  "token range [", r.lo, ", ", r.hi, ") is empty or outside the vocabulary of ", c.output_size);
    for (auto e : r.extra) ALM_CHECK_ARG(e >= 0 && e < c.output_size, "extra token ", e, " is outside the vocabulary");
  }
  for (int64_t r = 0; r < batch_; ++r)
    ALM_CHECK_ARG(len_[size_t(r)] > 0, "row ", r, " was never prefilled: call prefill first");
  // leader[r]: the row whose token a guide row r is fed, else -1.
  std::vector<int64_t> leader(size_t(batch_), -1);
  if (!req.guide.empty()) {
    ALM_CHECK_ARG(int64_t(req.guide.size()) == batch_ && int64_t(req.guide_scale.size()) == batch_,
                  "guidance needs a guide row (or -1) and a scale for each of the ", batch_, " rows");
    for (int64_t r = 0; r < batch_; ++r) {
      int64_t g = req.guide[size_t(r)];
      if (g < 0) continue;
      ALM_CHECK_ARG(g < batch_ && g != r, "row ", r, "'s guide row ", g, " is not another row of the batch of ", batch_);
      ALM_CHECK_ARG(std::isfinite(req.guide_scale[size_t(r)]), "row ", r, "'s guidance scale is not finite");
      ALM_CHECK_ARG(leader[size_t(g)] < 0, "row ", g, " is the guide row of both row ", leader[size_t(g)], " and row ", r);
      leader[size_t(g)] = r;
    }
    for (int64_t r = 0; r < batch_; ++r) {
      int64_t g = req.guide[size_t(r)];
      if (g < 0) continue;
      ALM_CHECK_ARG(req.guide[size_t(g)] < 0, "row ", g, " is a guide row and cannot have a guide row of its own");
      ALM_CHECK_ARG(stopped_[size_t(r)] == stopped_[size_t(g)], "row ", r, " and its guide row ", g, " are not both live");
    }
  }
  const int64_t V = c.output_size, D = c.dim, P = int64_t(req.ranges.size()), C = c.input_codebooks;
  std::vector<std::vector<int32_t>> out(static_cast<size_t>(batch_));
  std::vector<int32_t> step_tokens(static_cast<size_t>(batch_));
  std::vector<SampleJob> jobs;
  std::vector<int32_t> picked;
  for (int64_t step = 0; step < req.steps; ++step) {
    if (abort_.load()) fail(ErrorKind::Aborted, "generation was aborted");
    std::vector<int64_t> live;
    for (int64_t r = 0; r < batch_; ++r)
      if (!stopped_[size_t(r)]) live.push_back(r);
    if (live.empty()) break;
    for (int64_t r : live)
      ALM_CHECK_ARG(len_[size_t(r)] < capacity_, "row ", r, " reached the session capacity of ", capacity_, " positions");
    // One pick per live row that is not a guide row (a guide row takes its leader's token below).
    jobs.clear();
    for (int64_t r : live) {
      if (leader[size_t(r)] >= 0) continue;
      const int64_t pos = len_[size_t(r)];
      SampleJob job;
      job.row = r;
      job.params = req.params[size_t(r)];
      if (P) job.range = &req.ranges[size_t((((pos - req.origins[size_t(r)]) % P) + P) % P)];
      job.seed = req.seeds[size_t(r)];
      job.counter = uint64_t(pos);
      job.guide = req.guide.empty() ? -1 : req.guide[size_t(r)];
      if (job.guide >= 0) job.scale = req.guide_scale[size_t(r)];
      jobs.push_back(job);
    }
    picked.resize(jobs.size());
    be_.sample(logits_, V, jobs, picked.data());
    for (size_t j = 0; j < jobs.size(); ++j) step_tokens[size_t(jobs[j].row)] = picked[j];
    for (int64_t r : live)
      if (leader[size_t(r)] >= 0) step_tokens[size_t(r)] = step_tokens[size_t(leader[size_t(r)])];
    std::vector<int64_t> cont, ones;
    std::vector<int32_t> toks;
    std::vector<int64_t> pos;
    for (int64_t r : live) {
      int32_t t = step_tokens[size_t(r)];
      out[size_t(r)].push_back(t);
      if (t == req.eos) {
        stopped_[size_t(r)] = true;
        ++len_[size_t(r)];  // the EOS occupies its position though it is never fed back
        continue;
      }
      cont.push_back(r);
      ones.push_back(1);
      // With several input codebooks the sampled token is codebook 0; the others are not given.
      toks.push_back(t);
      for (int64_t cb = 1; cb < C; ++cb) toks.push_back(-1);
      pos.push_back(len_[size_t(r)]);
    }
    if (cont.empty()) break;
    Buffer x = be_.alloc_f32(int64_t(cont.size()) * D);
    m.embed(toks.data(), int64_t(cont.size()), pos.data(), x);
    m.forward(*this, cont, ones, toks.data(), x);
    keep_last_logits(x, cont, ones);
  }
  return out;
}

}  // namespace alm
