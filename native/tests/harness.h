// A tiny test harness for the native test executables (they run on GPU machines without Node).
// Each TEST registers a function; main() runs them all, or those whose names contain argv[1],
// and ends with the plain "N passed, M failed" line that CI reads.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <functional>
#include <random>
#include <string>
#include <vector>

namespace alm_test {

struct Case { const char* name; std::function<void()> fn; };
inline std::vector<Case>& registry() { static std::vector<Case> r; return r; }
struct Registrar { Registrar(const char* n, std::function<void()> f) { registry().push_back({n, std::move(f)}); } };

struct Failure { std::string what; };

// Relative L2 error ||a - b|| / ||b|| (absolute when b is all zeros).
inline double rel_l2(const float* a, const float* b, size_t n) {
  double num = 0, den = 0;
  for (size_t i = 0; i < n; ++i) {
    double d = double(a[i]) - double(b[i]);
    num += d * d;
    den += double(b[i]) * double(b[i]);
  }
  return den > 0 ? std::sqrt(num / den) : std::sqrt(num);
}

// Fills with uniform values in [lo, hi) from a fixed seed, so failures reproduce.
inline void fill_random(float* x, size_t n, uint32_t seed, float lo = -1.f, float hi = 1.f) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  for (size_t i = 0; i < n; ++i) x[i] = d(gen);
}
inline std::vector<float> random_vec(size_t n, uint32_t seed, float lo = -1.f, float hi = 1.f) {
  std::vector<float> v(n);
  fill_random(v.data(), n, seed, lo, hi);
  return v;
}

inline int run_all(int argc, char** argv) {
  int passed = 0, failed = 0;
  for (auto& c : registry()) {
    if (argc > 1 && std::string(c.name).find(argv[1]) == std::string::npos) continue;
    try {
      c.fn();
      ++passed;
      std::printf("ok   %s\n", c.name);
    } catch (const Failure& f) {
      ++failed;
      std::printf("FAIL %s: %s\n", c.name, f.what.c_str());
    } catch (const std::exception& e) {
      ++failed;
      std::printf("FAIL %s: unexpected exception: %s\n", c.name, e.what());
    }
    std::fflush(stdout);
  }
  std::printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}

}  // namespace alm_test

#define ALM_TEST_CAT2(a, b) a##b
#define ALM_TEST_CAT(a, b) ALM_TEST_CAT2(a, b)
#define TEST(name)                                                                           \
  static void name();                                                                        \
  static ::alm_test::Registrar ALM_TEST_CAT(reg_, name)(#name, name);                        \
  static void name()

#define EXPECT(cond)                                                                         \
  do { if (!(cond)) throw ::alm_test::Failure{std::string("expected ") + #cond + " (" +      \
                                              __FILE__ + ":" + std::to_string(__LINE__) + ")"}; } while (0)
#define EXPECT_MSG(cond, msg)                                                                \
  do { if (!(cond)) throw ::alm_test::Failure{std::string(msg) + " (" + __FILE__ + ":" +     \
                                              std::to_string(__LINE__) + ")"}; } while (0)
// The relative L2 error of got against want is under tol; prints the measured error on failure.
#define EXPECT_CLOSE(got, want, n, tol)                                                      \
  do { double e_ = ::alm_test::rel_l2((got), (want), (n));                                   \
       if (!(e_ < (tol))) throw ::alm_test::Failure{"relative L2 error " + std::to_string(e_) + \
           " >= " + std::to_string(tol) + " (" + __FILE__ + ":" + std::to_string(__LINE__) + ")"}; } while (0)
// Runs stmt and expects an alm::Error whose code is `code` (a string like "ERR_AUDIOLM_IO").
#define EXPECT_THROWS_CODE(stmt, want_code)                                                  \
  do { bool thrown_ = false;                                                                 \
       try { stmt; } catch (const ::alm::Error& err_) {                                      \
         thrown_ = true;                                                                     \
         if (std::string(err_.code()) != (want_code)) throw ::alm_test::Failure{              \
             std::string("expected ") + (want_code) + " but got " + err_.code() + ": " + err_.what()}; \
       }                                                                                     \
       if (!thrown_) throw ::alm_test::Failure{std::string("expected ") + (want_code) + " from " + #stmt}; } while (0)

#define TEST_MAIN() int main(int argc, char** argv) { return ::alm_test::run_all(argc, argv); }
