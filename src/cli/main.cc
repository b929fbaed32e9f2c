// The native `argen` command: generate, info, eval, bench.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include "cli/cli.h"
#include "core/error.h"
#include "generate/generator.h"
#include "ops/ops.h"
#include "ops/parallel.h"
#include "ops/roofline.h"

#ifndef ARGEN_BUNDLED_TEXT_MODEL
#define ARGEN_BUNDLED_TEXT_MODEL "models/bundled/kjv-lstm.safetensors"
#endif

namespace argen {
namespace {

const char* kUsage = R"(usage:
  argen generate [--model FILE] [--prompt TEXT] [options]   stream generated text to stdout
  argen generate --model IMAGE_MODEL --out F.png [--label L] [--grid N]
                                                          an image (a grid of N per class with --grid)
  argen generate --model AUDIO_MODEL --out F.wav [--seconds S | --samples N] [--speaker K] [--prime F.wav]
                                                          audio (continuing --prime if given)
  argen info FILE                                         metadata, architecture, parameters, tensors
  argen eval [--model FILE] --text-file F [--dump-logits OUT.json]
                                                          bits per token and perplexity of a text
  argen eval --model FILE --elements F.json               bits per element of sequences of any model:
                                                          [{"label": L or null, "elements": [...]}, ...]
                                                          (images from the first level; audio codes)
  argen roofline [BYTES ...]                              this machine's read bandwidth (also from buffers of
                                                          BYTES) and SIMD peak, 1 thread
  argen bench [--model FILE] [--prompt-tokens N] [--tokens N] [--runs N]
                                                          decode speed (greedy), steps per second;
                                                          image models: ms per image; audio models:
                                                          samples per second (--samples N); --check N:
                                                          also the first N greedy elements, logprobs
generate options:
  --max-tokens N (256)  --temperature T (0.8)  --top-k K (0: off)  --top-p P (1)  --min-p P (0)
  --repetition-penalty R (1)  --repetition-window N (64)  --seed S (0)  --stop TEXT (repeatable)
  --logprobs N  --attention-layer L    print one JSON line per token instead of text, with the N
                                       likeliest tokens and/or layer L's attention (all heads)
  --threads N  threads for matrix products (default: the cores, at most 4; results do not depend on it)
  --weights f32|int8  int8: weight matrices quantized at load (per-row scales; files with int8
                      tensors are int8 either way)
  images and audio: --temperature (1) and the other sampling options; --label/--speaker: an index
                    or a name from the model's class_names/speaker_names
Without --model, the bundled text model is used: )" ARGEN_BUNDLED_TEXT_MODEL "\n";

struct Loaded {
  std::shared_ptr<ModelFile> file;
  std::unique_ptr<Model> model;
  std::unique_ptr<Tokenizer> tokenizer;
};

// The --model file (default: the bundled text model); the tokenizer too for text models.
Loaded load_model(const Args& a) {
  auto it = a.opts.find("--model");
  Loaded l;
  LoadOptions opts;
  auto w = a.opts.find("--weights");
  if (w != a.opts.end() && w->second != "f32" && w->second != "int8")
    throw Error("option --weights needs f32 or int8, found '" + w->second + "'");
  opts.int8 = w != a.opts.end() && w->second == "int8";
  l.file = ModelFile::open(it == a.opts.end() ? ARGEN_BUNDLED_TEXT_MODEL : it->second, opts);
  l.model = create_model(l.file);
  if (l.file->modality() == "text")
    l.tokenizer = Tokenizer::from_json(l.file->tokenizer(), l.model->info().vocab_size, l.file->source());
  return l;
}

Loaded load_text_model(const Args& a) {
  Loaded l = load_model(a);
  if (!l.tokenizer) throw l.file->error("modality is '" + l.file->modality() + "', this command needs a text model");
  return l;
}

