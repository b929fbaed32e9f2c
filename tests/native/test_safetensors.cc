// The safetensors reader and the model-file checks: valid files load; each malformed case gets its own message.
#include <cstdio>
#include <cstring>
#include <fstream>

#include <nlohmann/json.hpp>

#include "core/model_file.h"
#include "models/model.h"
#include "models/weight.h"
#include "test_util.h"

using namespace argen;
using test::expect_error;

namespace {

// Raw file: u64 header length, header text, data bytes.
std::vector<uint8_t> raw(const std::string& header, size_t data_bytes, uint64_t claimed_len = UINT64_MAX) {
  uint64_t n = claimed_len == UINT64_MAX ? header.size() : claimed_len;
  std::vector<uint8_t> v(8);
  for (int i = 0; i < 8; ++i) v[i] = uint8_t(n >> (8 * i));
  v.insert(v.end(), header.begin(), header.end());
  v.resize(v.size() + data_bytes, 0);
  return v;
}

SafeTensors parse(std::vector<uint8_t> v) { return SafeTensors::parse(Bytes::from_vector(std::move(v)), "test.safetensors"); }
void parse_fails(std::vector<uint8_t> v, std::initializer_list<std::string> parts) {
  expect_error([&] { parse(std::move(v)); }, parts);
}

const char* kMeta = R"("__metadata__":{"format":"argen/1","arch":"rnn","modality":"text","config":"{\"vocab_size\":3,\"hidden_size\":2,\"num_layers\":1,\"input\":\"one_hot\",\"bias\":false,\"head_bias\":false}","tokenizer":"{\"type\":\"chars\",\"vocab\":[\"a\",\"b\",\"c\"]}"})";

// A complete tiny rnn model (one-hot, no biases): W_ih [2,3], W_hh [2,2], head [3,2].
std::vector<uint8_t> tiny_rnn(const std::string& meta = kMeta, const std::string& head_dtype = "F32") {
  std::string h = std::string("{") + meta +
                  R"(,"rnn.weight_ih_l0":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]})"
                  R"(,"rnn.weight_hh_l0":{"dtype":"F32","shape":[2,2],"data_offsets":[24,40]})"
                  R"(,"head.weight":{"dtype":")" + head_dtype + R"(","shape":[3,2],"data_offsets":[40,64]}})";
  auto v = raw(h, 64);
  float w[16] = {0.1f, 0.2f, 0.3f, -0.1f, -0.2f, -0.3f, 0.5f, 0.f, 0.f, 0.5f, 1.f, 0.f, 0.f, 1.f, 1.f, 1.f};
  std::memcpy(v.data() + 8 + h.size(), w, sizeof w);
  return v;
}

std::shared_ptr<ModelFile> model_file(std::vector<uint8_t> v) { return ModelFile::from_bytes(Bytes::from_vector(std::move(v)), "m.safetensors"); }

}  // namespace

TEST_CASE("a valid file parses with metadata and tensors in offset order") {
  auto st = parse(tiny_rnn());
  CHECK(st.metadata.at("arch") == "rnn");
  REQUIRE(st.tensors.size() == 3);
  CHECK(st.tensors[0].name == "rnn.weight_ih_l0");
  CHECK(st.tensors[2].shape == std::vector<int64_t>{3, 2});
  auto model = create_model(model_file(tiny_rnn()));
  CHECK(model->info().vocab_size == 3);
  CHECK(model->info().parameters == 6 + 4 + 6);
}

TEST_CASE("an empty file with only an empty header is valid safetensors") { CHECK(parse(raw("{}", 0)).tensors.empty()); }

TEST_CASE("header framing errors") {
  parse_fails({1, 2, 3}, {"test.safetensors", "too small", "3 bytes"});
  parse_fails(raw("{}", 0, UINT64_MAX - 1), {"header length 18446744073709551614", "exceeds the limit"});
  parse_fails(raw("{}", 0, 100'000'001), {"exceeds the limit of 100000000"});
  parse_fails(raw("{}", 0, 50), {"header length 50 runs past the end"});
  parse_fails(raw("{\"a\xff\":1}", 0), {"not valid UTF-8", "byte 3"});
  parse_fails(raw(" {}", 0), {"does not start with '{'"});
  parse_fails(raw("{\"a\":", 0), {"not valid JSON"});
  parse_fails(raw("{}[]", 0), {"not valid JSON"});
}

