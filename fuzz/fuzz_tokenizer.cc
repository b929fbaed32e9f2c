// libFuzzer target: every tokenizer (bytes, chars, llama2.c bpe) encodes arbitrary bytes and decodes
// arbitrary ids; Utf8Stream joins arbitrary byte chunks. The first byte picks the tokenizer.
// Encoding may refuse text with an argen::Error (a character outside a chars vocabulary); anything
// else (crash, other exception, decode of an in-range id throwing, invalid UTF-8 out of Utf8Stream)
// is a finding.
#include <cstdint>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/model_file.h"
#include "core/utf8.h"
#include "text/tokenizer.h"

namespace {

std::unique_ptr<argen::Tokenizer> from_model(const char* name) {
  auto f = argen::ModelFile::open(std::string(ARGEN_SOURCE_DIR) + "/tests/golden/" + name);
  return argen::Tokenizer::from_json(f->tokenizer(), int(f->config()["vocab_size"].get<int>()), name);
}

const std::vector<std::unique_ptr<argen::Tokenizer>>& tokenizers() {
  static const auto* all = [] {
    auto* v = new std::vector<std::unique_ptr<argen::Tokenizer>>();
    v->push_back(argen::Tokenizer::from_json({{"type", "bytes"}}, 256, "bytes"));
    v->push_back(from_model("llama_chars_d28_h2_l2.safetensors"));
    v->push_back(from_model("llama2c_stories_bpe_d24_h4_kv2_l2.safetensors"));
    return v;
  }();
  return *all;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace argen;
  if (size == 0) return 0;
  const Tokenizer& t = *tokenizers()[data[0] % tokenizers().size()];
  std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  try {
    std::vector<int> ids = t.encode(text);
    for (int id : ids)
      if (id < 0 || id >= t.vocab_size()) __builtin_trap();  // encode produced an out-of-range id
  } catch (const Error&) {
  }
  // Decode ids read from the input (in range: decoding an in-range id must not throw).
  Utf8Stream stream;
  std::string out;
  for (size_t i = 1; i + 1 < size; i += 2) {
    int id = int((data[i] | data[i + 1] << 8) % t.vocab_size());
    out += stream.push(t.decode(id));
  }
  out += stream.flush();
  if (utf8_invalid_at(out) != std::string_view::npos) __builtin_trap();  // Utf8Stream let invalid UTF-8 through
  return 0;
}
