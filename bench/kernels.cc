// argen_kernels: the matrix kernels on the suite models' matrix sets, stored as the models store
// them (Weight: panels, row pairs, offset form, read-ahead as use_panels / use_pairs / kQ8Offset /
// use_prefetch_q8 say), GMAC/s on one thread. Natively each SIMD target compiled in and supported
// by this CPU, side by side (AVX-512 machines: is the dispatcher's pick the fastest?); in wasm its
// one target, to set against the native build's figures on the same machine.
//
//   build/native/argen_kernels [ROUNDS]          (default 3; targets alternated within each round)
//   node --no-experimental-fetch build/wasm/argen_kernels.js [ROUNDS]
//
// Sets (shapes from ../shared/BENCH_SUITE.md): char-lstm's matrices (2048 x 512 three times, the
// 256 x 512 head; its first layer's input product is a table lookup) in int8 and float32 rows;
// llama-15m's 43 (per layer q, k, v, o 288 x 288, w1, w3 768 x 288, w2 288 x 768; the 32000 x 288
// classifier) in int8, as the model reads them; wavenet-20's 82 products per sample (per layer
// 128 x 64 for the new tap, 64 x 64 residual, 128 x 64 skip, 128 x 64 past tap; head 256 x 128 and
// 256 x 256) in int8 and float32; pixelcnn-gated's row products (per layer 128 x 384 vertical,
// 128 x 64, for a row of 28 positions at once) in int8 and float32.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "hwy/targets.h"
#include "ops/ops.h"

using namespace argen;

namespace {

using Shapes = std::vector<std::pair<size_t, size_t>>;

// One matrix stored as models/weight.cc stores it, made from N(0, 0.02) weights.
struct Stored {
  std::vector<float> f32, panels, scale;
  std::vector<int8_t> q8, q8_panels;
  ops::Matrix m;
};

std::vector<Stored> make(const Shapes& shapes, bool int8) {
  size_t model_weights = 0;
  for (const auto& [rows, cols] : shapes) model_weights += rows * cols;
  std::mt19937 gen(1234);
  std::normal_distribution<float> normal(0.f, 0.02f);
  std::vector<Stored> out(shapes.size());
  for (size_t i = 0; i < shapes.size(); ++i) {
    const auto [rows, cols] = shapes[i];
    Stored& s = out[i];
    s.f32.resize(rows * cols);
    for (float& w : s.f32) w = normal(gen);
    s.m.rows = rows, s.m.cols = cols;
    const bool panels = ops::use_panels(rows, cols);
    if (!int8) {
      if (ops::use_pairs(rows, cols)) {
        ops::pack_pairs(s.f32.data(), rows, cols);
        s.m.pairs = s.f32.data();
        continue;
      }
      s.m.f32 = s.f32.data();
      if (panels) {
        s.panels.resize(ops::panel_floats(rows, cols));
        ops::pack_panels(s.f32.data(), rows, cols, s.panels.data());
        s.m.panels = s.panels.data();
      }
      continue;
    }
    s.q8.resize(rows * cols), s.scale.resize(rows);
    ops::quantize_rows_q8(s.f32.data(), rows, cols, s.q8.data(), s.scale.data());
    s.f32 = {};
    s.m.q8 = s.q8.data(), s.m.scale = s.scale.data();
    s.m.q8_prefetch = ops::use_prefetch_q8(model_weights);
    if (panels) {
      s.q8_panels.resize(ops::panel_bytes_q8(rows, cols));
      ops::pack_panels_q8(s.q8.data(), rows, cols, s.q8_panels.data());
      s.m.q8_panels = s.q8_panels.data();
    }
    if (ops::kQ8Offset) ops::offset_q8(s.q8.data(), rows, cols), s.m.q8_offset = true;
  }
  return out;
}

struct Set {
  const char* name;
  std::vector<Stored> matrices;
  bool f32;
  size_t positions;  // 1: matvec; more: matmul of that many positions
};

}  // namespace

