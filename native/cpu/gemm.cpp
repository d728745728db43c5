// GEMM in the BLIS style: B is packed into KC x NR panels and A into MR x KC panels so that the
// micro-kernel streams both from cache with unit stride; KC/MC/NC keep a B panel in L1, an A
// block in L2 and a packed B block in L2/L3. Skinny products (a side of at most 4, as in LSTM
// steps and decode) skip packing, which would cost as much as the product itself. The micro-kernel
// is AVX-512 (12x32), AVX2/FMA (6x16) or portable, picked per call from the CPU and set_simd_level;
// only those functions carry target attributes, so the binary runs on any x86-64.
#include "cpu/gemm.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <new>
#include <vector>

#include "core/error.h"
#include "core/threadpool.h"
#include "cpu/gemm_internal.h"

namespace alm {
namespace {

using namespace gemm_detail;

// Tile of the AVX2 and portable micro-kernels (MR x NR) and the AVX-512 one (MR512 x NR512);
// the packing follows the kernel in use. MC is a multiple of both MRs.
constexpr int MR = 6;
constexpr int NR = 16;
constexpr int MR512 = 12;
constexpr int NR512 = 32;
constexpr int64_t KC = 256;
constexpr int64_t MC = 168;
constexpr int64_t NC = 4080;

// 0: portable, 1: AVX2 + FMA, 2: AVX-512F (with VL and DQ). GCC's __builtin_cpu_supports also
// checks that the OS saves the wider registers (XCR0), so a "yes" is safe to act on.
int detect_simd_level() {
#ifdef ALM_X86_SIMD
  __builtin_cpu_init();
  if (!(__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))) return 0;
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
      __builtin_cpu_supports("avx512dq"))
    return 2;
  return 1;
#else
  return 0;
#endif
}
// A function-local static, so callers from other translation units' static initialisers see it.
int cpu_simd_level() {
  static const int level = detect_simd_level();
  return level;
}
// The most a caller allows; the level in use is the lesser of this and the CPU's.
std::atomic<int> g_simd_cap{2};
int simd_level_active() { return std::min(cpu_simd_level(), g_simd_cap.load(std::memory_order_relaxed)); }

// Grows but never shrinks, so repeated calls do not pay for page faults on fresh memory.
class ScratchBuffer {
 public:
  ~ScratchBuffer() { release(); }
  float* get(size_t n) {
    if (n > cap_) {
      release();
      try {
        p_ = static_cast<float*>(::operator new(n * sizeof(float), std::align_val_t(64)));
      } catch (const std::bad_alloc&) {
        fail(ErrorKind::OutOfMemory, "gemm: cannot allocate ", n * sizeof(float), " bytes of scratch");
      }
      cap_ = n;
    }
    return p_;
  }

 private:
  void release() {
    if (p_) ::operator delete(p_, std::align_val_t(64));
    p_ = nullptr;
    cap_ = 0;
  }
  float* p_ = nullptr;
  size_t cap_ = 0;
};
thread_local ScratchBuffer t_packed_a, t_packed_b;

// ---- packing -------------------------------------------------------------------------------

// Rows [i0, i0+mc) and depth [p0, p0+kc) of op(A), as MR-row panels laid out k-major, zero rows
// padding the last panel so the micro-kernel never needs a row count.
template <int MR>
void pack_a(bool trans, const float* A, int64_t lda, int64_t i0, int64_t mc, int64_t p0,
            int64_t kc, float* dst) {
  for (int64_t ir = 0; ir < mc; ir += MR) {
    const int mr = int(std::min<int64_t>(MR, mc - ir));
    float* d = dst + ir * kc;
    if (!trans) {
      const float* src = A + (i0 + ir) * lda + p0;
      for (int r = 0; r < mr; ++r)
        for (int64_t k = 0; k < kc; ++k) d[k * MR + r] = src[r * lda + k];
    } else {
      const float* src = A + p0 * lda + i0 + ir;
      for (int64_t k = 0; k < kc; ++k)
        for (int r = 0; r < mr; ++r) d[k * MR + r] = src[k * lda + r];
    }
    for (int r = mr; r < MR; ++r)
      for (int64_t k = 0; k < kc; ++k) d[k * MR + r] = 0.f;
  }
}

