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
#include "core/aligned.h"
#include "core/model_file.h"
#include "models/weight.h"
#include "nlohmann/json.hpp"
#include "ops/ops.h"

using namespace argen;

namespace {

using Shapes = std::vector<std::pair<size_t, size_t>>;

// A set's matrices stored as a model stores them: an in-memory model file holding them as float32
// tensors of N(0, 0.02) weights, each loaded as a Weight (the model's own storage rules: panels,
// row pairs, int8 offset form, read-ahead by the file's weight count).
struct Stored {
  std::shared_ptr<const ModelFile> file;
  std::vector<Weight> matrices;
};

Stored make(const Shapes& shapes, bool int8) {
  nlohmann::json header = {{"__metadata__", {{"format", "argen/1"}, {"arch", "bench"}, {"modality", "text"}, {"config", "{}"}}}};
  size_t floats = 0;
  for (size_t i = 0; i < shapes.size(); ++i) {
    const auto [rows, cols] = shapes[i];
    header["m" + std::to_string(i)] = {
        {"dtype", "F32"}, {"shape", {rows, cols}}, {"data_offsets", {4 * floats, 4 * (floats + rows * cols)}}};
    floats += rows * cols;
  }
  std::string text = header.dump();
  text.append((64 - (8 + text.size()) % 64) % 64, ' ');  // tensors on 64-byte boundaries, as exported
  AlignedVector<uint8_t> bytes(8 + text.size() + 4 * floats);
  for (int i = 0; i < 8; ++i) bytes[i] = uint8_t(uint64_t(text.size()) >> (8 * i));
  std::copy(text.begin(), text.end(), bytes.begin() + 8);
  std::mt19937 gen(1234);
  std::normal_distribution<float> normal(0.f, 0.02f);
  float* w = reinterpret_cast<float*>(bytes.data() + 8 + text.size());
  for (size_t i = 0; i < floats; ++i) w[i] = normal(gen);
  LoadOptions opts;
  opts.int8 = int8;
  Stored s;
  s.file = ModelFile::from_bytes(Bytes::from_vector(std::move(bytes)), "bench set", opts);
  for (size_t i = 0; i < shapes.size(); ++i) {
    const auto [rows, cols] = shapes[i];
    const Tensor t = s.file->get("m" + std::to_string(i), {int64_t(rows), int64_t(cols)});
    s.matrices.emplace_back(*s.file, t, s.file->int8(), true);
  }
  return s;
}

struct Set {
  const char* name;
  Stored stored;
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
  sets.push_back({"char-lstm int8", make(lstm, true), 1});
  sets.push_back({"char-lstm float32", make(lstm, false), 1});
  sets.push_back({"llama-15m int8", make(llama, true), 1});
  sets.push_back({"wavenet-20 int8", make(wavenet, true), 1});
  sets.push_back({"wavenet-20 float32", make(wavenet, false), 1});
  sets.push_back({"pixelcnn-gated rows int8, 28 positions", make(pixelcnn, true), 28});
  sets.push_back({"pixelcnn-gated rows float32, 28 positions", make(pixelcnn, false), 28});

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
      for (const Weight& m : s.stored.matrices) macs += double(m.rows()) * double(m.cols()) * double(s.positions);
      for ([[maybe_unused]] int64_t t : targets) {
#if !defined(__EMSCRIPTEN__)
        hwy::SetSupportedTargetsForTest(t);
#endif
        const auto start = std::chrono::steady_clock::now();
        double seconds = 0;
        size_t reps = 0;
        do {  // whole passes over the set for at least 0.3 s
          for (const Weight& m : s.stored.matrices) {
            if (s.positions > 1 && !m.int8()) {
              ops::matmul(m, X.data(), s.positions, nullptr, Y.data());
            } else if (s.positions > 1) {
              ops::matmul_q8(m, Xq.data(), kStride, xs.data(), s.positions, nullptr, Y.data());
            } else if (!m.int8()) {
              ops::matvec(m, x.data(), nullptr, y.data());
            } else {
              ops::matvec(m, ops::Vector{x.data(), xq.data(), x_scale}, nullptr, y.data());
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
