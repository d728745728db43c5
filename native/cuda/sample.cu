// Token sampling on the device, one 256-thread block per row, with the CPU rule's exact
// arithmetic (see native/cpu/sample.cpp). Each allowed token gets a 64-bit key whose descending
// order is the rule's order: the high word is the logit's bits made monotone (with -0 folded
// into +0, which the CPU treats as equal), the low word the complement of the id. Finding "the
// first token, in that order, at which a running total crosses a threshold" is then a radix
// select over the keys: 8 passes of 8 bits, each a shared-memory histogram of counts and exact
// integer weights, walked from the top bin down. Top-k (by counts), the top-p cut and the
// inverse-CDF draw are three such selects, so nothing is sorted and the pick is exactly the
// CPU's: the weights are integers, so the sums do not depend on order.
// One difference remains possible: device exp() and the host's may differ in the last ulp, which
// changes a token's integer weight when exp(x) * 2^38 lies within that ulp of a half (about one
// token in 10^4 with non-negligible weight); greedy is exact.
#include "cuda/common.cuh"
#include "cuda/sample.cuh"

namespace alm {
namespace cuda {
namespace {

constexpr int kThreads = 256;
constexpr double kWeightOne = 274877906944.0;  // 2^38, as the CPU op

__device__ __forceinline__ uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// rng_uniform of native/cpu/sample.cpp, bit for bit.
__device__ __forceinline__ double rng_uniform_dev(uint64_t seed, uint64_t counter) {
  const uint64_t key = mix64(seed ^ 0x6a09e667f3bcc909ULL);
  const uint64_t bits = mix64(key + (counter + 1) * 0x9e3779b97f4a7c15ULL);
  return double(bits >> 11) * (1.0 / 9007199254740992.0);
}

// scaled_target of native/cpu/sample.cpp: floor(u * total), exactly.
__device__ __forceinline__ uint64_t scaled_target(double u, uint64_t total) {
  const uint64_t a = uint64_t(u * 9007199254740992.0);
  const uint64_t a_lo = a & 0xffffffffULL, a_hi = a >> 32, b_lo = total & 0xffffffffULL, b_hi = total >> 32;
  const uint64_t p0 = a_lo * b_lo, p1 = a_lo * b_hi, p2 = a_hi * b_lo, p3 = a_hi * b_hi;
  const uint64_t mid = (p0 >> 32) + (p1 & 0xffffffffULL) + (p2 & 0xffffffffULL);
  const uint64_t lo = (mid << 32) | (p0 & 0xffffffffULL);
  const uint64_t hi = p3 + (p1 >> 32) + (p2 >> 32) + (mid >> 32);
  return (hi << 11) | (lo >> 53);
}

struct Row {
  const float* logits;
  int V;
  DeviceSampleParams p;