int main(int argc, char** argv) {
  const int rounds = argc > 1 ? std::atoi(argv[1]) : 3;
  if (rounds < 1 || rounds > 100) {
    std::fprintf(stderr, "usage: argen_kernels [ROUNDS (1..100)]\n");
    return 2;
  }
  const Shapes lstm = {{2048, 512}, {2048, 512}, {2048, 512}, {256, 512}};
  Shapes llama, wavenet, pixelcnn;
  for (int l = 0; l < 6; ++l)
    llama.insert(llama.end(), {{288, 288}, {288, 288}, {288, 288}, {288, 288}, {768, 288}, {768, 288}, {288, 768}});
  llama.push_back({32000, 288});
  for (int l = 0; l < 20; ++l) wavenet.insert(wavenet.end(), {{128, 64}, {64, 64}, {128, 64}, {128, 64}});
  wavenet.insert(wavenet.end(), {{256, 128}, {256, 256}});
  for (int l = 0; l < 10; ++l) pixelcnn.insert(pixelcnn.end(), {{128, 384}, {128, 64}});

  std::vector<Set> sets;
  sets.push_back({"char-lstm int8", make(lstm, true), false, 1});
  sets.push_back({"char-lstm float32", make(lstm, false), true, 1});
  sets.push_back({"llama-15m int8", make(llama, true), false, 1});
  sets.push_back({"wavenet-20 int8", make(wavenet, true), false, 1});
  sets.push_back({"wavenet-20 float32", make(wavenet, false), true, 1});
  sets.push_back({"pixelcnn-gated rows int8, 28 positions", make(pixelcnn, true), false, 28});
  sets.push_back({"pixelcnn-gated rows float32, 28 positions", make(pixelcnn, false), true, 28});

  // Inputs: one vector (and its int8 form) long enough for every set; 28 positions of 384 columns.
  const size_t kMaxCols = 768, kPositions = 28, kStride = 384;
  std::vector<float> x(kMaxCols), y(32000), X(kPositions * kStride), Y(kPositions * 256), xs(kPositions);
  for (size_t i = 0; i < x.size(); ++i) x[i] = std::sin(0.37f * float(i));
  for (size_t i = 0; i < X.size(); ++i) X[i] = std::cos(0.11f * float(i));
  std::vector<int16_t> xq(kMaxCols), Xq(kPositions * kStride);
  const float x_scale = ops::quantize_vector_q8(x.data(), kMaxCols, xq.data());
  for (size_t t = 0; t < kPositions; ++t) xs[t] = ops::quantize_vector_q8(&X[t * kStride], kStride, &Xq[t * kStride]);

#if defined(__EMSCRIPTEN__)
  const std::vector<int64_t> targets = {HWY_STATIC_TARGET};  // one target, no dispatch
#else
  std::vector<int64_t> targets;
  for (int64_t t : hwy::SupportedAndGeneratedTargets())
    if (t != HWY_SCALAR) targets.push_back(t);
#endif
  std::printf("GMAC/s, 1 thread, %d rounds (targets alternated in each)\n%-42s", rounds, "set");
  for (int64_t t : targets) std::printf(" %8s", hwy::TargetName(t));
  std::printf("\n");
  for (int round = 0; round < rounds; ++round) {
    for (const Set& s : sets) {
      std::printf("%-42s", s.name);
      double macs = 0;
      for (const Stored& m : s.matrices) macs += double(m.m.rows) * double(m.m.cols) * double(s.positions);
      for ([[maybe_unused]] int64_t t : targets) {
#if !defined(__EMSCRIPTEN__)
        hwy::SetSupportedTargetsForTest(t);
#endif
        const auto start = std::chrono::steady_clock::now();
        double seconds = 0;
        size_t reps = 0;
        do {  // whole passes over the set for at least 0.3 s
          for (const Stored& m : s.matrices) {
            if (s.positions > 1 && s.f32) {
              ops::matmul(m.m, X.data(), s.positions, nullptr, Y.data());
            } else if (s.positions > 1) {
              ops::matmul_q8(m.m, Xq.data(), kStride, xs.data(), s.positions, nullptr, Y.data());
            } else if (s.f32) {
              ops::matvec(m.m, x.data(), nullptr, y.data());
            } else {
              ops::matvec(m.m, ops::Vector{x.data(), xq.data(), x_scale}, nullptr, y.data());
            }
          }
          ++reps;
          seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        } while (seconds < 0.3);
        std::printf(" %8.1f", macs * double(reps) / seconds * 1e-9);
      }
      std::printf("\n");
    }
  }
#if !defined(__EMSCRIPTEN__)
  hwy::SetSupportedTargetsForTest(0);
#endif
  return y[0] + Y[0] == 12345.f;  // keeps the products from being optimised away
}
