// Helpers shared by the native tests.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "models/model.h"
#include "ops/ops.h"

namespace argen::test {

// A JSON file (golden cases, test data); a missing file fails the test naming it.
inline nlohmann::json read_json(const std::string& path) {
  std::ifstream f(path);
  REQUIRE_MESSAGE(f.good(), "cannot open " << path);
  return nlohmann::json::parse(f);
}

// Deterministic random floats in [-scale, scale] (only for inputs; never compared across platforms).
inline std::vector<float> random_floats(size_t n, uint32_t seed, float scale = 1.f) {
  std::mt19937 g(seed);
  std::vector<float> v(n);
  for (auto& x : v) x = (float(g()) / 4294967296.f * 2.f - 1.f) * scale;
  return v;
}

// W [rows x cols] as models load int8 weights: quantized per row, and packed into panels.
struct Q8Weights {
  std::vector<int8_t> q, panels;
  std::vector<float> scale;
  size_t rows, cols;
  Q8Weights(const float* W, size_t rows, size_t cols)
      : q(rows * cols), panels(ops::panel_bytes_q8(rows, cols)), scale(rows), rows(rows), cols(cols) {
    ops::quantize_rows_q8(W, rows, cols, q.data(), scale.data());
    ops::pack_panels_q8(q.data(), rows, cols, panels.data());
  }
  // The product's matrix: row-major int8, and on the panels too where on_panels.
  ops::Matrix matrix(bool on_panels = true) const {
    ops::Matrix m;
    m.q8 = q.data(), m.scale = scale.data(), m.rows = rows, m.cols = cols;
    if (on_panels) m.q8_panels = panels.data();
    return m;
  }
};

// max |a - b| relative to max(1, max |b|): the one tolerance rule for parity.
inline double rel_error(const float* a, const float* b, size_t n) {
  double d = 0, m = 1;
  for (size_t i = 0; i < n; ++i) {
    d = std::max(d, std::fabs(double(a[i]) - double(b[i])));
    m = std::max(m, std::fabs(double(b[i])));
  }
  return d / m;
}

// A safetensors file's bytes: the u64 header length, the header padded with spaces to a multiple of
// 8 bytes (so the data stays aligned), then `data`.
inline std::vector<uint8_t> safetensors_bytes(std::string header, const void* data, size_t data_bytes) {
  header.append((8 - header.size() % 8) % 8, ' ');
  std::vector<uint8_t> out(8);
  for (int i = 0; i < 8; ++i) out[i] = uint8_t(uint64_t(header.size()) >> (8 * i));
  out.insert(out.end(), header.begin(), header.end());
  const auto* d = static_cast<const uint8_t*>(data);
  out.insert(out.end(), d, d + data_bytes);
  return out;
}

// Runs `f` and checks it throws argen::Error whose message contains every one of `parts`.
template <class F>
void expect_error(F f, std::initializer_list<std::string> parts) {
  try {
    f();
    FAIL("expected an error containing '" << *parts.begin() << "'");
  } catch (const Error& e) {
    std::string msg = e.what();
    for (const auto& p : parts) CHECK_MESSAGE(msg.find(p) != std::string::npos, "message '" << msg << "' lacks '" << p << "'");
  }
}

// The logits a golden case's model gives at each of its positions, fed as the case says (image
// models from an empty canvas, audio models after setting the case's speaker).
inline std::vector<std::vector<float>> golden_logits(const Model& model, const nlohmann::json& g) {
  const std::vector<int> tokens = g["tokens"].get<std::vector<int>>();
  const ModelInfo& info = model.info();
  auto state = model.new_state();
  std::vector<std::vector<float>> out;
  std::vector<float> logits(info.vocab_size);
  if (info.modality == "image") {
    if (!g["label"].is_null()) model.set_label(*state, g["label"].get<int>());
    model.first(*state, logits.data());
    out.push_back(logits);
    for (size_t p = 0; p + 1 < tokens.size(); ++p) model.step(*state, tokens[p], logits.data()), out.push_back(logits);
  } else {
    if (info.modality == "audio" && !g["speaker"].is_null()) model.set_label(*state, g["speaker"].get<int>());
    for (int t : tokens) model.step(*state, t, logits.data()), out.push_back(logits);
  }
  return out;
}

}  // namespace argen::test