TEST_CASE("tensor entry errors") {
  auto one = [](const std::string& entry, size_t data) { return raw("{\"t\":" + entry + "}", data); };
  parse_fails(one(R"({"dtype":"F99","shape":[1],"data_offsets":[0,4]})", 4), {"tensor 't'", "unknown dtype 'F99'"});
  parse_fails(one(R"({"shape":[1],"data_offsets":[0,4]})", 4), {"tensor 't'", "missing dtype"});
  parse_fails(one(R"({"dtype":"F32","shape":[-1],"data_offsets":[0,4]})", 4), {"non-negative integers"});
  parse_fails(one(R"({"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,4]})", 4), {"overflows"});
  parse_fails(one(R"({"dtype":"F32","shape":[2],"data_offsets":[0,4]})", 4), {"span 4 bytes", "needs 8"});
  parse_fails(one(R"({"dtype":"F32","shape":[1],"data_offsets":[4,0]})", 4), {"before begin"});
  parse_fails(one(R"({"dtype":"F32","shape":[1],"data_offsets":[8,12]})", 4), {"past the end of the data"});
  parse_fails(one(R"({"dtype":"F32","shape":[1],"data_offsets":[0]})", 4), {"[begin, end]"});
  parse_fails(one(R"({"dtype":"F32","shape":[1],"data_offsets":[0,4]})", 6), {"trailing bytes"});
  parse_fails(one(R"([1,2])", 4), {"entry is not an object"});
}

