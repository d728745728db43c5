// The config-driven transformer behind every token stage (docs/transformer-format.md): decoder
// or encoder blocks with the norms, attention variants, positions and feed-forwards of the
// AudioLM family, a KV-cached session API for ragged batches, and the native generation loop.
#pragma once
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/backend.h"
#include "core/json.h"
#include "core/safetensors.h"
#include "core/tensor.h"

namespace alm {

struct TransformerConfig {
  int64_t vocab_size = 0, output_size = 0;
  int64_t dim = 0, layers = 0, heads = 0, kv_heads = 0, head_dim = 0, ff_dim = 0;
  std::string ff = "gelu";  // gelu | gelu_tanh | geglu | relu
  bool ff_inner_norm = false;
  std::string norm = "layernorm";  // layernorm | rmsnorm
  bool norm_bias = true;
  float norm_eps = 1e-5f;
  bool prenorm = true, final_norm = true;
  std::string position = "learned";  // learned | t5 | bias_table | rotary | none
  int64_t max_positions = 2048;
  int64_t t5_buckets = 32, t5_max_distance = 128;
  int64_t rotary_dim = 0;
  float rotary_base = 10000.f;
  bool causal = true;
  float attn_scale = 0;
  bool attn_bias = false, ff_bias = false, head_bias = false;
  bool cross_attention = false;
  int64_t context_dim = 0;
  int64_t input_codebooks = 1, output_heads = 1;
  bool shared_input_embedding = false;  // every codebook reads tok_emb.weight (Bark's merged context)
  bool tie_embeddings = false;
  // Self-attention values of layers after the first are 0.5 * (own + first layer's, same
  // position) before attending and caching (audiolm-pytorch's value-residual learning).
  bool value_residual = false;
  // Self-attention scores between positions of different segments (the segment of a position is
  // token_segment[its token]) take segment_bias[head] instead of the position bias
  // (audiolm-pytorch's coarse stage). One input codebook only.
  bool segment_bias = false;

  static TransformerConfig from_json(const Json& j, const std::string& what);
};

struct Norm {
  Weight w, b;
};
struct AttentionWeights {
  Norm norm;
  Linear q, k, v, o;
};
struct Block {
  AttentionWeights self;
  bool has_cross = false;
  AttentionWeights cross;
  Norm ff_norm, ff_inner_norm;
  Linear up, down;
};

class TransformerSession;

class TransformerModel {
 public:
  // Loads the weights into `backend`'s memory (the CPU backend keeps them where the file is).
  static std::shared_ptr<TransformerModel> load(const std::string& path, Backend& backend = cpu_backend());
  const TransformerConfig& config() const { return cfg_; }
  size_t weight_bytes() const { return weight_bytes_; }
  Backend& backend() const { return *be_; }

  // Embeds `n` positions (host tokens [n, input_codebooks]; -1 = codebook not given) at host
  // `positions` into x [n, dim].
  void embed(const int32_t* tokens, int64_t n, const int64_t* positions, Span x) const;
  // Runs the blocks over new positions of several rows of `s`, appending their keys/values.
  // rows[i] gets counts[i] positions starting at its current length; x is [Σcounts, dim] in that
  // order (the embeddings of the host `tokens`, [Σcounts, input_codebooks]) and is transformed in
  // place into the final hidden states.
  void forward(TransformerSession& s, const std::vector<int64_t>& rows, const std::vector<int64_t>& counts,
               const int32_t* tokens, Span x) const;
  // logits [n, output_size] = head[h](hidden [n, dim]) (after the final norm).
  void head(Span hidden, int64_t n, int64_t h, Span logits) const;
  // Cross-attention keys/values of one row's host context [tc, context_dim], for every layer.
  void encode_context(TransformerSession& s, int64_t row, const float* ctx, int64_t tc) const;

 private:
  TransformerModel() = default;
  void attention_sublayer(TransformerSession& s, const AttentionWeights& w, bool cross, int64_t layer,
                          const std::vector<int64_t>& rows, const std::vector<int64_t>& counts,
                          const std::vector<int64_t>& starts, Span h, Span out) const;
  void apply_norm(const Norm& n, Span x, int64_t rows, int64_t dim, Span y) const;

