// Bad configs of a valid model file give a specific error at load, and misuse a specific error
// at run time: golden arch "transformer" and "hybrid" files with their config (or tensors) edited.
#include <fstream>
#include <functional>
#include <iterator>

#include <nlohmann/json.hpp>

#include "core/model_file.h"
#include "models/model.h"
#include "test_util.h"

using namespace argen;
using test::expect_error;

namespace {

const std::string kDir = std::string(ARGEN_SOURCE_DIR) + "/tests/golden/";
const std::string kGolden = kDir + "transformer_post_relu_learned_chars_d24_h3_l2.safetensors";
const std::string kHybrid = kDir + "hybrid_gru_chars_e12_d20_h2_r1_l2.safetensors";

std::vector<uint8_t> read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  REQUIRE_MESSAGE(f.good(), "cannot open " << path);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), {});
}

// The golden file with `edit` applied to its config (and `header_edit` to the whole header, tensor
// entries included), header order kept and padded to 8 bytes so the data stays aligned.
std::shared_ptr<ModelFile> edited(const std::function<void(nlohmann::ordered_json&)>& edit,
                                  const std::function<void(nlohmann::ordered_json&)>& header_edit = nullptr,
                                  const std::string& path = kGolden) {
  std::vector<uint8_t> v = read_file(path);
  uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= uint64_t(v[i]) << (8 * i);
  auto header = nlohmann::ordered_json::parse(v.begin() + 8, v.begin() + 8 + n);
  auto config = nlohmann::ordered_json::parse(header["__metadata__"]["config"].get<std::string>());
  edit(config);
  header["__metadata__"]["config"] = config.dump();
  if (header_edit) header_edit(header);
  auto out = test::safetensors_bytes(header.dump(), v.data() + 8 + n, v.size() - 8 - n);
  return ModelFile::from_bytes(Bytes::from_vector(std::move(out)), "edited.safetensors");
}

void load_fails(const std::function<void(nlohmann::ordered_json&)>& edit, std::initializer_list<std::string> parts,
                const std::string& path = kGolden) {
  auto f = edited(edit, nullptr, path);
  expect_error([&] { create_model(f); }, parts);
}

}  // namespace

TEST_CASE("transformer: the unedited golden file loads (the edit helper keeps it valid)") {
  auto m = create_model(edited([](auto&) {}));
  CHECK(m->info().arch == "transformer");
  CHECK(m->info().vocab_size == 20);
  CHECK(m->info().context_length == 14);
  CHECK(m->info().attention_layers == 2);
  CHECK(m->info().attention_heads == 3);
}

TEST_CASE("transformer: bad configs name the key and the problem") {
  load_fails([](auto& c) { c["nhead"] = 5; }, {"nhead 5 does not divide d_model 24"});
  load_fails([](auto& c) { c["num_layers"] = 0; }, {"config key 'num_layers' is 0", "expected 1.."});
  load_fails([](auto& c) { c["nhead"] = 0; }, {"config key 'nhead' is 0"});
  load_fails([](auto& c) { c.erase("d_model"); }, {"config key 'd_model' is missing"});
  load_fails([](auto& c) { c["activation"] = "swish"; }, {"'activation' is 'swish'", "'relu' or 'gelu'"});
  load_fails([](auto& c) { c["positions"] = "rope"; }, {"'positions' is 'rope'", "'learned', 'sinusoidal' or 'none'"});
  load_fails([](auto& c) { c["layer_norm_eps"] = -1; }, {"'layer_norm_eps' must be a positive number"});
  load_fails([](auto& c) { c["norm_first"] = "yes"; }, {"'norm_first' must be true or false"});
  load_fails([](auto& c) { c["names"]["encoder"] = 3; }, {"'names.encoder' must be a string"});
  load_fails([](auto& c) { c["positions"] = "none", c["num_layers"] = 200, c["context_length"] = 1 << 20; },
             {"context_length 1048576 needs a KV cache of 42781900800 bytes per stream"});
}