// NR-column panel `panel` of op(B) over columns [j0, j0+nc) and depth [p0, p0+kc).
template <int NR>
void pack_b_panel(bool trans, const float* B, int64_t ldb, int64_t j0, int64_t nc, int64_t p0,
                  int64_t kc, int64_t panel, float* dst) {
  const int64_t jr = panel * NR;
  const int nr = int(std::min<int64_t>(NR, nc - jr));
  float* d = dst + jr * kc;
  if (!trans) {
    const float* src = B + p0 * ldb + j0 + jr;
    for (int64_t k = 0; k < kc; ++k) {
      std::memcpy(d + k * NR, src + k * ldb, sizeof(float) * nr);
      for (int c = nr; c < NR; ++c) d[k * NR + c] = 0.f;
    }
  } else {
    const float* src = B + (j0 + jr) * ldb + p0;
    for (int c = 0; c < nr; ++c)
      for (int64_t k = 0; k < kc; ++k) d[k * NR + c] = src[c * ldb + k];
    for (int c = nr; c < NR; ++c)
      for (int64_t k = 0; k < kc; ++k) d[k * NR + c] = 0.f;
  }
}

// ---- micro-kernels: C[mr, nr] (=|+=) alpha * Ap * Bp over kc --------------------------------

using MicroKernel = void (*)(int64_t kc, const float* a, const float* b, float* c, int64_t ldc,
                             float alpha, float beta, int mr, int nr);

// acc holds a tile with rows of `nr_full` floats.
void merge_tile(const float* acc, int nr_full, float* c, int64_t ldc, float alpha, float beta, int mr, int nr) {
  for (int i = 0; i < mr; ++i)
    for (int j = 0; j < nr; ++j) store_scaled(c + i * ldc + j, acc[i * nr_full + j], alpha, beta);
}

// One row at a time: a row of accumulators fits the registers of any SIMD width, where the
// whole tile would spill and make compilers vectorise the wrong loop.
void micro_kernel_portable(int64_t kc, const float* a, const float* b, float* c, int64_t ldc,
                           float alpha, float beta, int mr, int nr) {
  float acc[MR * NR];
  for (int i = 0; i < mr; ++i) {
    float row[NR] = {};
    for (int64_t k = 0; k < kc; ++k) {
      const float av = a[k * MR + i];
      const float* bk = b + k * NR;
      for (int j = 0; j < NR; ++j) row[j] += av * bk[j];
    }
    std::memcpy(acc + i * NR, row, sizeof row);
  }
  merge_tile(acc, NR, c, ldc, alpha, beta, mr, nr);
}

#ifdef ALM_X86_SIMD
ALM_AVX2 inline void store_row_avx2(float* c, __m256 lo, __m256 hi, __m256 va, float beta) {
  lo = _mm256_mul_ps(lo, va);
  hi = _mm256_mul_ps(hi, va);
  if (beta != 0.f) {
    __m256 vb = _mm256_set1_ps(beta);
    lo = _mm256_fmadd_ps(vb, _mm256_loadu_ps(c), lo);
    hi = _mm256_fmadd_ps(vb, _mm256_loadu_ps(c + 8), hi);
  }
  _mm256_storeu_ps(c, lo);
  _mm256_storeu_ps(c + 8, hi);
}

// 6x16: twelve accumulators, two B vectors and one broadcast fill the 16 ymm registers.
ALM_AVX2 void micro_kernel_avx2(int64_t kc, const float* a, const float* b, float* c, int64_t ldc,
                                float alpha, float beta, int mr, int nr) {
  __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
  __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
  for (int i = 0; i < mr; ++i) _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc), _MM_HINT_T0);