  __device__ bool allowed(int i) const {
    if (!p.has_range) return true;
    if (i >= p.lo && i < p.hi) return true;
    for (int e = 0; e < p.n_extra; ++e)
      if (p.extra[e] == i) return true;
    return false;
  }
  __device__ static uint64_t key_of(float x, int i) {
    if (x == 0.f) x = 0.f;  // -0 == +0 for the rule
    const uint32_t u = __float_as_uint(x);
    const uint32_t ord = (u & 0x80000000u) ? ~u : (u | 0x80000000u);
    return (uint64_t(ord) << 32) | uint64_t(~uint32_t(i));
  }
  __device__ static float logit_of(uint64_t key) {
    const uint32_t ord = uint32_t(key >> 32);
    return __uint_as_float((ord & 0x80000000u) ? (ord & 0x7fffffffu) : ~ord);
  }
  __device__ static int id_of(uint64_t key) { return int(~uint32_t(key & 0xffffffffULL)); }
};

struct Weigher {
  float max;
  double temperature;
  __device__ uint64_t operator()(float logit) const {
    if (max == INFINITY) return logit == max ? uint64_t(kWeightOne) : 0;
    const double x = (double(logit) - double(max)) / temperature;
    if (x < -28.0) return 0;
    return uint64_t(exp(x) * kWeightOne + 0.5);
  }
};

struct Shared {
  unsigned long long hist[256];
  unsigned int cnt[256];
  unsigned long long best, total, prefix, cum;
  unsigned int n_allowed, nan, found;
};

// The first key, in descending order among allowed keys >= key_lo, at which the running total
// of value(key) crosses (crosses(cum) true). Returns it and leaves the running total including
// it in sh.cum; sh.found is 0 if no key crosses.
template <typename Value, typename Crosses>
__device__ uint64_t select_first(const Row& row, uint64_t key_lo, Value value, Crosses crosses, Shared& sh) {
  uint64_t prefix = 0, mask = 0;
  unsigned long long above = 0;
  __syncthreads();  // everyone has read the previous select's found / cum
  if (threadIdx.x == 0) sh.found = 1;
  for (int shift = 56; shift >= 0; shift -= 8) {
    for (int b = threadIdx.x; b < 256; b += blockDim.x) {
      sh.hist[b] = 0;
      sh.cnt[b] = 0;
    }
    __syncthreads();
    for (int i = threadIdx.x; i < row.V; i += blockDim.x) {
      if (!row.allowed(i)) continue;
      const float x = row.logits[i];
      const uint64_t key = Row::key_of(x, i);
      if (key < key_lo || (key & mask) != prefix) continue;
      const int b = int((key >> shift) & 0xff);
      atomicAdd(&sh.hist[b], (unsigned long long)value(x));
      atomicAdd(&sh.cnt[b], 1u);
    }
    __syncthreads();
    if (threadIdx.x == 0) {
      int chosen = -1;
      for (int b = 255; b >= 0; --b) {
        if (sh.cnt[b] == 0) continue;
        if (crosses(above + sh.hist[b])) {
          chosen = b;
          break;
        }
        above += sh.hist[b];
      }
      if (chosen < 0) {
        sh.found = 0;
        chosen = 0;
      }
      sh.prefix = prefix | (uint64_t(chosen) << shift);
      if (shift == 0) sh.cum = above + sh.hist[chosen];
    }
    __syncthreads();
    prefix = sh.prefix;
    mask |= uint64_t(0xff) << shift;
    // `above` matters only on thread 0, which keeps its own running copy.
  }
  return prefix;
}

struct One {
  __device__ uint64_t operator()(float) const { return 1; }
};
struct AtLeast {
  unsigned long long k;
  __device__ bool operator()(unsigned long long c) const { return c >= k; }
};
struct AtLeastDouble {
  double threshold;
  __device__ bool operator()(unsigned long long c) const { return double(c) >= threshold; }
};
struct Above {
  unsigned long long target;
  __device__ bool operator()(unsigned long long c) const { return c > target; }
};

__global__ void __launch_bounds__(kThreads) sample_kernel(const float* logits, int V, int64_t ld,
                                                          DeviceSampleParams params, const uint64_t* seeds,
                                                          const uint64_t* counters, int32_t* tokens) {
  __shared__ Shared sh;
  const Row row{logits + blockIdx.x * ld, V, params};
  if (threadIdx.x == 0) {
    sh.best = 0;
    sh.total = 0;
    sh.n_allowed = 0;
    sh.nan = 0;
  }
  __syncthreads();
  // Pass 1: NaN anywhere (an error, as on the CPU), the number of allowed tokens, the top key.
  unsigned long long best = 0;
  unsigned int n = 0, nan = 0;
  for (int i = threadIdx.x; i < V; i += blockDim.x) {
    const float x = row.logits[i];
    if (isnan(x)) {
      nan = 1;
      continue;
    }
    if (!row.allowed(i)) continue;
    ++n;
    best = max(best, (unsigned long long)Row::key_of(x, i));
  }
  if (nan) atomicOr(&sh.nan, 1u);
  atomicAdd(&sh.n_allowed, n);
  atomicMax(&sh.best, best);
  __syncthreads();
  const float top = Row::logit_of(sh.best);
  if (sh.nan || sh.n_allowed == 0 || top == -INFINITY) {
    if (threadIdx.x == 0) tokens[blockIdx.x] = -1;
    return;
  }
  if (params.temperature <= 0.f) {
    if (threadIdx.x == 0) tokens[blockIdx.x] = Row::id_of(sh.best);
    return;
  }
  const Weigher weigh{top, double(params.temperature)};
  // Top-k: keep keys >= the k-th largest.
  uint64_t key_lo = 0;
  if (params.top_k > 0 && unsigned(params.top_k) < sh.n_allowed)
    key_lo = select_first(row, 0, One{}, AtLeast{(unsigned long long)params.top_k}, sh);
  // Total weight of the kept tokens.
  unsigned long long total = 0;
  for (int i = threadIdx.x; i < V; i += blockDim.x) {
    if (!row.allowed(i)) continue;
    const float x = row.logits[i];
    if (Row::key_of(x, i) >= key_lo) total += weigh(x);
  }
  atomicAdd(&sh.total, total);
  __syncthreads();
  total = sh.total;
  bool ok = true;
  // Top-p: the shortest prefix whose weight reaches top_p of the total; its weight is the new total.
  if (params.top_p < 1.f) {
    key_lo = select_first(row, key_lo, weigh, AtLeastDouble{double(params.top_p) * double(total)}, sh);
    ok = sh.found;
    total = sh.cum;
  }
  const double u = rng_uniform_dev(seeds[blockIdx.x], counters[blockIdx.x]);
  const uint64_t pick = select_first(row, key_lo, weigh, Above{scaled_target(u, total)}, sh);
  ok = ok && sh.found;
  if (threadIdx.x == 0) tokens[blockIdx.x] = ok ? Row::id_of(pick) : -1;
}

}  // namespace

void sample_tokens(const float* logits, int64_t rows, int64_t V, int64_t ld, const DeviceSampleParams& params,
                   const uint64_t* seeds, const uint64_t* counters, int32_t* tokens) {
  ALM_CHECK_ARG(V > 0 && V < (int64_t(1) << 24), "sample_tokens: vocabulary size ", V, " outside [1, 2^24)");
  ALM_CHECK_ARG(rows >= 0 && rows < (int64_t(1) << 31) && ld >= V, "sample_tokens: rows ", rows, " or ld ", ld,
                " out of range");
  ALM_CHECK_ARG(!(params.temperature != params.temperature) && !(params.top_p != params.top_p),
                "sample_tokens: NaN temperature or top_p");
  if (params.has_range) {
    if (params.hi > params.lo)
      ALM_CHECK_ARG(params.lo >= 0 && params.hi <= V, "sample_tokens: token range [", params.lo, ", ", params.hi,
                    ") is outside [0, ", V, ")");
    ALM_CHECK_ARG(params.n_extra >= 0 && (params.n_extra == 0 || params.extra), "sample_tokens: bad extra ids");
    ALM_CHECK_ARG(params.hi > params.lo || params.n_extra > 0, "sample_tokens: the allowed token set is empty");
  }
  if (rows == 0) return;
  sample_kernel<<<unsigned(rows), kThreads, 0, stream()>>>(logits, int(V), ld, params, seeds, counters, tokens);
  ALM_CUDA_CHECK_LAUNCH("sample_tokens");
}

}  // namespace cuda
}  // namespace alm
