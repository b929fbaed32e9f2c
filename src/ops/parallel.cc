#include "ops/parallel.h"

#include <algorithm>
#include <string>

#include "core/error.h"

#if !defined(__EMSCRIPTEN__) || defined(__EMSCRIPTEN_PTHREADS__)
#define ARGEN_THREADS 1
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define ARGEN_PAUSE() _mm_pause()
#else
#define ARGEN_PAUSE() ((void)0)
#endif
#endif

namespace argen::ops {

#ifdef ARGEN_THREADS
namespace {

// A fork-join pool: workers spin for a while after each job (products follow each other within
// microseconds during a step), then sleep on a condition variable (between steps and streams).
class Pool {
 public:
  ~Pool() { resize(1); }

  void resize(int n) {
    {
      std::lock_guard<std::mutex> l(mu_);
      quit_ = true;
    }
    cv_.notify_all();
    for (auto& t : workers_) t.join();
    workers_.clear();
    quit_ = false;
    for (int k = 1; k < n; ++k) workers_.emplace_back([this, k] { work(k); });
    size_ = n;
  }
  int size() const { return size_; }

  void run(size_t n, size_t align, void (*part)(size_t, size_t, void*), void* ctx) {
    const size_t blocks = (n + align - 1) / align;
    const int parts = int(std::min<size_t>(size_, blocks));
    if (parts < 2 || in_part_) return part(0, n, ctx);  // in_part_: nested in a part of this pool's job
    std::unique_lock<std::mutex> busy(run_mu_, std::try_to_lock);
    if (!busy.owns_lock()) return part(0, n, ctx);
    // Every part of the last job is done, so no worker reads these until the release below
    // publishes them with the new job's claims.
    n_ = n, align_ = align, blocks_ = blocks, part_ = part, ctx_ = ctx;
    done_.store(0, std::memory_order_relaxed);
    claims_.store(uint64_t(parts) << 32, std::memory_order_release);
    {
      std::lock_guard<std::mutex> l(mu_);
      job_.fetch_add(1, std::memory_order_release);
    }
    cv_.notify_all();
    // Parts go to whoever claims them first: when a worker is not running (a busy machine), the
    // caller does its share instead of waiting for it.
    claim();
    for (int spin = 0; done_.load(std::memory_order_acquire) != parts; ++spin)
      if (spin < 4000) ARGEN_PAUSE(); else std::this_thread::yield();
  }

 private:
  // Claims parts of the current job until none is left. claims_ holds the job's part count (high
  // half) and the next unclaimed part (low half) in one atomic: a worker late from an earlier job
  // sees that job's parts all claimed, or claims a part of the new one, and never reads the job's
  // fields unless its claim succeeded (they were written before the claims were published, and
  // the caller rewrites them only after every claimed part is done).
  void claim() {
    for (uint64_t c = claims_.load(std::memory_order_acquire);;) {
      const uint32_t parts = uint32_t(c >> 32), k = uint32_t(c);
      if (k >= parts) return;
      if (!claims_.compare_exchange_weak(c, c + 1, std::memory_order_acq_rel, std::memory_order_acquire)) continue;
      const size_t b = blocks_ * k / parts * align_, e = std::min(n_, blocks_ * (k + 1) / parts * align_);
      if (b < e) {
        struct InPart {
          InPart() { in_part_ = true; }
          ~InPart() { in_part_ = false; }
        } in_part;
        part_(b, e, ctx_);
      }
      done_.fetch_add(1, std::memory_order_acq_rel);
      c = claims_.load(std::memory_order_acquire);
    }
  }

  void work(int) {
    uint64_t seen = job_.load(std::memory_order_acquire);
    for (;;) {
      for (int spin = 0; spin < 20000 && job_.load(std::memory_order_acquire) == seen; ++spin) ARGEN_PAUSE();
      if (job_.load(std::memory_order_acquire) == seen) {
        std::unique_lock<std::mutex> l(mu_);
        cv_.wait(l, [&] { return quit_ || job_.load(std::memory_order_acquire) != seen; });
      }
      if (quit_) return;
      seen = job_.load(std::memory_order_acquire);
      claim();
    }
  }

  static thread_local bool in_part_;  // this thread runs a part of a job
  std::vector<std::thread> workers_;
  int size_ = 1;
  std::mutex mu_, run_mu_;
  std::condition_variable cv_;
  std::atomic<bool> quit_{false};
  std::atomic<uint64_t> job_{0};
  std::atomic<uint64_t> claims_{0};  // parts << 32 | next part
  std::atomic<int> done_{0};
  size_t n_ = 0, align_ = 1, blocks_ = 0;
  void (*part_)(size_t, size_t, void*) = nullptr;
  void* ctx_ = nullptr;
};

thread_local bool Pool::in_part_ = false;

Pool& pool() {
  static Pool p;
  return p;
}

}  // namespace

void set_threads(int n) {
  if (n < 1 || n > 64) throw Error("threads must be in 1..64, found " + std::to_string(n));
  if (n != pool().size()) pool().resize(n);
}
int threads() { return pool().size(); }
int max_threads() { return std::max(1, int(std::thread::hardware_concurrency())); }
void parallel_for(size_t n, size_t align, void (*part)(size_t, size_t, void*), void* ctx) {
  pool().run(n, align, part, ctx);
}

#else  // a build without threads

void set_threads(int n) {
  if (n != 1) throw Error("this build of argen is single-threaded: threads must be 1, found " + std::to_string(n));
}
int threads() { return 1; }
int max_threads() { return 1; }
void parallel_for(size_t n, size_t, void (*part)(size_t, size_t, void*), void* ctx) { part(0, n, ctx); }

#endif

}  // namespace argen::ops
