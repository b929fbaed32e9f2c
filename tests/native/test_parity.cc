// Parity with PyTorch: every golden model (tests/golden, made by models/make_golden.py) gives the
// logits PyTorch gave, within 1e-4 (max abs difference relative to max(1, max |logit|)).
#include <fstream>

#include <nlohmann/json.hpp>

#include "core/bytes.h"
#include "core/model_file.h"
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

// In wasm a recurrent model reorders its larger matrices in place in the file's memory (row pairs,
// ops::use_pairs): a second model made from the same file must find them reordered, not redo it.
TEST_CASE("two models made from one file both match PyTorch") {
  const std::string dir = std::string(ARGEN_SOURCE_DIR) + "/tests/golden/";
  const auto g = read_json(dir + "lstm_emb_bytes_h136_l2.json");
  const auto file = ModelFile::open(dir + g["model"].get<std::string>());
  const auto first = create_model(file);
  const auto second = create_model(file);
  for (const Model* model : {first.get(), second.get()}) {
    const auto logits = test::golden_logits(*model, g);
    double worst = 0;
    for (size_t i = 0; i < logits.size(); ++i) {
      const auto want = g["logits"][i].get<std::vector<float>>();
      worst = std::max(worst, test::rel_error(logits[i].data(), want.data(), want.size()));
    }
    const std::string which = model == first.get() ? "first" : "second";
    CHECK_MESSAGE(worst < 1e-4, which << " model: error " << worst);
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

// Embedding rnn/gru/lstm models compute their first layer's input product once per vocabulary
// token at load (a table; src/models/recurrent.cc). Every row is checked against an independent
// path: the same model as a one-hot one, whose W_ih is W_ih embed^T (computed here in double), so
// its input product is a column read. Each token is stepped from a fresh state, then once more.
TEST_CASE("recurrent: the per-token input table of an embedding model matches its one-hot equivalent") {
  const std::string dir = std::string(ARGEN_SOURCE_DIR) + "/tests/golden/";
  for (const char* file : {"lstm_emb_bytes_h37_l1", "gru_emb_bytes_h64_l1"}) {
    auto mf = ModelFile::open(dir + file + ".safetensors");
    auto cfg = nlohmann::json::parse(mf->metadata().at("config"));
    REQUIRE(cfg["input"] == "embedding");
    const nlohmann::json names = cfg.value("names", nlohmann::json::object());
    const std::string embed = names.value("embedding", "embed") + ".weight";
    const std::string w_ih = names.value("rnn", "rnn") + ".weight_ih_l0";
    const int64_t V = cfg["vocab_size"], E = cfg["embedding_dim"];
    // A float32 safetensors file: every tensor but the embedding, W_ih replaced by W_ih embed^T.
    nlohmann::json header;
    std::vector<float> data;
    for (const auto& t : mf->tensors()) {
      if (t.name == embed) continue;
      Tensor x = mf->get(t.name, t.shape);
      std::vector<int64_t> shape = t.shape;
      std::vector<float> values(x.data, x.data + x.size());
      if (t.name == w_ih) {
        const Tensor e = mf->get(embed, {V, E});
        shape = {t.shape[0], V};
        values.assign(size_t(t.shape[0] * V), 0.f);
        for (int64_t r = 0; r < t.shape[0]; ++r)
          for (int64_t v = 0; v < V; ++v) {
            double s = 0;
            for (int64_t k = 0; k < E; ++k) s += double(x.data[r * E + k]) * e.data[v * E + k];
            values[size_t(r * V + v)] = float(s);
          }
      }
      header[t.name] = {{"dtype", "F32"}, {"shape", shape}, {"data_offsets", {data.size() * 4, (data.size() + values.size()) * 4}}};
      data.insert(data.end(), values.begin(), values.end());
    }
    cfg["input"] = "one_hot";
    cfg.erase("embedding_dim");
    header["__metadata__"] = mf->metadata();
    header["__metadata__"]["config"] = cfg.dump();
    auto bytes = test::safetensors_bytes(header.dump(), data.data(), data.size() * sizeof(float));
    auto with_table = create_model(mf);
    auto one_hot = create_model(ModelFile::from_bytes(Bytes::from_vector(std::move(bytes)), "one_hot.safetensors"));
    std::vector<float> a(V), b(V);
    double worst = 0;
    for (int v = 0; v < V; ++v) {
      auto sa = with_table->new_state(), sb = one_hot->new_state();
      for (int t : {v, int((v * 7 + 1) % V)}) {
        with_table->step(*sa, t, a.data());
        one_hot->step(*sb, t, b.data());
        worst = std::max(worst, test::rel_error(a.data(), b.data(), size_t(V)));
      }
    }
    CHECK_MESSAGE(worst < 1e-5, std::string(file) << ": error " << worst);
  }
}
