// libFuzzer target: generation options from arbitrary bytes (prompt, max tokens, every sampling
// option incl. NaN/Inf floats, stop sequences, logprobs, attention layer) on small golden models
// (transformer with a KV cache and context limit, recurrent, bpe). Bad options must be argen::Errors
// at construction; generation must run to a finish reason without crashing.
#include <fuzzer/FuzzedDataProvider.h>

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/model_file.h"
#include "generate/generator.h"
#include "models/model.h"
#include "text/tokenizer.h"

namespace {

struct Loaded {
  std::shared_ptr<argen::ModelFile> file;
  std::unique_ptr<argen::Model> model;
  std::unique_ptr<argen::Tokenizer> tok;
};

const std::vector<Loaded>& models() {
  static const auto* all = [] {
    auto* v = new std::vector<Loaded>();
    for (const char* n : {"llama_chars_d28_h2_l2", "lstm_emb_bytes_h37_l1", "llama2c_stories_bpe_d24_h4_kv2_l2",
                          "hybrid_gru_chars_e12_d20_h2_r1_l2"}) {
      Loaded l;
      l.file = argen::ModelFile::open(std::string(ARGEN_SOURCE_DIR) + "/tests/golden/" + n + ".safetensors");
      l.model = argen::create_model(l.file);
      l.tok = argen::Tokenizer::from_json(l.file->tokenizer(), l.model->info().vocab_size, n);
      v->push_back(std::move(l));
    }
    return v;
  }();
  return *all;
}

float any_float(FuzzedDataProvider& p) {
  switch (p.ConsumeIntegralInRange<int>(0, 5)) {
    case 0: return NAN;
    case 1: return INFINITY;
    case 2: return -INFINITY;
    case 3: return p.ConsumeFloatingPoint<float>();
    default: return p.ConsumeFloatingPointInRange<float>(-0.5f, 2.5f);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace argen;
  FuzzedDataProvider p(data, size);
  const Loaded& m = models()[p.ConsumeIntegralInRange<size_t>(0, models().size() - 1)];
  GenerateOptions o;
  o.max_tokens = p.ConsumeIntegralInRange<int>(-2, 48);
  o.sampling.temperature = any_float(p);
  o.sampling.top_k = p.ConsumeIntegralInRange<int>(-2, 300);
  o.sampling.top_p = any_float(p);
  o.sampling.min_p = any_float(p);
  o.sampling.repetition_penalty = any_float(p);
  o.sampling.repetition_window = p.ConsumeIntegralInRange<int>(-2, 100);
  o.sampling.seed = p.ConsumeIntegral<uint64_t>();
  o.logprobs = p.ConsumeIntegralInRange<int>(-2, 300);
  o.attention_layer = p.ConsumeIntegralInRange<int>(-2, 4);
  for (int n = p.ConsumeIntegralInRange<int>(0, 3); n > 0; --n) o.stop.push_back(p.ConsumeRandomLengthString(8));
  o.prompt = p.ConsumeRandomLengthString(64);
  try {
    TextGenerator g(*m.model, *m.tok, o);
    TokenEvent ev;
    int n = 0;
    while (g.next(ev)) {
      if (++n > 48) __builtin_trap();  // more tokens than max_tokens allows
      if (n == 5 && (data[0] & 1)) g.abort();
    }
    if (g.finish_reason() == FinishReason::none) __builtin_trap();
  } catch (const Error&) {
  }
  return 0;
}
