// The hostile corpus (tests/hostile, written by make_hostile.py): every crafted file fails to load
// with its expected error, and loading it allocates no more than the file can justify. Runs natively
// (also under ASan/UBSan) and in wasm under node.
//
// Allocations are measured by replacing the global operator new/delete of the test binary: while a
// load runs, the peak of live heap bytes allocated through new must stay under
// kSlack + kPerFileByte x the file size (the JSON tree of a header costs tens of bytes per header
// byte; a float32 copy of F16 weights two per file byte). A 200-byte file may use a few MB at most.
#include <atomic>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <new>

#include <nlohmann/json.hpp>

#include "core/model_file.h"
#include "models/model.h"
#include "test_util.h"
#include "text/tokenizer.h"

using namespace argen;

namespace {

// Live bytes and their peak, counted only while `tracking` is set. A 16-byte prefix holds the size.
std::atomic<bool> tracking{false};
std::atomic<size_t> live{0}, peak{0};
constexpr size_t kPrefix = 16;

void* counted_alloc(size_t n) {
  void* p = std::malloc(n + kPrefix);
  if (!p) throw std::bad_alloc();
  *static_cast<size_t*>(p) = n;
  if (tracking.load(std::memory_order_relaxed)) {
    size_t now = live.fetch_add(n) + n;
    size_t old = peak.load();
    while (now > old && !peak.compare_exchange_weak(old, now)) {
    }
  }
  return static_cast<char*>(p) + kPrefix;
}

void counted_free(void* q) {
  if (!q) return;
  void* p = static_cast<char*>(q) - kPrefix;
  size_t n = *static_cast<size_t*>(p);
  if (tracking.load(std::memory_order_relaxed)) {
    // Frees of blocks allocated before tracking began would underflow: clamp at zero.
    size_t cur = live.load();
    while (!live.compare_exchange_weak(cur, cur >= n ? cur - n : 0)) {
    }
  }
  std::free(p);
}

}  // namespace

void* operator new(size_t n) { return counted_alloc(n); }
void* operator new[](size_t n) { return counted_alloc(n); }
void operator delete(void* p) noexcept { counted_free(p); }
void operator delete[](void* p) noexcept { counted_free(p); }
void operator delete(void* p, size_t) noexcept { counted_free(p); }
void operator delete[](void* p, size_t) noexcept { counted_free(p); }

namespace {

constexpr size_t kSlack = size_t(2) << 20;
constexpr size_t kPerFileByte = 64;

const std::string kHostile = std::string(ARGEN_SOURCE_DIR) + "/tests/hostile/";

std::vector<uint8_t> read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  REQUIRE_MESSAGE(f.good(), "cannot open " << path << " (run tests/hostile/make_hostile.py)");
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), {});
}

// Everything loadModel does: parse, build the model, build the tokenizer (text). Never new_state().
void load(std::vector<uint8_t> v, const std::string& name, const LoadOptions& opts = {}) {
  auto file = ModelFile::from_bytes(Bytes::from_vector(std::move(v)), name, opts);
  auto model = create_model(file);
  if (file->modality() == "text") Tokenizer::from_json(file->tokenizer(), model->info().vocab_size, name);
}

// Loads with allocation tracking; returns the error message ("" when it loaded) and the peak.
std::string tracked_load(std::vector<uint8_t> v, const std::string& name, size_t* peak_bytes, const LoadOptions& opts = {}) {
  std::string msg;
  live = 0, peak = 0;
  tracking = true;
  try {
    load(std::move(v), name, opts);
  } catch (const Error& e) {
    tracking = false;
    msg = e.what();
    if (msg.empty()) msg = "(empty message)";
  } catch (const std::exception& e) {
    tracking = false;
    msg = std::string("NOT AN argen::Error: ") + e.what();
  }
  tracking = false;
  *peak_bytes = peak;
  return msg;
}

nlohmann::json expected() {
  auto b = read_bytes(kHostile + "expected.json");
  return nlohmann::json::parse(b.begin(), b.end())["files"];
}

}  // namespace