int cmd_generate(const Args& a) {
  Loaded l = load_model(a);
  if (l.file->modality() == "image") return generate_image(a, *l.model);
  if (l.file->modality() == "audio") return generate_audio(a, *l.model);
  GenerateOptions o;
  o.prompt = a.opts.count("--prompt") ? a.opts.at("--prompt") : "";
  o.max_tokens = integer(a, "--max-tokens", 256, 0, 1 << 24);
  o.sampling = sampling_options(a, 0.8);
  o.stop = a.stops;
  o.logprobs = integer(a, "--logprobs", 0, 0, 1 << 24);
  o.attention_layer = integer(a, "--attention-layer", -1, -1, 1 << 20);
  TextGenerator gen(*l.model, *l.tokenizer, o);
  if (o.logprobs > 0 || o.attention_layer >= 0) {  // JSON lines: one object per token
    TokenEvent ev;
    const int heads = l.model->info().attention_heads;
    while (gen.next(ev)) {
      nlohmann::json j = {{"id", ev.id}, {"text", ev.text}, {"logprob", ev.logprob}};
      if (o.logprobs > 0) {
        j["top"] = nlohmann::json::array();
        for (const auto& t : ev.top) j["top"].push_back({{"id", t.id}, {"text", t.text}, {"logprob", t.logprob}});
      }
      if (o.attention_layer >= 0) {
        nlohmann::json rows = nlohmann::json::array();
        for (int h = 0; h < heads; ++h)
          rows.push_back(std::vector<float>(ev.attention.begin() + size_t(h) * ev.attention_positions,
                                            ev.attention.begin() + size_t(h + 1) * ev.attention_positions));
        j["attention"] = rows;
      }
      std::puts(j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
      std::fflush(stdout);
    }
    std::printf("{\"finish\": \"%s\", \"generated\": %d}\n", finish_reason_name(gen.finish_reason()), gen.generated());
    return 0;
  }
  std::fputs(o.prompt.c_str(), stdout);
  std::fflush(stdout);
  TokenEvent ev;
  while (gen.next(ev)) {
    std::fwrite(ev.text.data(), 1, ev.text.size(), stdout);
    std::fflush(stdout);
  }
  std::fputc('\n', stdout);
  std::fprintf(stderr, "[%d tokens, finish: %s]\n", gen.generated(), finish_reason_name(gen.finish_reason()));
  return 0;
}

int cmd_info(const Args& a) {
  if (a.positional.size() != 1) throw Error("usage: argen info FILE");
  auto file = ModelFile::open(a.positional[0]);
  auto model = create_model(file);
  const ModelInfo& in = model->info();
  std::printf("file:        %s (%zu bytes)\n", file->source().c_str(), file->file_size());
  for (const auto& [k, v] : file->metadata()) {
    if (k == "tokenizer") continue;
    std::printf("%-12s %s\n", (k + ":").c_str(), v.c_str());
  }
  if (file->modality() == "text") {  // a summary: the vocabulary itself can be megabytes
    auto tok = Tokenizer::from_json(file->tokenizer(), model->info().vocab_size, file->source());
    std::printf("tokenizer:   %s, %d tokens, bos %d, eos %d%s\n", tok->type().c_str(), tok->vocab_size(), tok->bos(), tok->eos(),
                tok->add_bos() ? ", bos before every prompt" : "");
  }
  std::printf("parameters:  %zu\nvocab size:  %d\ncontext:     %s\nsimd:        %s\ntensors:\n", in.parameters, in.vocab_size,
              in.context_length ? std::to_string(in.context_length).c_str() : "unbounded", ops::simd_target());
  for (const auto& t : file->tensors())
    std::printf("  %-40s %-5s %s\n", t.name.c_str(), dtype_name(t.dtype), shape_to_string(t.shape).c_str());
  return 0;
}

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw Error(path + ": cannot open");
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// Sum of -log2 p over sequences of elements (token ids, image levels, mu-law codes); an image is
// scored from its first level (Model::first), others from their second element.
int eval_elements(const Args& a) {
  Loaded l = load_model(a);
  std::ifstream in(a.opts.at("--elements"));
  if (!in) throw Error(a.opts.at("--elements") + ": cannot read");
  const nlohmann::json seqs = nlohmann::json::parse(in);
  if (!seqs.is_array()) throw Error("--elements: expected a JSON list of {label, elements}");
  const Model& m = *l.model;
  const int V = m.info().vocab_size;
  const bool image = m.info().modality == "image";
  std::vector<float> logits(V), lp(V);
  double bits = 0;
  size_t n = 0;
  for (const auto& s : seqs) {
    const std::vector<int> x = s.at("elements").get<std::vector<int>>();
    auto state = m.new_state();
    if (s.contains("label") && !s["label"].is_null()) m.set_label(*state, s["label"].get<int>());
    auto score = [&](int next) {
      if (next < 0 || next >= V) throw Error("--elements: element " + std::to_string(next) + " is out of range 0.." + std::to_string(V - 1));
      ops::log_softmax(logits.data(), lp.data(), V);
      bits -= lp[next] / std::log(2.0);
      ++n;
    };
    if (image && !x.empty()) m.first(*state, logits.data()), score(x[0]);
    for (size_t i = 0; i + 1 < x.size(); ++i) m.step(*state, x[i], logits.data()), score(x[i + 1]);
  }
  if (!n) throw Error("--elements: nothing to score");
  std::printf("elements: %zu\nbits per element: %.5f\n", n, bits / double(n));
  return 0;
}

int cmd_eval(const Args& a) {
  if (a.opts.count("--elements")) return eval_elements(a);
  Loaded l = load_text_model(a);
  if (!a.opts.count("--text-file")) throw Error("eval needs --text-file F");
  std::vector<int> ids = l.tokenizer->encode(read_file(a.opts.at("--text-file")));
  if (ids.size() < 2) throw Error("eval needs a text of at least 2 tokens");
  const int V = l.model->info().vocab_size;
  auto state = l.model->new_state();
  std::vector<float> logits(V), lp(V);
  std::ofstream dump;
  if (a.opts.count("--dump-logits")) {
    dump.open(a.opts.at("--dump-logits"));
    if (!dump) throw Error(a.opts.at("--dump-logits") + ": cannot write");
    dump << "[";
  }
  double nll = 0;
  for (size_t i = 0; i < ids.size(); ++i) {
    l.model->step(*state, ids[i], logits.data());
    if (dump.is_open()) dump << (i ? ",\n" : "\n") << nlohmann::json(logits).dump();
    if (i + 1 < ids.size()) {
      ops::log_softmax(logits.data(), lp.data(), V);
      nll -= lp[ids[i + 1]];
    }
  }
  if (dump.is_open()) dump << "\n]\n";
  const double n = double(ids.size() - 1);
  std::printf("tokens: %zu\nbits per token: %.4f\nperplexity: %.4f\n", ids.size(), nll / n / std::log(2.0), std::exp(nll / n));
  return 0;
}

// Decode speed: feeds a prompt of N pseudo-random tokens, then times greedy steps (model.step + argmax).
int cmd_bench(const Args& a) {
  Loaded l = load_model(a);
  if (!l.tokenizer) return bench_media(a, *l.model);
  const int prompt = integer(a, "--prompt-tokens", 32, 1, 1 << 20);
  const int tokens = integer(a, "--tokens", 512, 1, 1 << 24);
  const int runs = integer(a, "--runs", 5, 1, 1000);
  const int V = l.model->info().vocab_size;
  std::vector<float> logits(V);
  std::vector<double> rates;
  for (int r = 0; r < runs; ++r) {
    auto state = l.model->new_state();
    Rng rng(1234);
    for (int i = 0; i < prompt; ++i) l.model->step(*state, int(rng.next() % V), logits.data());
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < tokens; ++i) l.model->step(*state, int(ops::argmax(logits.data(), V)), logits.data());
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    rates.push_back(tokens / s);
  }
  std::sort(rates.begin(), rates.end());
  std::printf("{\"steps_per_s\": %.1f, \"runs\": %d, \"simd\": \"%s\"}\n", rates[rates.size() / 2], runs, ops::simd_target());
  return 0;
}

}  // namespace