#pragma GCC unroll 4
  for (int64_t k = 0; k < kc; ++k) {
    const __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8);
    __m256 av = _mm256_broadcast_ss(a);
    c00 = _mm256_fmadd_ps(av, b0, c00);
    c01 = _mm256_fmadd_ps(av, b1, c01);
    av = _mm256_broadcast_ss(a + 1);
    c10 = _mm256_fmadd_ps(av, b0, c10);
    c11 = _mm256_fmadd_ps(av, b1, c11);
    av = _mm256_broadcast_ss(a + 2);
    c20 = _mm256_fmadd_ps(av, b0, c20);
    c21 = _mm256_fmadd_ps(av, b1, c21);
    av = _mm256_broadcast_ss(a + 3);
    c30 = _mm256_fmadd_ps(av, b0, c30);
    c31 = _mm256_fmadd_ps(av, b1, c31);
    av = _mm256_broadcast_ss(a + 4);
    c40 = _mm256_fmadd_ps(av, b0, c40);
    c41 = _mm256_fmadd_ps(av, b1, c41);
    av = _mm256_broadcast_ss(a + 5);
    c50 = _mm256_fmadd_ps(av, b0, c50);
    c51 = _mm256_fmadd_ps(av, b1, c51);
    a += MR;
    b += NR;
  }
  const __m256 va = _mm256_set1_ps(alpha);
  if (mr == MR && nr == NR) {
    store_row_avx2(c, c00, c01, va, beta);
    store_row_avx2(c + ldc, c10, c11, va, beta);
    store_row_avx2(c + 2 * ldc, c20, c21, va, beta);
    store_row_avx2(c + 3 * ldc, c30, c31, va, beta);
    store_row_avx2(c + 4 * ldc, c40, c41, va, beta);
    store_row_avx2(c + 5 * ldc, c50, c51, va, beta);
    return;
  }
  alignas(32) float acc[MR * NR];
  const __m256 rows[MR * 2] = {c00, c01, c10, c11, c20, c21, c30, c31, c40, c41, c50, c51};
  for (int i = 0; i < MR * 2; ++i) _mm256_store_ps(acc + i * 8, rows[i]);
  merge_tile(acc, NR, c, ldc, alpha, beta, mr, nr);
}

// 12x32: 24 zmm accumulators, two B vectors and broadcasts from memory within the 32 registers.
// Partial tiles store through lane masks (masked-off lanes are neither read nor written).
ALM_AVX512 void micro_kernel_avx512(int64_t kc, const float* a, const float* b, float* c,
                                    int64_t ldc, float alpha, float beta, int mr, int nr) {
  __m512 acc[MR512][2];
#pragma GCC unroll 12
  for (int i = 0; i < MR512; ++i) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
  for (int i = 0; i < mr; ++i) _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc), _MM_HINT_T0);
#pragma GCC unroll 2
  for (int64_t k = 0; k < kc; ++k) {
    const __m512 b0 = _mm512_load_ps(b), b1 = _mm512_load_ps(b + 16);
#pragma GCC unroll 12
    for (int i = 0; i < MR512; ++i) {
      const __m512 av = _mm512_set1_ps(a[i]);
      acc[i][0] = _mm512_fmadd_ps(av, b0, acc[i][0]);
      acc[i][1] = _mm512_fmadd_ps(av, b1, acc[i][1]);
    }
    a += MR512;
    b += NR512;
  }
  const __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
  const __mmask16 m0 = nr >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << nr) - 1);
  const __mmask16 m1 = nr >= 32 ? __mmask16(0xFFFF) : nr <= 16 ? __mmask16(0) : __mmask16((1u << (nr - 16)) - 1);
  const bool read_c = beta != 0.f;
#pragma GCC unroll 12
  for (int i = 0; i < MR512; ++i) {
    if (i >= mr) break;
    float* ci = c + i * ldc;
    __m512 lo = _mm512_mul_ps(acc[i][0], va), hi = _mm512_mul_ps(acc[i][1], va);
    if (read_c) {
      lo = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m0, ci), lo);
      hi = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m1, ci + 16), hi);
    }
    _mm512_mask_storeu_ps(ci, m0, lo);
    _mm512_mask_storeu_ps(ci + 16, m1, hi);
  }
}
#endif

