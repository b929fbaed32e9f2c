// The generation loop with a scripted model: stop sequences, max tokens, eos, abort, empty prompts.
#include <cmath>

#include "generate/generator.h"
#include "test_util.h"

using namespace argen;
using test::expect_error;

namespace {

// A model that always predicts the next character of `script` (cycling), whatever it was fed.
struct ScriptState : State {
  size_t pos = 0;
};
class ScriptModel : public Model {
 public:
  ScriptModel(std::vector<int> script, int vocab, int context = 0) : Model(nullptr), script_(std::move(script)) {
    info_.vocab_size = vocab;
    info_.context_length = context;
  }
  std::unique_ptr<State> new_state() const override { return std::make_unique<ScriptState>(); }
  void step(State& s, int, float* logits) const override {
    auto& st = static_cast<ScriptState&>(s);
    for (int i = 0; i < info_.vocab_size; ++i) logits[i] = 0;
    logits[script_[st.pos++ % script_.size()]] = 10;
  }
  std::vector<int> script_;
};

const std::vector<std::string> kVocab = {"\n", "a", "b", "c", ".", "\xC3\xA9"};
std::unique_ptr<Tokenizer> tok(int eos = -1) {
  nlohmann::json j = {{"type", "chars"}, {"vocab", kVocab}, {"bos", 0}};
  if (eos >= 0) j["eos"] = eos;
  return Tokenizer::from_json(j, int(kVocab.size()), "m");
}
GenerateOptions greedy(const std::string& prompt, int max_tokens) {
  GenerateOptions o;
  o.prompt = prompt;
  o.max_tokens = max_tokens;
  o.sampling.temperature = 0;
  return o;
}
std::string run(TextGenerator& g, std::vector<TokenEvent>* events = nullptr) {
  std::string text;
  TokenEvent ev;
  while (g.next(ev)) {
    text += ev.text;
    if (events) events->push_back(ev);
  }
  return text;
}

}  // namespace

TEST_CASE("max tokens ends with finish reason length") {
  // Each step predicts the next script entry, so generation replays the script from its start.
  ScriptModel m({1, 2, 3, 4}, 6);
  auto t = tok();
  TextGenerator g(m, *t, greedy("a", 6));
  std::vector<TokenEvent> evs;
  CHECK(run(g, &evs) == "abc.ab");
  CHECK(evs.size() == 6);
  CHECK(g.finish_reason() == FinishReason::length);
  CHECK(evs[0].logprob > -0.01f);  // the scripted token is nearly certain
  CHECK(evs[0].logprob <= 0.f);
}

TEST_CASE("a stop sequence ends generation and is not emitted, even across tokens") {
  ScriptModel m({1, 2, 3, 4}, 6);
  auto t = tok();
  auto o = greedy("a", 100);
  o.stop = {"xx", ".ab"};
  TextGenerator g(m, *t, o);
  std::vector<TokenEvent> evs;
  CHECK(run(g, &evs) == "abc");
  CHECK(g.finish_reason() == FinishReason::stop);
  // ".", "a" were held back while they could start ".ab".
  CHECK(evs[3].text.empty());
  CHECK(evs[4].text.empty());
}

TEST_CASE("held-back text is released when it stops matching") {
  ScriptModel m({1, 2, 3, 4, 1, 1}, 6);  // ... "." then "a" "a"
  auto t = tok();
  auto o = greedy("a", 7);
  o.stop = {".ab"};
  TextGenerator g(m, *t, o);
  CHECK(run(g) == "abc.aaa");
  CHECK(g.finish_reason() == FinishReason::length);
}

TEST_CASE("eos stops; abort stops; empty prompt starts from bos") {
  ScriptModel m({1, 2, 3, 4}, 6);
  auto t = tok(4);
  TextGenerator g(m, *t, greedy("", 100));
  CHECK(g.prompt_tokens() == std::vector<int>{0});
  CHECK(run(g) == "abc");
  CHECK(g.finish_reason() == FinishReason::stop);

  auto t2 = tok();
  TextGenerator g2(m, *t2, greedy("a", 100));
  TokenEvent ev;
  CHECK(g2.next(ev));
  g2.abort();
  CHECK_FALSE(g2.next(ev));
  CHECK(g2.finish_reason() == FinishReason::abort);
}

TEST_CASE("context length bounds generation and the prompt") {
  ScriptModel m({1, 2, 3, 4}, 6, 4);
  auto t = tok();
  TextGenerator g(m, *t, greedy("ab", 100));
  CHECK(run(g).size() == 2);
  CHECK(g.finish_reason() == FinishReason::length);
  expect_error([&] { TextGenerator(m, *t, greedy("abcab", 1)); }, {"5 tokens", "context of 4"});
}

TEST_CASE("bad prompts and options are errors") {
  ScriptModel m({1}, 6);
  auto t = tok();
  expect_error([&] { TextGenerator(m, *t, greedy("abz", 1)); }, {"'z'", "position 2"});
  expect_error([&] { TextGenerator(m, *t, greedy("a", -1)); }, {"maxTokens", "-1"});
  auto o = greedy("a", 1);
  o.stop = {""};
  expect_error([&] { TextGenerator(m, *t, o); }, {"stop sequences must not be empty"});
  auto bytes = Tokenizer::from_json({{"type", "bytes"}}, 256, "m");
  ScriptModel mb({65}, 256);
  expect_error([&] { TextGenerator(mb, *bytes, greedy("", 1)); }, {"prompt is empty", "bos"});
}

