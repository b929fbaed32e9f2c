// The CLI's image and audio commands: generate a PNG (one image or a grid) or a WAV; bench.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>

#include <nlohmann/json.hpp>

#include "cli/cli.h"
#include "codec/codec.h"
#include "generate/media.h"
#include "ops/ops.h"
#include "ops/parallel.h"

namespace argen {
namespace {

// --label / --speaker: an index or one of the model's names; -1 when absent.
int label_option(const Args& a, const std::string& key, const ModelInfo& info) {
  auto it = a.opts.find(key);
  if (it == a.opts.end()) return -1;
  for (size_t i = 0; i < info.label_names.size(); ++i)
    if (info.label_names[i] == it->second) return int(i);
  return integer(a, key, -1, 0, 1 << 20);
}

std::string out_path(const Args& a, const char* ext) {
  auto it = a.opts.find("--out");
  if (it == a.opts.end()) throw Error(std::string("this model writes a file: give --out FILE") + ext);
  return it->second;
}

void write_file(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
  if (!f) throw Error(path + ": cannot write");
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int generate_image(const Args& a, const Model& model) {
  const ModelInfo& info = model.info();
  const std::string path = out_path(a, ".png");
  ImageOptions base;
  base.sampling = sampling_options(a, 1.0);
  const int label = label_option(a, "--label", info);
  const int per_row = integer(a, "--grid", 1, 1, 64);
  // Rows of the grid: one per class (conditional model, no --label), else one.
  std::vector<int> labels;
  if (label >= 0 || info.num_labels == 0)
    labels.push_back(label);
  else
    for (int c = 0; c < info.num_labels; ++c) labels.push_back(c);
  if (!a.opts.count("--grid") && labels.size() > 1) labels.resize(1), labels[0] = 0;
  const int H = info.height, W = info.width, C = info.channels, pad = 2;
  const int gh = int(labels.size()) * (H + pad) + pad, gw = per_row * (W + pad) + pad;
  std::vector<uint8_t> grid(size_t(gh) * gw * C, 0);
  auto t0 = std::chrono::steady_clock::now();
  int n = 0;
  for (size_t r = 0; r < labels.size(); ++r) {
    for (int col = 0; col < per_row; ++col, ++n) {
      ImageOptions o = base;
      o.label = labels[r];
      o.sampling.seed = base.sampling.seed + uint64_t(n);
      ImageGenerator gen(model, o);
      PixelEvent ev;
      while (gen.next(ev)) {
      }
      const auto& px = gen.levels();
      for (int y = 0; y < H; ++y)
        std::copy_n(px.data() + size_t(y) * W * C, size_t(W) * C,
                    grid.data() + ((size_t(pad + r * (H + pad) + y)) * gw + pad + col * (W + pad)) * C);
    }
    if (labels[r] >= 0)
      std::fprintf(stderr, "row %zu: class %d%s%s\n", r, labels[r], info.label_names.empty() ? "" : " ",
                   info.label_names.empty() ? "" : info.label_names[labels[r]].c_str());
  }
  const bool single = n == 1;
  if (single) {  // no border around a single image
    std::vector<uint8_t> img(size_t(H) * W * C);
    for (int y = 0; y < H; ++y) std::copy_n(grid.data() + (size_t(pad + y) * gw + pad) * C, size_t(W) * C, img.data() + size_t(y) * W * C);
    write_file(path, encode_png(img.data(), W, H, C));
  } else {
    write_file(path, encode_png(grid.data(), gw, gh, C));
  }
  std::fprintf(stderr, "wrote %s: %d image%s of %dx%dx%d in %.2f s\n", path.c_str(), n, single ? "" : "s", W, H, C, seconds_since(t0));
  return 0;
}

int generate_audio(const Args& a, const Model& model) {
  const ModelInfo& info = model.info();
  const std::string path = out_path(a, ".wav");
  AudioOptions o;
  o.sampling = sampling_options(a, 1.0);
  o.speaker = label_option(a, "--speaker", info);
  if (a.opts.count("--samples") && a.opts.count("--seconds")) throw Error("give --samples or --seconds, not both");
  o.samples = a.opts.count("--samples") ? integer(a, "--samples", 0, 0, 3600 * info.sample_rate)
                                        : int64_t(std::llround(num(a, "--seconds", 2.0) * info.sample_rate));
  if (a.opts.count("--prime")) {
    std::ifstream f(a.opts.at("--prime"), std::ios::binary);
    if (!f) throw Error(a.opts.at("--prime") + ": cannot open");
    std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(f)), {});
    try {
      o.priming = decode_wav(bytes.data(), bytes.size(), &o.priming_rate);
    } catch (const Error& e) {
      throw Error(a.opts.at("--prime") + ": " + e.what());
    }
  }
  o.chunk = info.sample_rate / 4;
  auto t0 = std::chrono::steady_clock::now();
  AudioGenerator gen(model, o);
  std::vector<float> all, chunk;
  while (gen.next(chunk)) {
    all.insert(all.end(), chunk.begin(), chunk.end());
    std::fprintf(stderr, "\r%.2f s of audio", double(all.size()) / info.sample_rate);
  }
  write_file(path, encode_wav(all.data(), all.size(), info.sample_rate));
  const double s = seconds_since(t0);
  std::fprintf(stderr, "\rwrote %s: %.2f s at %d Hz in %.2f s (%.2fx real time)\n", path.c_str(), double(all.size()) / info.sample_rate,
               info.sample_rate, s, double(all.size()) / info.sample_rate / s);
  return 0;
}

// Greedy generation timed on its own (the model is loaded, the state fresh): images whole,
// audio over --samples samples after one sample of silence. Median of --runs. --check N also
// reports the first N greedy elements and their log-probabilities (for cross-engine checks).
int bench_media(const Args& a, const Model& model) {
  const ModelInfo& info = model.info();
  const int runs = integer(a, "--runs", 5, 1, 1000);
  const int check = integer(a, "--check", 0, 0, 1 << 20);
  const int V = info.vocab_size;
  std::vector<float> logits(V), lp(V);
  std::vector<double> times;
  std::vector<int> tokens;
  std::vector<float> logprobs;
  const bool image = info.modality == "image";
  const int64_t n = image ? int64_t(info.height) * info.width * info.channels : integer(a, "--samples", 16000, 1, 1 << 30);
  for (int r = 0; r <= runs; ++r) {  // run 0: the check (untimed)
    auto state = model.new_state();
    if (info.num_labels) model.set_label(*state, 0);
    auto t0 = std::chrono::steady_clock::now();
    if (image) {
      model.first(*state, logits.data());
    } else {
      model.step(*state, mu_law_encode(0.0f, V), logits.data());
    }
    for (int64_t i = 0; i < n; ++i) {
      const int x = int(ops::argmax(logits.data(), V));
      if (r == 0 && i < check) {
        ops::log_softmax(logits.data(), lp.data(), V);
        tokens.push_back(x), logprobs.push_back(lp[x]);
      }
      model.step(*state, x, logits.data());
    }
    if (r > 0) times.push_back(seconds_since(t0));
  }
  std::vector<double> rates;
  for (double t : times) rates.push_back(image ? t * 1e3 : n / t);
  std::sort(times.begin(), times.end());
  const double t = times[times.size() / 2];
  nlohmann::json j;
  if (image) {
    j["ms_per_image"] = t * 1e3;
    j["levels"] = n;
  } else {
    j["samples_per_s"] = n / t;
    j["real_time_factor"] = n / t / info.sample_rate;
    j["samples"] = n;
  }
  j["rates"] = rates;
  j["threads"] = ops::threads();
  j["runs"] = runs;
  j["simd"] = ops::simd_target();
  j["tokens"] = tokens;
  j["logprobs"] = logprobs;
  std::puts(j.dump().c_str());
  return 0;
}

}  // namespace argen