// A micro-kernel and the tile its packed panels are laid out for.
struct KernelSpec {
  MicroKernel fn;
  int mr, nr;
  void (*pack_a)(bool, const float*, int64_t, int64_t, int64_t, int64_t, int64_t, float*);
  void (*pack_b)(bool, const float*, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, float*);
};

KernelSpec pick_micro_kernel() {
#ifdef ALM_X86_SIMD
  const int level = simd_level_active();
  if (level >= 2) return {micro_kernel_avx512, MR512, NR512, pack_a<MR512>, pack_b_panel<NR512>};
  if (level >= 1) return {micro_kernel_avx2, MR, NR, pack_a<MR>, pack_b_panel<NR>};
#endif
  return {micro_kernel_portable, MR, NR, pack_a<MR>, pack_b_panel<NR>};
}

// ---- packed path ---------------------------------------------------------------------------

// When the packed A fits in L2 (up to 2 MiB; few rows: transformer projections at short sequence
// lengths, conv chunks) all of A is packed once, up front, and each task packs its B panels just
// before use, so a panel goes from B to L1 and straight into the micro-kernel: no packed copy of
// B makes a round trip through L3, and no column block is waited on.
constexpr int64_t kSmallAFloats = int64_t(1) << 19;
constexpr int64_t kSmallAMaxRows = 256;

bool small_a_fits(int64_t M, int64_t K, int64_t mr) {
  // Past a few hundred rows, splitting M between threads (each packing its share of A) wins.
  return M <= kSmallAMaxRows && ceil_div(M, mr) * mr * K <= kSmallAFloats;
}

void gemm_packed_small_a(const KernelSpec& ks, bool trans_a, bool trans_b, int64_t M, int64_t N,
                         int64_t K, float alpha, const float* A, int64_t lda, const float* B,
                         int64_t ldb, float beta, float* C, int64_t ldc, bool parallel) {
  const int64_t MRk = ks.mr, NRk = ks.nr;
  const int64_t mpanels = ceil_div(M, MRk), mpad = mpanels * MRk, kslices = ceil_div(K, KC);
  // Slice pc (depth [pc, pc+kc)) starts at pc * mpad; its MR-row panel ir at ir * kc within.
  float* packed_a = t_packed_a.get(size_t(mpad * K));
  maybe_parallel(parallel, kslices * mpanels, std::max<int64_t>(1, 32768 / (MRk * KC)), [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      const int64_t pc = (i / mpanels) * KC, kc = std::min(KC, K - pc), ir = (i % mpanels) * MRk;
      ks.pack_a(trans_a, A, lda, ir, std::min(MRk, M - ir), pc, kc, packed_a + pc * mpad + ir * kc);
    }
  });
  const int64_t npanels = ceil_div(N, NRk);
  // Panels go in groups of up to four (rows of B are then read 4 * NR floats at a time), fewer
  // where that would leave threads without two groups each.
  const int64_t threads = parallel ? num_threads() : 1;
  const int64_t kGroup = std::max<int64_t>(1, std::min<int64_t>(4, npanels / (2 * threads)));
  const int64_t groups = ceil_div(npanels, kGroup);
  // About 1M multiply-adds per chunk of groups, so that the pool's hand-off is paid for.
  const int64_t grain = std::max<int64_t>(1, (int64_t(1) << 20) / std::max<int64_t>(1, mpad * kGroup * NRk * K));
  maybe_parallel(parallel, groups, grain, [&](int64_t g0, int64_t g1) {
    float* bp = t_packed_b.get(size_t(KC * NRk * kGroup));
    for (int64_t g = g0; g < g1; ++g) {
      const int64_t j0 = g * kGroup * NRk, nc = std::min(kGroup * NRk, N - j0);
      const int64_t np = ceil_div(nc, NRk);
      for (int64_t pc = 0; pc < K; pc += KC) {
        const int64_t kc = std::min(KC, K - pc);
        const float beta_slice = pc == 0 ? beta : 1.f;
        for (int64_t q = 0; q < np; ++q) ks.pack_b(trans_b, B, ldb, j0, nc, pc, kc, q, bp);
        const float* ap = packed_a + pc * mpad;
        for (int64_t q = 0; q < np; ++q) {
          const int nr = int(std::min<int64_t>(NRk, nc - q * NRk));
          for (int64_t ir = 0; ir < M; ir += MRk) {
            const int mr = int(std::min<int64_t>(MRk, M - ir));
            ks.fn(kc, ap + ir * kc, bp + q * NRk * kc, C + ir * ldc + j0 + q * NRk, ldc, alpha, beta_slice, mr, nr);
          }
        }
      }
    }
  });
}

