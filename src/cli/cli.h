// What the CLI's commands share: argument parsing, sampling options, and the image and audio
// commands (media.cc).
#pragma once
#include <cmath>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "core/error.h"
#include "models/model.h"
#include "sample/sampler.h"

namespace argen {

struct Args {
  std::map<std::string, std::string> opts;
  std::vector<std::string> stops, positional;
};

inline Args parse_args(int argc, char** argv, int from) {
  static const char* kFlags[] = {"--model", "--prompt", "--max-tokens", "--temperature", "--top-k", "--top-p",
                                 "--min-p", "--repetition-penalty", "--repetition-window", "--seed", "--stop",
                                 "--text-file", "--dump-logits", "--prompt-tokens", "--tokens", "--runs",
                                 "--logprobs", "--attention-layer", "--out", "--label", "--grid", "--seconds",
                                 "--samples", "--speaker", "--prime", "--check", "--threads", "--weights", "--elements"};
  Args a;
  for (int i = from; i < argc; ++i) {
    std::string k = argv[i];
    if (k.rfind("--", 0) != 0) {
      a.positional.push_back(k);
      continue;
    }
    bool known = false;
    for (const char* f : kFlags) known = known || k == f;
    if (!known) throw Error("unknown option " + k);
    if (i + 1 >= argc) throw Error("option " + k + " needs a value");
    if (k == "--stop") {
      a.stops.push_back(argv[++i]);
    } else {
      a.opts[k] = argv[++i];
    }
  }
  return a;
}

inline double num(const Args& a, const std::string& k, double fallback) {
  auto it = a.opts.find(k);
  if (it == a.opts.end()) return fallback;
  char* end = nullptr;
  double v = std::strtod(it->second.c_str(), &end);
  if (end == it->second.c_str() || *end) throw Error("option " + k + " needs a number, found '" + it->second + "'");
  return v;
}

inline int integer(const Args& a, const std::string& k, int64_t fallback, int64_t lo, int64_t hi) {
  double v = num(a, k, double(fallback));
  if (v != std::floor(v) || v < double(lo) || v > double(hi))
    throw Error("option " + k + " needs an integer in " + std::to_string(lo) + ".." + std::to_string(hi));
  return int(v);
}

// --temperature, --top-k, --top-p, --min-p, --repetition-penalty, --repetition-window, --seed.
SamplingOptions sampling_options(const Args& a, double temperature);

// `argen generate` for image models (a PNG: one image or a grid) and audio models (a WAV).
int generate_image(const Args& a, const Model& model);
int generate_audio(const Args& a, const Model& model);
// `argen bench` for image models (ms per image) and audio models (samples per second).
int bench_media(const Args& a, const Model& model);

}  // namespace argen
