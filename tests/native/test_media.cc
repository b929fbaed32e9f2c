// Image and audio models: PyTorch parity of the cached generation paths, the generators' options
// and errors, and the codecs.
#include <cmath>
#include <fstream>

#include <nlohmann/json.hpp>

#include "codec/codec.h"
#include "generate/media.h"
#include "models/model.h"
#include "test_util.h"

using namespace argen;
using test::expect_error;

namespace {

const std::string kDir = std::string(ARGEN_SOURCE_DIR) + "/tests/golden/";

using test::read_json;

std::vector<std::string> cases(std::initializer_list<const char*> archs) {
  std::vector<std::string> out;
  const auto index = read_json(kDir + "index.json");  // (a temporary's member would dangle in the loop)
  for (const auto& name : index["cases"]) {
    const std::string n = name.get<std::string>();
    const std::string arch = read_json(kDir + n + ".json")["arch"].get<std::string>();
    for (const char* a : archs)
      if (arch == a) out.push_back(n);
  }
  return out;
}

std::unique_ptr<Model> load(const std::string& file) { return create_model(ModelFile::open(kDir + file)); }

const char* kPixelCNN = "pixelcnn_rgb_cond4_l8_4x7_f5_l2_skip5";
const char* kPixelCNNGray = "pixelcnn_gray_l16_5x6_f6_l3";
const char* kWaveNet = "wavenet_onehot_k2_spk3_r8_d6_s7_l6";

}  // namespace

// PyTorch's logits come from one full forward pass over the whole image (or waveform); argen's from
// the cached generation path, one element at a time. Equal at every position = the caches are right.
TEST_CASE("image models: cached raster-order logits equal PyTorch's full forward pass at every position") {
  const auto names = cases({"pixelcnn", "pixelrnn"});
  REQUIRE(names.size() >= 4);
  for (const auto& name : names) {
    auto g = read_json(kDir + name + ".json");
    auto model = load(g["model"]);
    const ModelInfo& info = model->info();
    CHECK(info.modality == "image");
    const std::vector<int> levels = g["tokens"].get<std::vector<int>>();
    REQUIRE(levels.size() == size_t(info.height * info.width * info.channels));
    auto state = model->new_state();
    if (!g["label"].is_null()) model->set_label(*state, g["label"].get<int>());
    std::vector<float> logits(info.vocab_size);
    double worst = 0;
    model->first(*state, logits.data());
    for (size_t p = 0; p < levels.size(); ++p) {
      if (p > 0) model->step(*state, levels[p - 1], logits.data());
      std::vector<float> want = g["logits"][p].get<std::vector<float>>();
      REQUIRE(want.size() == size_t(info.vocab_size));
      worst = std::max(worst, test::rel_error(logits.data(), want.data(), want.size()));
    }
    CHECK_MESSAGE(worst < 1e-4, name << ": error " << worst);
  }
}

TEST_CASE("wavenet: fast (queued) logits equal PyTorch's full forward pass at every sample") {
  const auto names = cases({"wavenet"});
  REQUIRE(names.size() >= 3);
  for (const auto& name : names) {
    auto g = read_json(kDir + name + ".json");
    auto model = load(g["model"]);
    CHECK(model->info().modality == "audio");
    auto state = model->new_state();
    if (!g["speaker"].is_null()) model->set_label(*state, g["speaker"].get<int>());
    const std::vector<int> codes = g["tokens"].get<std::vector<int>>();
    std::vector<float> logits(model->info().vocab_size);
    double worst = 0;
    for (size_t t = 0; t < codes.size(); ++t) {
      model->step(*state, codes[t], logits.data());
      std::vector<float> want = g["logits"][t].get<std::vector<float>>();
      worst = std::max(worst, test::rel_error(logits.data(), want.data(), want.size()));
    }
    CHECK_MESSAGE(worst < 1e-4, name << ": error " << worst);
  }
}