TEST_CASE("transformer: configs that disagree with the tensors name the tensor") {
  load_fails([](auto& c) { c["final_norm"] = true; }, {"tensor 'encoder.norm.weight' is missing"});
  load_fails([](auto& c) { c["names"]["encoder"] = "enc"; }, {"tensor 'enc.layers.0.self_attn.in_proj_weight' is missing"});
  load_fails([](auto& c) { c["context_length"] = 15; }, {"tensor 'pos.weight' has shape [14, 24], expected [15, 24]"});
  load_fails([](auto& c) { c["dim_feedforward"] = 41; }, {"tensor 'encoder.layers.0.linear1.weight'", "expected [41, 24]"});
  load_fails([](auto& c) { c["positions"] = "sinusoidal"; }, {"tensor 'pos.pe' is missing"});
  load_fails([](auto& c) { c["num_layers"] = 3; }, {"tensor 'encoder.layers.2."});
  auto f = edited([](auto&) {}, [](auto& h) { h["head.b"] = h["head.bias"], h.erase("head.bias"); });
  expect_error([&] { create_model(f); }, {"tensor 'head.bias' is missing"});
}

TEST_CASE("transformer: a full context and bad tokens are errors, stepped or prefilled") {
  auto m = create_model(edited([](auto&) {}));
  std::vector<float> logits(m->info().vocab_size);
  auto s = m->new_state();
  std::vector<int> prompt(15, 1);
  expect_error([&] { m->prefill(*s, prompt.data(), prompt.size(), logits.data()); }, {"15 positions do not fit the context of 14"});
  prompt[3] = 20;
  expect_error([&] { m->prefill(*s, prompt.data(), 10, logits.data()); }, {"token id 20 is out of range"});
  m->prefill(*s, prompt.data(), 3, logits.data());
  for (int i = 3; i < 14; ++i) m->step(*s, 1, logits.data());
  expect_error([&] { m->step(*s, 1, logits.data()); }, {"15 positions do not fit the context of 14"});
  std::vector<float> att;
  CHECK(m->attention(*s, 1, &att) == 14);
  CHECK(att.size() == 3 * 14);
}

TEST_CASE("hybrid: bad configs and disagreeing tensors give specific errors") {
  auto m = create_model(edited([](auto&) {}, nullptr, kHybrid));
  CHECK(m->info().arch == "hybrid");
  CHECK(m->info().context_length == 14);
  load_fails([](auto& c) { c["n_heads"] = 3; }, {"n_heads 3 does not divide dim 20"}, kHybrid);
  load_fails([](auto& c) { c["rnn"] = "rnn"; }, {"'rnn' is 'rnn'", "'gru' or 'lstm'"}, kHybrid);
  load_fails([](auto& c) { c["rnn_layers"] = 0; }, {"config key 'rnn_layers' is 0"}, kHybrid);
  load_fails([](auto& c) { c["n_layers"] = 0; }, {"config key 'n_layers' is 0"}, kHybrid);
  load_fails([](auto& c) { c["gelu"] = "erf"; }, {"'gelu' is 'erf'"}, kHybrid);
  load_fails([](auto& c) { c["n_layers"] = 100, c["context_length"] = 1 << 20; },
             {"context_length 1048576 needs a KV cache of", "over the limit"}, kHybrid);
  load_fails([](auto& c) { c["rnn"] = "lstm"; }, {"tensor 'rnn.weight_ih_l0' has shape [60, 12], expected [80, 12]"}, kHybrid);
  load_fails([](auto& c) { c["rnn_layers"] = 2; }, {"tensor 'rnn.weight_ih_l1' is missing"}, kHybrid);
  load_fails([](auto& c) { c["embedding_dim"] = 20; }, {"tensor 'embed.weight' has shape [20, 12], expected [20, 20]"}, kHybrid);
}

TEST_CASE("image and audio models: a missing image shape or sample rate is an error naming the key") {
  const std::string pixelcnn = kDir + "pixelcnn_gray_l16_5x6_f6_l3.safetensors";
  const std::string pixelrnn = kDir + "pixelrnn_rgb_l8_4x7_h6_l3_k3.safetensors";
  const std::string wavenet = kDir + "wavenet_emb9_k1_r6_d5_s6_l6.safetensors";
  for (const auto& path : {pixelcnn, pixelrnn})
    for (const char* key : {"height", "width", "channels"})
      load_fails([&](auto& c) { c.erase(key); }, {std::string("config key '") + key + "' is missing"}, path);
  load_fails([](auto& c) { c.erase("sample_rate"); }, {"config key 'sample_rate' is missing"}, wavenet);
  // Buffers per layer (past products, gates, skips) past the state limit: an error before any tensor is read.
  load_fails([](auto& c) { c["dilations"] = std::vector<int>(4096, 1), c["dilation_channels"] = 16384; },
             {"the layers' buffers would need", "over the limit"}, wavenet);
  load_fails([](auto& c) { c["channels"] = 3; }, {"head.out2.weight", "[16, 10, 1, 1]", "expected [48, 10, 1, 1]"}, pixelcnn);
}
