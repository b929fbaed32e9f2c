// Parity with PyTorch: every golden model (tests/golden, made by models/make_golden.py) gives the
// logits PyTorch gave, within 1e-4 (max abs difference relative to max(1, max |logit|)).
#include <fstream>

#include <nlohmann/json.hpp>

#include "models/model.h"
#include "test_util.h"

using namespace argen;

using test::read_json;

// Every golden case, consumed two ways: one token per step throughout, and the first half as one
// prefill (batched for transformers) followed by steps. Both must give PyTorch's logits.
TEST_CASE("golden models match PyTorch logits, stepped and prefilled") {
  const std::string dir = std::string(ARGEN_SOURCE_DIR) + "/tests/golden/";
  auto index = read_json(dir + "index.json");
  REQUIRE(index["cases"].size() >= 10);
  for (const auto& name : index["cases"]) {
    auto g = read_json(dir + name.get<std::string>() + ".json");
    if (g["arch"] == "pixelcnn" || g["arch"] == "pixelrnn" || g["arch"] == "wavenet") continue;  // test_media.cc
    auto model = create_model(ModelFile::open(dir + g["model"].get<std::string>()));
    const int V = model->info().vocab_size;
    const std::vector<int> tokens = g["tokens"].get<std::vector<int>>();
    REQUIRE(tokens.size() == g["logits"].size());
    std::vector<float> logits(V);
    for (size_t prefill : {size_t(0), tokens.size() / 2}) {
      auto state = model->new_state();
      double worst = 0;
      model->prefill(*state, tokens.data(), prefill, logits.data());
      for (size_t i = prefill ? prefill - 1 : 0; i < tokens.size(); ++i) {
        if (i >= prefill) model->step(*state, tokens[i], logits.data());
        std::vector<float> want = g["logits"][i].get<std::vector<float>>();
        REQUIRE(want.size() == size_t(V));
        worst = std::max(worst, test::rel_error(logits.data(), want.data(), V));
      }
      CHECK_MESSAGE(worst < 1e-4, name.get<std::string>() << " (prefill " << prefill << "): error " << worst);
    }
  }
}

TEST_CASE("a token outside the vocabulary is an error, not a read out of bounds") {
  const std::string dir = std::string(ARGEN_SOURCE_DIR) + "/tests/golden/";
  auto index = read_json(dir + "index.json");
  auto g = read_json(dir + index["cases"][0].get<std::string>() + ".json");
  auto model = create_model(ModelFile::open(dir + g["model"].get<std::string>()));
  auto state = model->new_state();
  std::vector<float> logits(model->info().vocab_size);
  test::expect_error([&] { model->step(*state, model->info().vocab_size, logits.data()); }, {"token id", "out of range"});
  test::expect_error([&] { model->step(*state, -1, logits.data()); }, {"token id -1"});
}