TEST_CASE("multi-byte characters stream whole") {
  ScriptModel m({5, 5, 1}, 6);
  auto t = tok();
  TextGenerator g(m, *t, greedy("a", 3));
  CHECK(run(g) == "\xC3\xA9\xC3\xA9" "a");
}

namespace {
struct Golden {
  std::shared_ptr<ModelFile> file;
  std::unique_ptr<Model> model;
  std::unique_ptr<Tokenizer> tok;
};
Golden golden(const std::string& name) {
  Golden g;
  g.file = ModelFile::open(std::string(ARGEN_SOURCE_DIR) + "/tests/golden/" + name + ".safetensors");
  g.model = create_model(g.file);
  g.tok = Tokenizer::from_json(g.file->tokenizer(), g.model->info().vocab_size, g.file->source());
  return g;
}
}  // namespace

TEST_CASE("logprobs: the N likeliest tokens, best first, normalised, the sampled one among them when greedy") {
  Golden g = golden("llama_gqa_tied_bytes_d36_h6_kv2_l2");
  const int V = g.model->info().vocab_size;
  auto o = greedy("ab", 5);
  o.logprobs = V;  // all of them: their probabilities must sum to 1
  TextGenerator gen(*g.model, *g.tok, o);
  TokenEvent ev;
  while (gen.next(ev)) {
    REQUIRE(ev.top.size() == size_t(V));
    double sum = 0;
    for (size_t i = 0; i < ev.top.size(); ++i) {
      sum += std::exp(double(ev.top[i].logprob));
      if (i) CHECK(ev.top[i - 1].logprob >= ev.top[i].logprob);
    }
    CHECK(std::fabs(sum - 1) < 1e-4);
    CHECK(ev.top[0].id == ev.id);  // greedy takes the best
    CHECK(ev.top[0].logprob == ev.logprob);
  }
  auto bad = greedy("ab", 1);
  bad.logprobs = -1;
  expect_error([&] { TextGenerator(*g.model, *g.tok, bad); }, {"logprobs", "-1"});
}

TEST_CASE("attention: one row per head over every earlier position, each a distribution") {
  Golden g = golden("llama_gqa_tied_bytes_d36_h6_kv2_l2");
  const int H = g.model->info().attention_heads;
  CHECK(H == 6);
  CHECK(g.model->info().attention_layers == 2);
  auto o = greedy("a", 4);
  o.attention_layer = 1;
  TextGenerator gen(*g.model, *g.tok, o);
  TokenEvent ev;
  int i = 0;
  while (gen.next(ev)) {
    const int n = 1 + i++;  // the prompt token and every generated token before this one
    REQUIRE(ev.attention_positions == n);
    REQUIRE(ev.attention.size() == size_t(H * n));
    for (int h = 0; h < H; ++h) {
      double sum = 0;
      for (int t = 0; t < n; ++t) {
        CHECK(ev.attention[h * n + t] >= 0);
        sum += ev.attention[h * n + t];
      }
      CHECK(std::fabs(sum - 1) < 1e-5);
    }
  }
  auto bad = greedy("a", 1);
  bad.attention_layer = 2;
  expect_error([&] { TextGenerator(*g.model, *g.tok, bad); }, {"attentionLayer 2", "2 attention layers"});
  Golden lstm = golden("lstm_emb_bytes_h37_l1");
  bad.attention_layer = 0;
  expect_error([&] { TextGenerator(*lstm.model, *lstm.tok, bad); }, {"attentionLayer 0", "has no attention"});
}

TEST_CASE("a transformer ends with finish reason length when its context is full") {
  Golden g = golden("gpt_nobias_tanh_tied_bytes_d18_h2_l1");
  const int T = g.model->info().context_length;
  TextGenerator gen(*g.model, *g.tok, greedy("ab", 1000));
  std::vector<TokenEvent> evs;
  run(gen, &evs);
  CHECK(int(evs.size()) == T - 2);
  CHECK(gen.finish_reason() == FinishReason::length);
  expect_error([&] { TextGenerator(*g.model, *g.tok, greedy(std::string(T + 1, 'a'), 1)); },
               {std::to_string(T + 1) + " tokens", "context of " + std::to_string(T)});
}

TEST_CASE("add_bos feeds bos before every prompt") {
  ScriptModel m({1, 2}, 6);
  nlohmann::json j = {{"type", "chars"}, {"vocab", kVocab}, {"bos", 0}, {"add_bos", true}};
  auto t = Tokenizer::from_json(j, int(kVocab.size()), "m");
  TextGenerator g(m, *t, greedy("ab", 1));
  CHECK(g.prompt_tokens() == std::vector<int>{0, 1, 2});
  TextGenerator e(m, *t, greedy("", 1));
  CHECK(e.prompt_tokens() == std::vector<int>{0});
  expect_error([] { Tokenizer::from_json({{"type", "chars"}, {"vocab", {"a"}}, {"add_bos", true}}, 1, "m"); }, {"'add_bos' is true", "no 'bos'"});
}