TEST_CASE("image generation: same seed, same image; the prefix is kept; every level is in range") {
  auto model = load(std::string(kPixelCNN) + ".safetensors");
  const ModelInfo& info = model->info();
  const int n = info.height * info.width * info.channels;
  auto run = [&](ImageOptions o) {
    ImageGenerator gen(*model, o);
    std::vector<int> values;
    PixelEvent ev;
    int i = 0;
    while (gen.next(ev)) {
      CHECK(ev.y * info.width * info.channels + ev.x * info.channels + ev.channel == i++);
      CHECK((ev.value >= 0 && ev.value < info.vocab_size));
      CHECK(ev.prefix == (i <= int(o.prefix.size())));
      values.push_back(ev.value);
    }
    CHECK(gen.finish_reason() == FinishReason::length);
    CHECK(gen.generated() == n - int(o.prefix.size()));
    return values;
  };
  ImageOptions o;
  o.label = 1;
  o.sampling.seed = 7;
  const auto a = run(o), b = run(o);
  CHECK(a.size() == size_t(n));
  CHECK(a == b);
  o.sampling.seed = 8;
  CHECK(run(o) != a);
  o.prefix.assign(a.begin(), a.begin() + 2 * info.width * info.channels);
  const auto c = run(o);
  CHECK(std::equal(o.prefix.begin(), o.prefix.end(), c.begin()));
  o.label = 2;  // a different class changes the rest
  CHECK(run(o) != c);
}

TEST_CASE("image generation: bad labels and prefixes are errors naming the problem") {
  auto model = load(std::string(kPixelCNN) + ".safetensors");
  auto gray = load(std::string(kPixelCNNGray) + ".safetensors");
  ImageOptions o;
  expect_error([&] { ImageGenerator(*model, o); }, {"class-conditional", "label 0..3"});
  o.label = 4;
  expect_error([&] { ImageGenerator(*model, o); }, {"label 4 is out of range", "4 classes"});
  o.label = -1;
  ImageOptions g;
  g.label = 0;
  expect_error([&] { ImageGenerator(*gray, g); }, {"takes no label"});
  o.label = 0;
  o.prefix.assign(5, 0);
  expect_error([&] { ImageGenerator(*model, o); }, {"prefix has 5 levels", "whole rows"});
  o.prefix.assign(size_t(model->info().height * model->info().width * 3), 0);
  expect_error([&] { ImageGenerator(*model, o); }, {"fewer than the image's"});
  o.prefix.assign(size_t(model->info().width * 3), 0);
  o.prefix[3] = 8;
  expect_error([&] { ImageGenerator(*model, o); }, {"prefix level 8 at position 3", "0..7"});
  auto state = model->new_state();
  std::vector<float> logits(8);
  expect_error([&] { model->first(*state, logits.data()); }, {"conditioned on a class"});
  model->set_label(*state, 1);
  expect_error([&] { model->step(*state, 9, logits.data()); }, {"level 9 is out of range"});
  auto wav = load(std::string(kWaveNet) + ".safetensors");
  expect_error([&] { ImageGenerator(*wav, o); }, {"not an image model"});
}

TEST_CASE("audio generation: same seed, same samples, in chunks; priming continues the waveform") {
  auto model = load(std::string(kWaveNet) + ".safetensors");
  auto run = [&](AudioOptions o) {
    AudioGenerator gen(*model, o);
    std::vector<float> all, chunk;
    while (gen.next(chunk)) {
      CHECK(chunk.size() <= size_t(o.chunk));
      for (float x : chunk) CHECK((x >= -1.0f && x <= 1.0f));
      all.insert(all.end(), chunk.begin(), chunk.end());
    }
    CHECK(gen.finish_reason() == FinishReason::length);
    return all;
  };
  AudioOptions o;
  o.samples = 300;
  o.chunk = 64;
  o.speaker = 1;
  o.sampling.seed = 3;
  const auto a = run(o);
  CHECK(a.size() == 300);
  o.chunk = 1000;  // chunking changes nothing
  CHECK(run(o) == a);
  o.sampling.seed = 4;
  CHECK(run(o) != a);
  o.sampling.seed = 3;
  o.priming = {0.1f, -0.2f, 0.3f};
  CHECK(run(o) != a);
}