SamplingOptions sampling_options(const Args& a, double temperature) {
  SamplingOptions o;
  o.temperature = float(num(a, "--temperature", temperature));
  o.top_k = integer(a, "--top-k", 0, 0, 1 << 24);
  o.top_p = float(num(a, "--top-p", 1.0));
  o.min_p = float(num(a, "--min-p", 0.0));
  o.repetition_penalty = float(num(a, "--repetition-penalty", 1.0));
  o.repetition_window = integer(a, "--repetition-window", 64, 0, 1 << 24);
  double seed = num(a, "--seed", 0);
  if (seed < 0 || seed != std::floor(seed) || seed > 9007199254740992.0) throw Error("option --seed needs an integer in 0..2^53");
  o.seed = uint64_t(seed);
  return o;
}

}  // namespace argen

int main(int argc, char** argv) {
  using namespace argen;
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h")) {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  try {
    Args a = parse_args(argc, argv, 2);
    ops::set_threads(integer(a, "--threads", std::min(ops::max_threads(), 4), 1, 64));
    std::string cmd = argv[1];
    // Only info and roofline take bare arguments; elsewhere one is a mistake (a model path without
    // --model would otherwise leave the bundled model in use, unnoticed).
    if (cmd != "info" && cmd != "roofline" && !a.positional.empty())
      throw Error("argen " + cmd + ": unexpected argument '" + a.positional[0] + "'" +
                  (a.opts.count("--model") ? "" : " (a model file is given as --model FILE)"));
    if (cmd == "generate") return cmd_generate(a);
    if (cmd == "info") return cmd_info(a);
    if (cmd == "eval") return cmd_eval(a);
    if (cmd == "bench") return cmd_bench(a);
    if (cmd == "roofline") {  // the machine's limits, one thread (bench/roofline.py)
      std::string sizes;  // read bandwidth at each working set asked for: {"BYTES": GB/s, ...}
      for (const auto& p : a.positional) {
        char* end = nullptr;
        const double bytes = std::strtod(p.c_str(), &end);
        if (end == p.c_str() || *end || !ops::read_bytes_ok(bytes))
          throw Error("roofline: working set sizes are byte counts from 4096 to 2^30, found '" + p + "'");
        sizes += (sizes.empty() ? "" : ", ") + ("\"" + p + "\": ") + std::to_string(ops::read_gbps(size_t(bytes)));
      }
      const auto r = ops::measure_roofline();
      std::printf("{\"engine\": \"native\", \"cache_gbps\": %.2f, \"memory_gbps\": %.2f, \"peak_gflops\": %.2f, "
                  "\"peak_int8_gmacs\": %.2f, \"simd\": \"%s\", \"read_gbps\": {%s}}\n",
                  r.cache_gbps, r.memory_gbps, r.peak_gflops, r.peak_int8_gmacs, r.simd.c_str(), sizes.c_str());
      return 0;
    }
    std::fprintf(stderr, "argen: unknown command '%s'\n%s", cmd.c_str(), kUsage);
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "argen: error: %s\n", e.what());
    return 1;
  }
}