TEST_CASE("layout errors: gaps, overlaps, duplicates, metadata") {
  parse_fails(raw(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})", 12),
              {"tensor 'b'", "gap"});
  parse_fails(raw(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", 8),
              {"overlaps"});
  parse_fails(raw(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", 8),
              {"duplicate tensor name 'a'"});
  parse_fails(raw(R"({"__metadata__":[1]})", 0), {"__metadata__ is not an object"});
  parse_fails(raw(R"({"__metadata__":{"x":1}})", 0), {"__metadata__ value for 'x'"});
}

TEST_CASE("model-file errors name the key or tensor and expected vs found") {
  expect_error([] { model_file(raw("{}", 0)); }, {"m.safetensors", "metadata key 'format' is missing"});
  expect_error([] { model_file(tiny_rnn(R"("__metadata__":{"format":"argen/9","arch":"rnn","modality":"text","config":"{}"})")); },
               {"'argen/9'", "expected 'argen/1'"});
  expect_error([] { model_file(tiny_rnn(R"("__metadata__":{"format":"argen/1","arch":"rnn","modality":"text","config":"{oops"})")); },
               {"metadata 'config' is not valid JSON"});
  expect_error([] { create_model(model_file(tiny_rnn(R"("__metadata__":{"format":"argen/1","arch":"xyz","modality":"text","config":"{}"})"))); },
               {"unknown arch 'xyz'", "lstm"});
  expect_error([] { create_model(model_file(tiny_rnn(R"("__metadata__":{"format":"argen/1","arch":"rnn","modality":"text","config":"{\"vocab_size\":3}"})"))); },
               {"config key 'hidden_size' is missing"});
  expect_error([] { create_model(model_file(tiny_rnn(R"("__metadata__":{"format":"argen/1","arch":"rnn","modality":"text","config":"{\"vocab_size\":0,\"hidden_size\":2,\"num_layers\":1}"})"))); },
               {"'vocab_size' is 0", "expected 1.."});
  expect_error([] { create_model(model_file(tiny_rnn(R"("__metadata__":{"format":"argen/1","arch":"rnn","modality":"text","config":"{\"vocab_size\":3,\"hidden_size\":2,\"num_layers\":1000000000}"})"))); },
               {"'num_layers' is 1000000000"});
  // Shapes: config says hidden 3, the file holds hidden 2.
  expect_error([] { create_model(model_file(tiny_rnn(R"("__metadata__":{"format":"argen/1","arch":"rnn","modality":"text","config":"{\"vocab_size\":3,\"hidden_size\":3,\"num_layers\":1,\"input\":\"one_hot\",\"bias\":false}"})"))); },
               {"tensor 'rnn.weight_ih_l0' has shape [2, 3], expected [3, 3]"});
  expect_error([] { create_model(model_file(tiny_rnn(R"("__metadata__":{"format":"argen/1","arch":"rnn","modality":"text","config":"{\"vocab_size\":3,\"hidden_size\":2,\"num_layers\":1,\"input\":\"one_hot\",\"bias\":true}"})"))); },
               {"tensor 'rnn.bias_ih_l0' is missing", "expected shape [2]"});
  expect_error([] { create_model(model_file(tiny_rnn(kMeta, "I32"))); }, {"tensor 'head.weight' has dtype I32", "expected F32, F16, BF16 or I8"});
}

TEST_CASE("F16 and BF16 convert exactly") {
  auto mf = [&](uint16_t h) {
    std::string meta = R"({"__metadata__":{"format":"argen/1","arch":"rnn","modality":"text","config":"{}"},"t":{"dtype":"F16","shape":[1],"data_offsets":[0,2]}})";
    auto v = raw(meta, 2);
    v[8 + meta.size()] = uint8_t(h), v[9 + meta.size()] = uint8_t(h >> 8);
    LoadOptions keep_nonfinite;  // infinity converts exactly too (by default it is refused at load)
    keep_nonfinite.reject_nonfinite = false;
    return ModelFile::from_bytes(Bytes::from_vector(std::move(v)), "m.safetensors", keep_nonfinite)->get("t", {1}).data[0];
  };
  CHECK(mf(0x3C00) == 1.0f);
  CHECK(mf(0xC000) == -2.0f);
  CHECK(mf(0x0001) == std::ldexp(1.0f, -24));  // smallest subnormal
  CHECK(mf(0x7BFF) == 65504.0f);
  CHECK(std::isinf(mf(0x7C00)));
}

namespace {
// A llama file with zero weights of the given sizes (for config checks).
std::vector<uint8_t> zero_llama(int layers, int dim, int heads, int kv_heads, int context) {
  const int64_t D = dim, F = dim, V = 4, kvd = int64_t(kv_heads) * (dim / heads);
  nlohmann::json h;
  h["__metadata__"] = {{"format", "argen/1"}, {"arch", "llama"}, {"modality", "text"},
                       {"config", nlohmann::json({{"vocab_size", V}, {"dim", D}, {"n_layers", layers}, {"n_heads", heads},
                                                  {"n_kv_heads", kv_heads}, {"hidden_dim", F}, {"context_length", context},
                                                  {"tied", true}}).dump()}};
  size_t off = 0;
  auto add = [&](const std::string& name, std::vector<int64_t> shape) {
    size_t n = 4;
    for (auto d : shape) n *= size_t(d);
    h[name] = {{"dtype", "F32"}, {"shape", shape}, {"data_offsets", {off, off + n}}};
    off += n;
  };
  add("tok_embeddings.weight", {V, D});
  for (int l = 0; l < layers; ++l) {
    const std::string p = "layers." + std::to_string(l) + ".";
    add(p + "attention_norm.weight", {D}), add(p + "ffn_norm.weight", {D});
    add(p + "attention.wq.weight", {D, D}), add(p + "attention.wk.weight", {kvd, D});
    add(p + "attention.wv.weight", {kvd, D}), add(p + "attention.wo.weight", {D, D});
    add(p + "feed_forward.w1.weight", {F, D}), add(p + "feed_forward.w2.weight", {D, F}), add(p + "feed_forward.w3.weight", {F, D});
  }
  add("norm.weight", {D});
  return raw(h.dump(), off);
}
}  // namespace

TEST_CASE("transformer configs are checked before anything large is allocated") {
  CHECK_NOTHROW(create_model(model_file(zero_llama(2, 8, 2, 1, 16))));
  expect_error([] { create_model(model_file(zero_llama(2, 8, 3, 3, 16))); }, {"n_heads 3 does not divide dim 8"});
  expect_error([] { create_model(model_file(zero_llama(2, 8, 2, 3, 16))); }, {"n_kv_heads 3 does not divide n_heads 2"});
  expect_error([] { create_model(model_file(zero_llama(0, 8, 2, 2, 16))); }, {"'n_layers' is 0"});
  // 300 layers x 2^20 positions x 8 floats x 2 (k and v): a 20 GB cache from a 0.6 MB file.
  expect_error([] { create_model(model_file(zero_llama(300, 8, 1, 1, 1 << 20))); }, {"context_length 1048576", "KV cache", "over the limit"});
}

TEST_CASE("weights stay 64-byte aligned: from aligned files, converted tensors and built matrices") {
  // A file laid out as models/safetensors_io.py writes it: data at a multiple of 64 bytes, a [4, 16]
  // F32 tensor at offset 0, an F16 one after it.
  std::string h = R"({"__metadata__":{"format":"argen/1","arch":"rnn","modality":"text","config":"{}"})"
                  R"(,"a":{"dtype":"F32","shape":[4,16],"data_offsets":[0,256]})"
                  R"(,"h":{"dtype":"F16","shape":[3],"data_offsets":[256,262]}})";
  h.append((64 - (8 + h.size()) % 64) % 64, ' ');
  const auto v = raw(h, 262);
  auto aligned = [](const void* p) { return reinterpret_cast<uintptr_t>(p) % 64 == 0; };
  // In memory (wasm hands the file over this way): an AlignedVector keeps the tensors aligned.
  auto mf = ModelFile::from_bytes(Bytes::from_vector(AlignedVector<uint8_t>(v.begin(), v.end())), "m.safetensors");
  CHECK(aligned(mf->get("a", {4, 16}).data));
  CHECK(aligned(mf->get("h", {3}).data));  // a converted copy
  // Read from disk.
  const std::string path = "aligned_test.safetensors";
  {
    std::ofstream f(path, std::ios::binary);
    f.write(reinterpret_cast<const char*>(v.data()), std::streamsize(v.size()));
  }
  auto from_disk = ModelFile::open(path);
  CHECK(aligned(from_disk->get("a", {4, 16}).data));
  std::remove(path.c_str());
  // Matrices a model builds, and int8 codes.
  const Weight built(*mf, std::vector<float>(4 * 16, 0.5f), 4, 16, false), q8(*mf, mf->get("a", {4, 16}), true);
  CHECK(aligned(static_cast<const ops::Matrix&>(built).f32));
  CHECK(aligned(static_cast<const ops::Matrix&>(q8).q8));
}

TEST_CASE("large buffers sit on 2 MB boundaries natively (Linux), and a model's weights share them") {
  auto offset = [](const void* p, size_t to) { return reinterpret_cast<uintptr_t>(p) % to; };
  const AlignedVector<int8_t> small(100000), large(size_t(3) << 20);
  const AlignedVector<float> large_f32(size_t(1) << 19);  // exactly 2 MB
  CHECK(offset(small.data(), 64) == 0);
  // What models make from a file (int8 codes and scales, panels) comes from the file's memory.
  std::string h = R"({"__metadata__":{"format":"argen/1","arch":"rnn","modality":"text","config":"{}"})"
                  R"(,"a":{"dtype":"F32","shape":[4,16],"data_offsets":[0,256]}})";
  h.append((64 - (8 + h.size()) % 64) % 64, ' ');
  const auto v = raw(h, 256);
  auto mf = ModelFile::from_bytes(Bytes::from_vector(AlignedVector<uint8_t>(v.begin(), v.end())), "m.safetensors");
  const Weight a(*mf, std::vector<float>(3 * 100, 0.25f), 3, 100, true), b(*mf, mf->get("a", {4, 16}), true);
  const Weight c(*mf, std::vector<float>(size_t(2048) * 4096, 0.25f), 2048, 4096, true);  // 8 MB of codes
  const ops::Matrix &ma = a, &mb = b, &mc = c;
  for (const void* p : {(const void*)ma.q8, (const void*)ma.scale, (const void*)mb.q8, (const void*)mb.scale})
    CHECK(offset(p, 64) == 0);
#if defined(__linux__) && !defined(__EMSCRIPTEN__)
  CHECK(offset(large.data(), size_t(1) << 21) == 0);
  CHECK(offset(large_f32.data(), size_t(1) << 21) == 0);
  // Small ones are cut one after another from one chunk on huge pages; 8 MB or more, a buffer each.
  CHECK(offset(ma.q8, size_t(1) << 21) == 0);
  CHECK(reinterpret_cast<const uint8_t*>(ma.scale) == reinterpret_cast<const uint8_t*>(ma.q8) + 320);
  CHECK(reinterpret_cast<const uint8_t*>(mb.q8) == reinterpret_cast<const uint8_t*>(ma.scale) + 64);
  CHECK(offset(mc.q8, size_t(1) << 21) == 0);
  CHECK(reinterpret_cast<const uint8_t*>(mc.scale) == reinterpret_cast<const uint8_t*>(mb.scale) + 64);
#else
  CHECK(offset(large.data(), 64) == 0);
#endif
}
