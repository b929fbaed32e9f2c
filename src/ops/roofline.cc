#include "ops/roofline.h"

#include <algorithm>
#include <chrono>
#include <vector>

#include "ops/ops.h"

namespace argen::ops {
namespace {

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

// The best of a few timed passes over `floats` floats, each pass repeated until it spans >= 50 ms.
double read_gbps(size_t floats) {
  std::vector<float> buf(floats, 1.0f);
  volatile float sink = 0;
  double best = 0;
  for (int rep = 0; rep < 5; ++rep) {
    int passes = 0;
    const double t0 = now();
    double t = t0;
    while (t - t0 < 0.05) sink = sink + read_sum(buf.data(), floats), ++passes, t = now();
    best = std::max(best, double(floats) * sizeof(float) * passes / (t - t0) / 1e9);
  }
  return best;
}

}  // namespace

Roofline measure_roofline() {
  Roofline r;
  r.cache_gbps = read_gbps(size_t(2) << 20);     // 8 MiB
  r.memory_gbps = read_gbps(size_t(64) << 20);   // 256 MiB
  // Many short calls rather than one long one: a wasm engine optimises a function between calls
  // (V8 has no on-stack replacement for wasm), so one long call would time its baseline code.
  volatile float sink = 0;
  const size_t iters = 100'000, calls = 200;
  double best = 0;
  for (int rep = 0; rep < 5; ++rep) {
    const double t0 = now();
    for (size_t c = 0; c < calls; ++c) sink = sink + fma_peak(iters, 0.999f);
    best = std::max(best, double(iters) * calls * 8 * float_lanes() * 2 / (now() - t0) / 1e9);
  }
  r.peak_gflops = best;
  r.simd = simd_target();
  return r;
}

}  // namespace argen::ops