// Each column block of B is packed whole (every K slice) before the tasks start, so that a task
// runs its M block through all of K without waiting: two pool hand-offs per column block.
void gemm_packed(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                 const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
                 int64_t ldc, bool may_thread) {
  const KernelSpec ks = pick_micro_kernel();
  const MicroKernel kernel = ks.fn;
  const int64_t MRk = ks.mr, NRk = ks.nr;
  // Below about 2M multiply-adds (20 us on one core) waking the pool costs more than it saves.
  const bool parallel = may_thread && M * N * K >= (int64_t(1) << 21) && num_threads() > 1;
  const int64_t threads = parallel ? num_threads() : 1;
  // The small-A path shares only columns out; with too few of them the M-blocked path does better.
  if (small_a_fits(M, K, MRk) && (!parallel || ceil_div(N, NRk) >= 2 * threads)) {
    gemm_packed_small_a(ks, trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, parallel);
    return;
  }
  // Equal-sized M blocks, so that 512 rows do not become 168+168+168+8, and at least one per
  // thread when there are rows enough: splitting M shares the A packing out, splitting N does not.
  int64_t mblocks = ceil_div(M, MC);
  if (mblocks < threads && M >= threads * 2 * MRk) mblocks = threads;
  const int64_t mc_block = ceil_div(ceil_div(M, mblocks), MRk) * MRk;
  mblocks = ceil_div(M, mc_block);
  const int64_t kslices = ceil_div(K, KC);
  // Columns per block: as many as keep the packed block within KC x NC floats.
  const int64_t nc_block = std::max<int64_t>(NRk, (KC * NC / K) / NRk * NRk);
  for (int64_t jc = 0; jc < N; jc += nc_block) {
    const int64_t nc = std::min(nc_block, N - jc);
    const int64_t panels = ceil_div(nc, NRk);
    float* packed_b = t_packed_b.get(size_t(panels * NRk * K));
    maybe_parallel(parallel, kslices * panels, std::max<int64_t>(1, 32768 / (NRk * KC)), [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) {
        const int64_t pc = (i / panels) * KC, kc = std::min(KC, K - pc);
        ks.pack_b(trans_b, B, ldb, jc, nc, pc, kc, i % panels, packed_b + pc * panels * NRk);
      }
    });
    // Few M blocks leave threads idle, so their columns are split as well.
    int64_t nsplit = 1;
    if (threads > 1 && mblocks < 2 * threads)
      nsplit = std::max<int64_t>(1, std::min(panels / 2, ceil_div(2 * threads, mblocks)));
    maybe_parallel(parallel, mblocks * nsplit, 1, [&](int64_t t0, int64_t t1) {
      for (int64_t task = t0; task < t1; ++task) {
        const int64_t i0 = (task / nsplit) * mc_block, split = task % nsplit;
        const int64_t mc = std::min(mc_block, M - i0);
        const int64_t pb = split * panels / nsplit, pe = (split + 1) * panels / nsplit;
        float* packed_a = t_packed_a.get(size_t(ceil_div(mc, MRk) * MRk * KC));
        for (int64_t pc = 0; pc < K; pc += KC) {
          const int64_t kc = std::min(KC, K - pc);
          const float beta_slice = pc == 0 ? beta : 1.f;
          ks.pack_a(trans_a, A, lda, i0, mc, pc, kc, packed_a);
          for (int64_t p = pb; p < pe; ++p) {
            const int nr = int(std::min<int64_t>(NRk, nc - p * NRk));
            const float* bp = packed_b + pc * panels * NRk + p * NRk * kc;
            for (int64_t ir = 0; ir < mc; ir += MRk) {
              const int mr = int(std::min<int64_t>(MRk, mc - ir));
              kernel(kc, packed_a + ir * kc, bp, C + (i0 + ir) * ldc + jc + p * NRk, ldc, alpha,
                     beta_slice, mr, nr);
            }
          }
        }
      }
    });
  }
}

