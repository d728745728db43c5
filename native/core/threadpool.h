// A fixed pool of worker threads for data-parallel loops. Sized to the machine's cores unless
// AUDIOLM_THREADS or set_num_threads() says otherwise. Concurrent callers (several requests on
// libuv's pool) take turns: each parallel_for gets every worker while it runs.
#pragma once
#include <cstdint>
#include <functional>

namespace alm {

// Number of threads a parallel_for uses (the calling thread included).
int num_threads();
// Changes the pool size; n <= 0 means "the default" (AUDIOLM_THREADS, else hardware cores).
void set_num_threads(int n);

// Calls fn(begin, end) on disjoint chunks covering [0, n), at least `grain` items each, spread
// over the pool, and returns when all are done. The first exception thrown by a chunk is
// rethrown in the caller after every chunk has finished. Nested calls run serially.
void parallel_for(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t)>& fn);

}  // namespace alm