TEST_CASE("audio generation: bad speakers and priming audio are errors naming the problem") {
  auto model = load(std::string(kWaveNet) + ".safetensors");
  AudioOptions o;
  expect_error([&] { AudioGenerator(*model, o); }, {"speaker-conditioned", "0..2"});
  o.speaker = 3;
  expect_error([&] { AudioGenerator(*model, o); }, {"speaker 3 is out of range", "3 speakers"});
  o.speaker = 0;
  o.priming = {0.0f, 0.5f};
  o.priming_rate = 8000;
  expect_error([&] { AudioGenerator(*model, o); }, {"8000 Hz", "resample"});
  o.priming_rate = 0;
  o.priming = {0.0f, NAN};
  expect_error([&] { AudioGenerator(*model, o); }, {"priming sample 1 is NaN"});
  o.priming = {INFINITY};
  expect_error([&] { AudioGenerator(*model, o); }, {"priming sample 0 is infinite"});
  o.priming.clear();
  o.samples = -1;
  expect_error([&] { AudioGenerator(*model, o); }, {"samples must be in"});
  o.samples = 10;
  o.chunk = 0;
  expect_error([&] { AudioGenerator(*model, o); }, {"chunkSize"});
  auto state = model->new_state();
  std::vector<float> logits(256);
  expect_error([&] { model->step(*state, 0, logits.data()); }, {"conditioned on a speaker"});
  model->set_label(*state, 0);
  expect_error([&] { model->step(*state, 256, logits.data()); }, {"mu-law code 256 is out of range"});
  expect_error([&] { model->first(*state, logits.data()); }, {"needs a first element"});
}

TEST_CASE("mu-law: every code decodes and encodes back to itself; samples round-trip within a step") {
  for (int levels : {256, 16}) {
    for (int c = 0; c < levels; ++c) CHECK(mu_law_encode(mu_law_decode(c, levels), levels) == c);
    CHECK(mu_law_encode(0.0f, levels) == levels / 2);
    CHECK(mu_law_encode(-5.0f, levels) == 0);
    CHECK(mu_law_encode(5.0f, levels) == levels - 1);
  }
  // Independent values from the formula: 0.5 -> y = ln(128.5)/ln(256) = 0.87537..., code 239.
  CHECK(mu_law_encode(0.5f, 256) == 239);
  CHECK(mu_law_decode(255, 256) == doctest::Approx(1.0));
  CHECK(mu_law_decode(0, 256) == doctest::Approx(-1.0));
  for (float x = -1.0f; x <= 1.0f; x += 0.01f) {
    const int c = mu_law_encode(x, 256);
    const float lo = c > 0 ? mu_law_decode(c - 1, 256) : -1.0f, hi = c < 255 ? mu_law_decode(c + 1, 256) : 1.0f;
    CHECK((x >= lo && x <= hi));
  }
}

TEST_CASE("WAV: encode then decode gives the samples back within 16-bit precision; bad files are errors") {
  std::vector<float> s = {0.0f, 0.5f, -0.5f, 1.0f, -1.0f, 0.25f, 2.0f};
  auto wav = encode_wav(s.data(), s.size(), 16000);
  CHECK(wav.size() == 44 + 2 * s.size());
  int rate = 0;
  auto back = decode_wav(wav.data(), wav.size(), &rate);
  CHECK(rate == 16000);
  REQUIRE(back.size() == s.size());
  for (size_t i = 0; i < s.size(); ++i) CHECK(back[i] == doctest::Approx(std::min(s[i], 1.0f)).epsilon(1e-4));
  expect_error([&] { decode_wav(wav.data(), 10, &rate); }, {"not a RIFF/WAVE"});
  wav[40] = 0xff;  // data chunk length past the end
  expect_error([&] { decode_wav(wav.data(), wav.size(), &rate); }, {"past the end"});
}

TEST_CASE("PNG: signature, chunk layout and the stored pixels") {
  const uint8_t px[6] = {0, 50, 100, 150, 200, 250};
  auto png = encode_png(px, 3, 2, 1);
  const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  CHECK(std::equal(sig, sig + 8, png.begin()));
  CHECK(std::string(png.begin() + 12, png.begin() + 16) == "IHDR");
  CHECK(png[19] == 3);   // width
  CHECK(png[23] == 2);   // height
  CHECK(png[24] == 8);   // bit depth
  CHECK(png[25] == 0);   // grayscale
  CHECK(std::string(png.begin() + 37, png.begin() + 41) == "IDAT");
  // zlib header, one final stored block of 2 rows x (filter byte + 3 pixels) = 8 bytes
  CHECK(png[41] == 0x78);
  CHECK(png[43] == 1);
  CHECK(png[44] == 8);
  const std::vector<uint8_t> rows = {0, 0, 50, 100, 0, 150, 200, 250};
  CHECK(std::equal(rows.begin(), rows.end(), png.begin() + 48));
  expect_error([&] { encode_png(px, 3, 2, 2); }, {"bad image shape"});
}