  TransformerConfig cfg_;
  Backend* be_ = nullptr;
  std::shared_ptr<WeightsFile> file_;
  std::vector<Weight> tok_emb_;
  Weight pos_emb_;
  Tensor rel_bias_;   // t5: [buckets, heads], on the host: sessions build their bias tables from it
  Tensor bias_table_; // [heads, 2*max_positions-1], likewise
  std::vector<uint8_t> token_segment_;  // [vocab] (segment_bias), on the host
  Weight segment_bias_;                 // [heads] (segment_bias)
  std::vector<Block> blocks_;
  Norm final_norm_;
  std::vector<Linear> heads_;
  size_t weight_bytes_ = 0;
  friend class TransformerSession;
};

// A batch of rows with their own lengths and a preallocated KV cache. Not thread-safe: one call
// at a time (the addon enforces it); `abort` may be set from any thread.
class TransformerSession {
 public:
  TransformerSession(std::shared_ptr<const TransformerModel> model, int64_t batch, int64_t capacity);

  int64_t batch() const { return batch_; }
  int64_t capacity() const { return capacity_; }
  const std::vector<int64_t>& lengths() const { return len_; }

  // Resets every row and runs its prompt ([n_r, input_codebooks] tokens); keeps each row's
  // last-position logits for generate(). contexts (optional): one [tc, context_dim] per row.
  void prefill(const std::vector<std::vector<int32_t>>& prompts, const std::vector<std::vector<float>>* contexts);
  // Full-sequence logits: like prefill but returns logits of every position [n_r, output_size].
  std::vector<std::vector<float>> prefill_all(const std::vector<std::vector<int32_t>>& prompts,
                                              const std::vector<std::vector<float>>* contexts, int64_t head);

  // Appends tokens to rows without resetting them (rows given an empty vector are left alone)
  // and refreshes their last-position logits.
  void extend(const std::vector<std::vector<int32_t>>& tokens);
  // Logits for the next token of each row, [batch, output_size] (downloaded by this call).
  const std::vector<float>& last_logits();

  struct GenerateRequest {
    int64_t steps = 0;
    std::vector<SampleParams> params;  // per row
    std::vector<uint64_t> seeds;       // per row
    std::vector<TokenRange> ranges;    // schedule; empty = unrestricted
    std::vector<int64_t> origins;      // per row
    int32_t eos = -1;
    // Classifier-free guidance (empty = none). guide[r] >= 0 names the row that carries r's
    // unconditional prompt: r samples from l_r + guide_scale[r]·(l_r − l_guide[r]) and the guide
    // row is fed r's token instead of sampling (it stops when r stops). -1: an ordinary row.
    std::vector<int64_t> guide;
    std::vector<float> guide_scale;
  };
  // Samples up to `steps` tokens per live row; returns them per row (a guide row returns its
  // leader's tokens). Throws ERR_AUDIOLM_ABORTED when abort() was called (the tokens sampled so
  // far stay appended).
  std::vector<std::vector<int32_t>> generate(const GenerateRequest& req);
  const std::vector<bool>& stopped() const { return stopped_; }

  void abort() { abort_.store(true); }

 private:
  friend class TransformerModel;
  void run(const std::vector<std::vector<int32_t>>& prompts, const std::vector<std::vector<float>>* contexts,
           bool all_logits, int64_t head, std::vector<std::vector<float>>* all_out);
  Span k_at(int64_t layer, int64_t row) const { return Span(k_).at(((layer * batch_ + row) * capacity_) * kv_dim_); }
  Span v_at(int64_t layer, int64_t row) const { return Span(v_).at(((layer * batch_ + row) * capacity_) * kv_dim_); }
  // Logits of the last position of each listed row ([Σcounts, dim] hidden states x) into logits_.
  void keep_last_logits(Span x, const std::vector<int64_t>& rows, const std::vector<int64_t>& counts);

  std::shared_ptr<const TransformerModel> model_;
  Backend& be_;
  int64_t batch_, capacity_, kv_dim_;
  Buffer k_, v_;                           // [layers, batch, capacity, kv_dim]
  std::vector<int64_t> len_;
  std::vector<bool> stopped_;
  Buffer logits_;                          // [batch, output_size]: each row's next-token logits
  std::vector<float> host_logits_;         // last_logits()'s copy
  Buffer rel_;                             // [heads, 2*capacity-1] bias by (key - query) + capacity-1
  Buffer seg_;                             // [batch, capacity] uint8 segment of each position (segment_bias)
  std::vector<Buffer> ctx_k_, ctx_v_;      // [layers*batch] of [tc, kv_dim]
  std::vector<int64_t> ctx_len_;
  std::atomic<bool> abort_{false};
};

}  // namespace alm
