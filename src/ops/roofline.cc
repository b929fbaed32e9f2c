#include "ops/roofline.h"

#include <algorithm>
#include <chrono>
#include <vector>

#include "ops/ops.h"

namespace argen::ops {
namespace {

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

}  // namespace

// The best of a few timed passes, each pass repeated until it spans >= 50 ms.
double read_gbps(size_t bytes) {
  const size_t floats = std::max<size_t>(bytes / sizeof(float), 64);
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

Roofline measure_roofline() {
  Roofline r;
  r.cache_gbps = read_gbps(size_t(8) << 20);
  r.memory_gbps = read_gbps(size_t(256) << 20);
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
  // Under V8 that register loop reads low (its code for it is poor: below what matmul reaches), so
  // the peak is also taken from the float32 matmul kernel on operands that fit L1 (32 x 128
  // weights, 8 positions): the larger of the two.
  {
    const size_t rows = 32, cols = 128, n = 8, products = 20'000;
    std::vector<float> W(rows * cols, 0.5f), X(n * cols, 0.25f), Y(n * rows);
    for (int rep = 0; rep < 5; ++rep) {
      const double t0 = now();
      for (size_t c = 0; c < products; ++c) matmul(W.data(), rows, cols, X.data(), n, nullptr, Y.data());
      sink = sink + Y[0];
      best = std::max(best, 2.0 * rows * cols * n * products / (now() - t0) / 1e9);
    }
  }
  r.peak_gflops = best;
  // int8: the kernel itself on 32 x 512 weights (16 KiB, with x: L1-resident), many short calls.
  const size_t rows = 32, cols = 512, products = 20'000;
  std::vector<int8_t> q(rows * cols);
  std::vector<int16_t> xq(cols);
  std::vector<float> scale(rows, 1e-3f), y(rows);
  for (size_t i = 0; i < q.size(); ++i) q[i] = int8_t(int(i * 37 % 255) - 127);
  for (size_t i = 0; i < cols; ++i) xq[i] = int16_t(int(i * 11 % 255) - 127);
  best = 0;
  for (int rep = 0; rep < 5; ++rep) {
    const double t0 = now();
    for (size_t c = 0; c < products; ++c) matvec_q8q8(q.data(), scale.data(), rows, cols, xq.data(), 1e-3f, nullptr, y.data());
    sink = sink + y[0];
    best = std::max(best, double(rows * cols) * products / (now() - t0) / 1e9);
  }
  r.peak_int8_gmacs = best;
  r.simd = simd_target();
  return r;
}

}  // namespace argen::ops
