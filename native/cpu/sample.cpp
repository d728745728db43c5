// Token sampling. Both versions share the rule's arithmetic (weights, targets, comparisons) and
// differ only in how they find the tokens in order: the reference sorts every allowed token;
// the fast version selects only what it needs. Weights are integers (multiples of 2^-38 of the
// top token's) so totals are exact whatever the order of summation, and the two always agree.
#include "cpu/sample.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <new>
#include <utility>

#include "core/error.h"

namespace alm {
namespace {

constexpr double kWeightOne = 274877906944.0;  // 2^38: the top token's weight; 2^24 tokens sum below 2^62
constexpr int64_t kMaxVocab = int64_t(1) << 24;  // ids are exact in float below this

// A candidate token. The id is stored as a float (exact below 2^24) so that candidates can live
// in the caller's std::vector<float> scratch, two floats each.
struct Cand {
  float logit;
  float id;
};
static_assert(sizeof(Cand) == 2 * sizeof(float), "Cand must pack into two floats");

// The fixed order: descending logit (so descending probability), then ascending id.
// A function object rather than a function, so that std::sort and std::nth_element inline it.
struct Before {
  bool operator()(const Cand& a, const Cand& b) const { return a.logit > b.logit || (a.logit == b.logit && a.id < b.id); }
};
constexpr Before before{};

// Integer weight of a logit given the maximum over the allowed tokens and the temperature.
struct Weigher {
  float max;
  double temperature;
  uint64_t operator()(float logit) const {
    // An infinite maximum: the +inf tokens share all the probability.
    if (max == std::numeric_limits<float>::infinity()) return logit == max ? uint64_t(kWeightOne) : 0;
    const double x = (double(logit) - double(max)) / temperature;  // <= 0
    // exp(-28) * 2^38 < 0.5 rounds to 0 anyway: skip the exp for the long tail of a vocabulary.
    if (x < -28.0) return 0;
    return uint64_t(std::exp(x) * kWeightOne + 0.5);
  }
};

// floor(u * total) for u in [0, 1), exactly, through a 64 x 64 -> 128-bit product of total and
// u's 53-bit mantissa; always below total.
uint64_t scaled_target(double u, uint64_t total) {
  const uint64_t a = uint64_t(u * 9007199254740992.0);  // u * 2^53, exact: scaling by a power of two
  const uint64_t a_lo = a & 0xffffffffULL, a_hi = a >> 32, b_lo = total & 0xffffffffULL, b_hi = total >> 32;
  const uint64_t p0 = a_lo * b_lo, p1 = a_lo * b_hi, p2 = a_hi * b_lo, p3 = a_hi * b_hi;
  const uint64_t mid = (p0 >> 32) + (p1 & 0xffffffffULL) + (p2 & 0xffffffffULL);
  const uint64_t lo = (mid << 32) | (p0 & 0xffffffffULL);
  const uint64_t hi = p3 + (p1 >> 32) + (p2 >> 32) + (mid >> 32);
  return (hi << 11) | (lo >> 53);
}

// The candidates in the fixed order, sorted only as far as someone looks: the first access past
// the sorted prefix selects the next chunk (nth_element) and sorts just that, the chunk growing
// fourfold each time. The probability mass sits at the top, so a draw usually looks at a few
// dozen tokens and the cost stays near one linear pass instead of a full sort.
struct LazyOrder {
  Cand* c;
  int64_t n;
  int64_t sorted = 0;
  int64_t chunk = 32;
  const Cand& operator[](int64_t i) {
    while (i >= sorted) {
      const int64_t end = std::min(n, sorted + chunk);
      if (end < n) std::nth_element(c + sorted, c + end, c + n, before);
      std::sort(c + sorted, c + end, before);
      sorted = end;
      chunk *= 4;
    }
    return c[i];
  }
};

// The reference's view of its fully sorted candidates, with the same indexing.
struct SortedPairs {
  const std::vector<std::pair<float, int32_t>>& v;
  Cand operator[](int64_t i) const { return {v[size_t(i)].first, float(v[size_t(i)].second)}; }
};

// Keeps the shortest prefix of `order` (indexed in the fixed order) whose weight reaches top_p of
// the total; returns its length and sets total to its weight.
template <typename Order>
int64_t top_p_prefix(Order& order, int64_t n, float top_p, const Weigher& weigh, uint64_t& total) {
  const double threshold = double(top_p) * double(total);
  uint64_t cum = 0;
  for (int64_t i = 0; i < n; ++i) {
    cum += weigh(order[i].logit);
    if (double(cum) >= threshold) {
      total = cum;
      return i + 1;
    }
  }
  return n;  // not reached: the full sum is the total, and top_p < 1
}

void check_common(const char* name, const float* logits, int64_t V, const SampleParams& params,
                  const TokenRange* range, double u) {
  ALM_CHECK_ARG(V > 0 && V < kMaxVocab, name, ": vocabulary size ", V, " outside [1, 2^24)");
  ALM_CHECK_ARG(logits != nullptr, name, ": null logits");
  ALM_CHECK_ARG(u >= 0.0 && u < 1.0, name, ": u = ", u, " is outside [0, 1)");
  ALM_CHECK_ARG(!std::isnan(params.temperature) && !std::isnan(params.top_p), name,
                ": NaN temperature or top_p");
  for (int64_t i = 0; i < V; ++i) ALM_CHECK_ARG(!std::isnan(logits[i]), name, ": logit ", i, " is NaN");
  if (range) {
    if (range->hi > range->lo)
      ALM_CHECK_ARG(range->lo >= 0 && range->hi <= V, name, ": token range [", range->lo, ", ", range->hi,
                    ") is outside [0, ", V, ")");
    for (int32_t id : range->extra)
      ALM_CHECK_ARG(id >= 0 && id < V, name, ": extra token ", id, " is outside [0, ", V, ")");
    ALM_CHECK_ARG(range->hi > range->lo || !range->extra.empty(), name, ": the allowed token set is empty");
  }
}

[[noreturn]] void fail_all_inf(const char* name) {
  fail(ErrorKind::InvalidArgument, name, ": every allowed logit is -inf");
}

}  // namespace

int32_t sample_token(const float* logits, int64_t V, const SampleParams& params, const TokenRange* range, double u,
                     std::vector<float>& scratch) {
  check_common("sample_token", logits, V, params, range, u);
  // Candidates: the range, then the extra ids outside it, deduplicated. Their order here does not
  // matter: everything below either selects by the fixed order or sums exactly.
  const int64_t range_n = range ? std::max(0, range->hi - range->lo) : V;
  const int64_t cap = range_n + (range ? int64_t(range->extra.size()) : 0);
  if (scratch.size() < size_t(2 * cap)) scratch.resize(size_t(2 * cap));
  // Cand objects are constructed in the float storage (each member is itself a float).
  Cand* c = reinterpret_cast<Cand*>(scratch.data());
  const int64_t lo = range ? range->lo : 0;
  for (int64_t i = 0; i < range_n; ++i) new (c + i) Cand{logits[lo + i], float(lo + i)};
  int64_t n = range_n;
  if (range && !range->extra.empty()) {
    for (int32_t id : range->extra)
      if (!(id >= range->lo && id < range->hi)) new (c + n++) Cand{logits[id], float(id)};
    std::sort(c + range_n, c + n, [](const Cand& a, const Cand& b) { return a.id < b.id; });
    n = std::unique(c + range_n, c + n, [](const Cand& a, const Cand& b) { return a.id == b.id; }) - c;
  }

  const Cand* best = std::min_element(c, c + n, before);
  if (best->logit == -std::numeric_limits<float>::infinity()) fail_all_inf("sample_token");
  if (params.temperature <= 0.f) return int32_t(best->id);
  const Weigher weigh{best->logit, double(params.temperature)};

  if (params.top_k > 0 && params.top_k < n) {
    std::nth_element(c, c + params.top_k, c + n, before);
    n = params.top_k;
  }
  uint64_t total = 0;
  for (int64_t i = 0; i < n; ++i) total += weigh(c[i].logit);
  LazyOrder order{c, n};
  if (params.top_p < 1.f) n = top_p_prefix(order, n, params.top_p, weigh, total);
  const uint64_t target = scaled_target(u, total);
  uint64_t cum = 0;
  for (int64_t i = 0; i < n; ++i) {
    const Cand& x = order[i];
    cum += weigh(x.logit);
    if (cum > target) return int32_t(x.id);
  }
  fail(ErrorKind::Internal, "sample_token: the inverse CDF walk ran past the kept tokens");
}

int32_t sample_token_ref(const float* logits, int64_t V, const SampleParams& params, const TokenRange* range,
                         double u, std::vector<float>& scratch) {
  (void)scratch;
  check_common("sample_token_ref", logits, V, params, range, u);
  std::vector<bool> allowed(size_t(V), range == nullptr);
  if (range) {
    for (int64_t i = range->lo; i < range->hi; ++i) allowed[size_t(i)] = true;
    for (int32_t id : range->extra) allowed[size_t(id)] = true;
  }
  std::vector<std::pair<float, int32_t>> order;
  for (int64_t i = 0; i < V; ++i)
    if (allowed[size_t(i)]) order.emplace_back(logits[i], int32_t(i));
  const auto cmp = [](const std::pair<float, int32_t>& a, const std::pair<float, int32_t>& b) {
    return a.first > b.first || (a.first == b.first && a.second < b.second);
  };
  std::sort(order.begin(), order.end(), cmp);
  if (order[0].first == -std::numeric_limits<float>::infinity()) fail_all_inf("sample_token_ref");
  if (params.temperature <= 0.f) return order[0].second;
  if (params.top_k > 0 && size_t(params.top_k) < order.size()) order.resize(size_t(params.top_k));
  const Weigher weigh{order[0].first, double(params.temperature)};
  uint64_t total = 0;
  for (const auto& o : order) total += weigh(o.first);
  int64_t n = int64_t(order.size());
  SortedPairs sorted{order};
  if (params.top_p < 1.f) n = top_p_prefix(sorted, n, params.top_p, weigh, total);
  const uint64_t target = scaled_target(u, total);
  uint64_t cum = 0;
  for (int64_t i = 0; i < n; ++i) {
    cum += weigh(order[size_t(i)].first);
    if (cum > target) return order[size_t(i)].second;
  }
  fail(ErrorKind::Internal, "sample_token_ref: the inverse CDF walk ran past the kept tokens");
}

}  // namespace alm
