#include "ops/roofline.h"

#include <algorithm>
#include <chrono>
#include <vector>

#include "core/aligned.h"
#include "ops/ops.h"

namespace argen::ops {
namespace {

double now() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

// The probes are called through pointers the optimiser cannot see through. wasm-opt inlines a
// function with one caller into it, and V8 optimises a wasm function only between calls (no
// on-stack replacement): fma_peak inlined here ran its loop as baseline (Liftoff) code throughout,
// 12 against 44 GFLOP/s.
float (*volatile const read_sum_fn)(const float*, size_t) = read_sum;
float (*volatile const fma_peak_fn)(size_t, float) = fma_peak;

}  // namespace

// The best of a few timed passes, each pass repeated until it spans >= 50 ms.
double read_gbps(size_t bytes) {
  const size_t floats = std::max<size_t>(bytes / sizeof(float), 64);
  AlignedVector<float> buf(floats, 1.0f);  // as weights are held: huge pages natively from 2 MB
  volatile float sink = 0;
  double best = 0;
  for (int rep = 0; rep < 5; ++rep) {
    int passes = 0;
    const double t0 = now();
    double t = t0;
    while (t - t0 < 0.05) sink = sink + read_sum_fn(buf.data(), floats), ++passes, t = now();
    best = std::max(best, double(floats) * sizeof(float) * passes / (t - t0) / 1e9);
  }
  return best;
}

Roofline measure_roofline() {
  Roofline r;
  r.cache_gbps = read_gbps(size_t(8) << 20);
  r.memory_gbps = read_gbps(size_t(256) << 20);
  // Many short calls rather than one long one, for the same reason.
  volatile float sink = 0;
  const size_t iters = 100'000, calls = 200;
  double best = 0;
  for (int rep = 0; rep < 5; ++rep) {
    const double t0 = now();
    // m just above 1: wasm's multiply chains (a *= m) stay normal numbers. With 0.999 they fell
    // below 1e-38 after ~87,000 of the 100,000 rounds, and on Intel Xeons each multiply of a
    // subnormal takes a microcode assist: the wasm probe read 1.6 GFLOP/s there (AMD: no penalty).
    for (size_t c = 0; c < calls; ++c) sink = sink + fma_peak_fn(iters, 1.000001f);
    best = std::max(best, double(iters) * calls * fma_peak_flops() / (now() - t0) / 1e9);
  }
  r.peak_gflops = best;
  // int8: the best of the kernels themselves on L1-resident data: matvec on 32 x 512 weights
  // (16 KiB), row-major (in the form models store: offset in wasm) and on panels, and the panel
  // matmul, whose positions share each widening load of weights, on 32 x 256 (8 KiB) for 20
  // positions (10 KiB of activations). Many short calls.
  const size_t rows = 32, cols = 512, products = 20'000;
  std::vector<int8_t> q(rows * cols);
  std::vector<int16_t> xq(cols);
  std::vector<float> scale(rows, 1e-3f), y(rows);
  for (size_t i = 0; i < q.size(); ++i) q[i] = int8_t(int(i * 37 % 255) - 127);
  for (size_t i = 0; i < cols; ++i) xq[i] = int16_t(int(i * 11 % 255) - 127);
  best = 0;
  auto time_int8 = [&](double macs_per_call, size_t calls, auto call) {
    for (int rep = 0; rep < 5; ++rep) {
      const double t0 = now();
      for (size_t c = 0; c < calls; ++c) call();
      best = std::max(best, macs_per_call * calls / (now() - t0) / 1e9);
    }
  };
  std::vector<int8_t> rowq = q;  // row-major in the form models store (offset in wasm)
  Matrix m;
  m.q8 = rowq.data(), m.scale = scale.data(), m.rows = rows, m.cols = cols;
  if (kQ8Offset) offset_q8(rowq.data(), rows, cols), m.q8_offset = true;
  time_int8(double(rows * cols), products, [&] { matvec(m, Vector{nullptr, xq.data(), 1e-3f}, nullptr, y.data()); });
  std::vector<int8_t> vpanels(panel_bytes_q8(rows, cols));
  pack_panels_q8(q.data(), rows, cols, vpanels.data());
  time_int8(double(rows * cols), products,
            [&] { matvec_q8q8_panels(vpanels.data(), scale.data(), rows, cols, xq.data(), 1e-3f, nullptr, y.data()); });
  sink = sink + y[0];
  const size_t mcols = 256, n = 20, matmuls = 2'000;
  std::vector<int8_t> panels(panel_bytes_q8(rows, mcols));
  pack_panels_q8(q.data(), rows, mcols, panels.data());
  std::vector<int16_t> X(n * mcols);
  std::vector<float> xs(n, 1e-3f), Y(n * rows);
  for (size_t i = 0; i < X.size(); ++i) X[i] = int16_t(int(i * 13 % 255) - 127);
  time_int8(double(rows * mcols * n), matmuls, [&] {
    matmul_q8q8_panels(panels.data(), scale.data(), rows, mcols, X.data(), mcols, xs.data(), n, nullptr, Y.data());
  });
  sink = sink + Y[0];
  r.peak_int8_gmacs = best;
  r.simd = simd_target();
  return r;
}

}  // namespace argen::ops
