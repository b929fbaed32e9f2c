// The llama2.c tokenizer (type "bpe", style "llama2.c") against tests/golden/bpe_llama2c.json: token ids
// of run.c's encode() from an independent Python implementation (models/test_llama2c.py), and the
// tokenizer of the converted llama2.c golden model (models/make_golden.py).
#include <fstream>

#include <nlohmann/json.hpp>

#include "core/model_file.h"
#include "text/tokenizer.h"
#include "test_util.h"

using namespace argen;
using test::expect_error;
using test::read_json;
using nlohmann::json;

static const std::string kGolden = std::string(ARGEN_SOURCE_DIR) + "/tests/golden/";

static std::string from_hex(const std::string& h) {
  std::string out;
  for (size_t i = 0; i + 1 < h.size(); i += 2) out.push_back(char(std::stoi(h.substr(i, 2), nullptr, 16)));
  return out;
}

static std::string decode_all(const Tokenizer& t, const std::vector<int>& ids) {
  std::string s;
  for (int id : ids) s += t.decode(id);
  return s;
}

TEST_CASE("llama2.c bpe: encode gives run.c's ids, decode round-trips") {
  json g = read_json(kGolden + "bpe_llama2c.json");
  const json& tj = g["tokenizer"];
  auto t = Tokenizer::from_json(tj, int(tj["vocab"].size()), "bpe_llama2c.json");
  CHECK(t->type() == "bpe");
  CHECK(t->bos() == 1);
  CHECK(t->eos() == 2);
  REQUIRE(g["cases"].size() >= 20);
  for (const auto& c : g["cases"]) {
    const std::string text = c.contains("hex") ? from_hex(c["hex"].get<std::string>()) : c["text"].get<std::string>();
    const std::vector<int> ids = t->encode(text);
    CHECK_MESSAGE(ids == c["ids"].get<std::vector<int>>(), c.dump());
    CHECK_MESSAGE(decode_all(*t, ids) == (text.empty() ? "" : " " + text), c.dump());  // " ": the dummy prefix
  }
  CHECK(t->decode(3 + 0x0A) == "\n");  // "<0x0A>" is the byte
  CHECK(t->decode(3 + 0xFF) == "\xFF");
  CHECK(t->decode(1) == "\n<s>\n");    // bos and eos decode to what llama2.c's tokenizer.bin stores
  CHECK(t->decode(-1).empty());
  CHECK(t->decode(t->vocab_size()).empty());
}

TEST_CASE("llama2.c bpe: a long text encodes like the per-merge rescan") {
  // The golden cases are short; this text repeats them, so the heap meets many equal scores at once.
  json g = read_json(kGolden + "bpe_llama2c.json");
  auto t = Tokenizer::from_json(g["tokenizer"], int(g["tokenizer"]["vocab"].size()), "bpe_llama2c.json");
  std::string text;
  std::vector<int> want;
  for (const auto& c : g["cases"]) {
    if (!c.contains("text") || c["text"].get<std::string>().empty()) continue;
    // Each case's text after a newline: "\n" is a byte token that no piece merges with, so the text's
    // ids are the case's ids, its dummy-prefix " " merging as it does after the newline.
    text += "\n " + c["text"].get<std::string>();
    if (want.empty()) want.push_back(t->encode(" ")[0]);  // the first dummy prefix " "
    want.push_back(3 + '\n');
    for (int id : c["ids"]) want.push_back(id);
  }
  CHECK(t->encode(text) == want);
  CHECK(decode_all(*t, t->encode(text)) == " " + text);
}

TEST_CASE("llama2.c bpe: the converted golden model's tokenizer") {
  // models/make_golden.py: tokens = bos + encode("Once upon a time, Lily")
  auto f = ModelFile::open(kGolden + "llama2c_stories_bpe_d24_h4_kv2_l2.safetensors");
  const int V = int(f->config()["vocab_size"].get<int>());
  auto t = Tokenizer::from_json(f->tokenizer(), V, f->source());
  json g = read_json(kGolden + "llama2c_stories_bpe_d24_h4_kv2_l2.json");
  std::vector<int> tokens = g["tokens"].get<std::vector<int>>();
  REQUIRE(tokens.size() > 2);
  CHECK(tokens[0] == t->bos());
  CHECK(t->encode("Once upon a time, Lily") == std::vector<int>(tokens.begin() + 1, tokens.end()));
}

TEST_CASE("llama2.c bpe: tokenizer JSON errors name the key") {
  std::vector<std::string> vocab = {"<unk>", "\n<s>\n", "\n</s>\n"};
  for (int b = 0; b < 256; ++b) {
    char buf[8];
    std::snprintf(buf, sizeof buf, "<0x%02X>", b);
    vocab.push_back(buf);
  }
  vocab.push_back(" ");
  const int V = int(vocab.size());
  std::vector<float> scores(V, 0.f);
  json ok = {{"type", "bpe"}, {"style", "llama2.c"}, {"vocab", vocab}, {"scores", scores}, {"bos", 1}, {"eos", 2}};
  CHECK(Tokenizer::from_json(ok, V, "m")->encode("\xC3\xA9") == std::vector<int>{V - 1, 3 + 0xC3, 3 + 0xA9});
  auto with = [&](const char* key, json v) { json j = ok; if (v.is_null()) j.erase(key); else j[key] = v; return j; };
  expect_error([&] { Tokenizer::from_json(with("style", nullptr), V, "m.st"); }, {"m.st", "'style'", "llama2.c"});
  expect_error([&] { Tokenizer::from_json(with("style", "gpt2"), V, "m"); }, {"unknown bpe style \"gpt2\""});
  expect_error([&] { Tokenizer::from_json(with("vocab", nullptr), V, "m"); }, {"'vocab' array"});
  expect_error([&] { Tokenizer::from_json(with("scores", "x"), V, "m"); }, {"'scores' array"});
  expect_error([&] { Tokenizer::from_json(ok, V + 1, "m"); }, {"'vocab' has 260 entries", "vocab_size is 261"});
  json short_scores = with("scores", std::vector<float>(V - 1, 0.f));
  expect_error([&] { Tokenizer::from_json(short_scores, V, "m"); }, {"'scores' has 259 entries"});
  json bad = ok;
  bad["vocab"][7] = 5;
  expect_error([&] { Tokenizer::from_json(bad, V, "m"); }, {"vocab entry 7", "array of byte values"});
  bad["vocab"][7] = {226, 256};
  expect_error([&] { Tokenizer::from_json(bad, V, "m"); }, {"vocab entry 7", "[226,256]"});
  bad = ok;
  bad["scores"][9] = "high";
  expect_error([&] { Tokenizer::from_json(bad, V, "m"); }, {"scores entry 9", "\"high\""});
  bad = ok;
  bad["vocab"] = std::vector<std::string>(vocab.begin(), vocab.begin() + 100);
  bad["scores"] = std::vector<float>(100, 0.f);
  expect_error([&] { Tokenizer::from_json(bad, 100, "m"); }, {"ids 3..258", "100"});
  expect_error([&] { Tokenizer::from_json(with("eos", V), V, "m"); }, {"'eos'", "0..259"});
  // a non-UTF-8 piece as byte values: found by a text holding those bytes
  bad = ok;
  bad["vocab"][0] = {0xE2, 0x82};
  CHECK(Tokenizer::from_json(bad, V, "m")->encode("\xE2\x82") == std::vector<int>{V - 1, 0});
}