void check_gemm_args(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, const float* A,
                     int64_t lda, const float* B, int64_t ldb, const float* C, int64_t ldc) {
  ALM_CHECK_ARG(M >= 0 && N >= 0 && K >= 0, "gemm: negative size M=", M, " N=", N, " K=", K);
  if (M == 0 || N == 0) return;
  ALM_CHECK_ARG(C != nullptr, "gemm: C is null");
  ALM_CHECK_ARG(ldc >= N, "gemm: ldc=", ldc, " is less than N=", N);
  if (K == 0) return;
  ALM_CHECK_ARG(A != nullptr && B != nullptr, "gemm: A or B is null");
  const int64_t a_cols = trans_a ? M : K, b_cols = trans_b ? K : N;
  ALM_CHECK_ARG(lda >= a_cols, "gemm: lda=", lda, " is less than the ", a_cols, " columns of A");
  ALM_CHECK_ARG(ldb >= b_cols, "gemm: ldb=", ldb, " is less than the ", b_cols, " columns of B");
}

}  // namespace

bool simd_avx2_active() { return simd_level_active() >= 1; }
bool simd_avx512_active() { return simd_level_active() >= 2; }
void set_simd_enabled(bool enabled) { g_simd_cap.store(enabled ? 2 : 0); }
void set_simd_level(int level) { g_simd_cap.store(std::max(0, std::min(2, level))); }
int simd_level() { return simd_level_active(); }
int simd_max_level() { return cpu_simd_level(); }
const char* simd_kernel_name() {
  switch (simd_level_active()) {
    case 2: return "avx512";
    case 1: return "avx2+fma";
    default: return "portable";
  }
}

namespace {
void gemm_impl(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
               const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
               int64_t ldc, bool may_thread) {
  check_gemm_args(trans_a, trans_b, M, N, K, A, lda, B, ldb, C, ldc);
  if (M == 0 || N == 0) return;
  if (K == 0 || alpha == 0.f) {
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) C[i * ldc + j] = beta == 0.f ? 0.f : beta * C[i * ldc + j];
    return;
  }
  const View a{A, trans_a ? 1 : lda, trans_a ? lda : 1};
  const View b{B, trans_b ? 1 : ldb, trans_b ? ldb : 1};
  if (M <= kSkinny || (N > kSkinny && M * N * K <= 16384)) {
    gemm_skinny(M, N, K, alpha, a, b, beta, OutView{C, ldc, 1}, may_thread);
  } else if (N <= kSkinny) {
    // C^T = op(B)^T op(A)^T turns a few columns into a few rows.
    gemm_skinny(N, M, K, alpha, View{b.p, b.cs, b.rs}, View{a.p, a.cs, a.rs}, beta, OutView{C, 1, ldc}, may_thread);
  } else {
    gemm_packed(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, may_thread);
  }
}
}  // namespace

void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
          const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
          int64_t ldc) {
  gemm_impl(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, true);
}

void gemm_single_thread(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                        const float* A, int64_t lda, const float* B, int64_t ldb, float beta,
                        float* C, int64_t ldc) {
  gemm_impl(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, false);
}

void gemm_ref(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
              const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
              int64_t ldc) {
  check_gemm_args(trans_a, trans_b, M, N, K, A, lda, B, ldb, C, ldc);
  for (int64_t i = 0; i < M; ++i) {
    for (int64_t j = 0; j < N; ++j) {
      double s = 0;
      for (int64_t k = 0; k < K; ++k) {
        const double av = trans_a ? A[k * lda + i] : A[i * lda + k];
        const double bv = trans_b ? B[j * ldb + k] : B[k * ldb + j];
        s += av * bv;
      }
      float& c = C[i * ldc + j];
      c = float(double(alpha) * s + (beta == 0.f ? 0.0 : double(beta) * c));
    }
  }
}

}  // namespace alm