TEST_CASE("every hostile file fails to load with its expected error, within its memory bound") {
  const auto files = expected();
  REQUIRE(files.size() >= 30);
  size_t worst_ratio_file = 0, worst_peak = 0;
  std::string worst;
  for (auto it = files.begin(); it != files.end(); ++it) {
    const std::string name = it.key();
    const std::string want = it.value()["error"].get<std::string>();
    auto bytes = read_bytes(kHostile + "files/" + name);
    const size_t size = bytes.size();
    size_t peak_bytes = 0;
    const std::string msg = tracked_load(std::move(bytes), name, &peak_bytes);
    CAPTURE(name);
    CHECK_MESSAGE(!msg.empty(), name << " loaded, expected an error containing '" << want << "'");
    CHECK_MESSAGE(msg.find(want) != std::string::npos, name << ": message '" << msg << "' lacks '" << want << "'");
    CHECK_MESSAGE(msg.size() < 1000, name << ": message of " << msg.size() << " bytes");
    const size_t bound = kSlack + kPerFileByte * size;
    CHECK_MESSAGE(peak_bytes <= bound, name << " (" << size << " bytes) peaked at " << peak_bytes << " live heap bytes, bound " << bound);
    if (peak_bytes > worst_peak) worst_peak = peak_bytes, worst = name, worst_ratio_file = size;
  }
  MESSAGE("largest peak: " << worst << " (" << worst_ratio_file << " bytes): " << worst_peak << " live heap bytes");
}

TEST_CASE("the valid golden files load within the same memory bound, and the tracker sees allocations") {
  for (const char* g : {"lstm_emb_chars_h37_l2_f16", "llama_chars_d28_h2_l2", "pixelcnn_gray_l16_5x6_f6_l3",
                        "wavenet_onehot_k3_r6_d4_s5_l5_f16"}) {
    auto bytes = read_bytes(std::string(ARGEN_SOURCE_DIR) + "/tests/golden/" + g + ".safetensors");
    const size_t size = bytes.size();
    size_t peak_bytes = 0;
    const std::string msg = tracked_load(std::move(bytes), g, &peak_bytes);
    CHECK_MESSAGE(msg.empty(), g << ": " << msg);
    CHECK(peak_bytes > 0);  // the tracker sees the loader's allocations
    CHECK(peak_bytes <= kSlack + kPerFileByte * size);
  }
}

TEST_CASE("non-finite weights load when LoadOptions::reject_nonfinite is false") {
  auto bytes = read_bytes(kHostile + "files/nan_weight_f32.safetensors");
  LoadOptions opts;
  opts.reject_nonfinite = false;
  size_t peak_bytes = 0;
  CHECK(tracked_load(bytes, "nan", &peak_bytes, opts).empty());
}

TEST_CASE("a model whose float32 copies exceed the memory limit fails before the copy, giving both sizes") {
  // The F16 golden file converts to twice its size; a limit just over the file refuses the first copy.
  auto bytes = read_bytes(std::string(ARGEN_SOURCE_DIR) + "/tests/golden/lstm_emb_chars_h37_l2_f16.safetensors");
  const size_t size = bytes.size();
  LoadOptions opts;
  opts.memory_limit = size + 100;
  size_t peak_bytes = 0;
  const std::string msg = tracked_load(bytes, "f16", &peak_bytes, opts);
  CHECK(msg.find("over the memory limit of " + std::to_string(size + 100) + " bytes") != std::string::npos);
  CHECK(msg.find("file " + std::to_string(size)) != std::string::npos);
  // A file larger than the limit is refused before parsing.
  opts.memory_limit = size - 1;
  const std::string msg2 = tracked_load(bytes, "f16", &peak_bytes, opts);
  CHECK(msg2.find("the file is " + std::to_string(size) + " bytes, over the memory limit of " + std::to_string(size - 1)) !=
        std::string::npos);
  // The limit of the wasm build is its MAXIMUM_MEMORY.
#if defined(__EMSCRIPTEN__)
  CHECK(kDefaultMemoryLimit == (uint64_t(4) << 30));
#endif
}
