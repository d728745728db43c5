// Timing for the native benches: medians of repeated runs after a warm-up, with the fastest run
// beside them (on a shared machine the gap between the two shows the noise).
#pragma once
#include <algorithm>
#include <chrono>
#include <functional>
#include <vector>

namespace alm_bench {

struct Timing {
  double median_s, best_s;
};

// One warm-up call, then repeats until `budget_s` is spent (at least `min_reps`, at most `max_reps`).
inline Timing time_calls(const std::function<void()>& fn, double budget_s, int min_reps, int max_reps = 200) {
  using clock = std::chrono::steady_clock;
  fn();
  std::vector<double> times;
  const auto start = clock::now();
  while (times.size() < size_t(min_reps) ||
         (times.size() < size_t(max_reps) && std::chrono::duration<double>(clock::now() - start).count() < budget_s)) {
    const auto t0 = clock::now();
    fn();
    times.push_back(std::chrono::duration<double>(clock::now() - t0).count());
  }
  std::sort(times.begin(), times.end());
  return {times[times.size() / 2], times[0]};
}

}  // namespace alm_bench
