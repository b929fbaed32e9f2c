// A model file: safetensors + argen metadata (format, arch, modality, config, tokenizer).
// Float tensors are used in place when they are F32 and aligned; F16/BF16 are converted once.
#pragma once
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/aligned.h"
#include "core/error.h"
#include "core/safetensors.h"

namespace argen {

// A float32 view of a tensor, valid while its ModelFile lives.
struct Tensor {
  const float* data = nullptr;
  std::vector<int64_t> shape;
  size_t size() const {
    size_t n = 1;
    for (auto d : shape) n *= static_cast<size_t>(d);
    return n;
  }
};

// The memory a model may use: the wasm heap's ceiling (MAXIMUM_MEMORY in CMakeLists.txt) in wasm,
// unbounded natively.
#if defined(__EMSCRIPTEN__)
constexpr uint64_t kDefaultMemoryLimit = uint64_t(4) << 30;
#else
constexpr uint64_t kDefaultMemoryLimit = UINT64_MAX;
#endif

struct LoadOptions {
  // Weights holding NaN or +-Inf are refused at load, with an error naming the tensor and element
  // (they would only ever produce NaN logits). false accepts them.
  bool reject_nonfinite = true;
  // The file's bytes plus the float copies of F16/BF16 (or unaligned) tensors must fit; exceeding it
  // is an error giving both sizes, raised before the copy is allocated.
  uint64_t memory_limit = kDefaultMemoryLimit;
  // Quantize every weight matrix to int8 (per-row scales) at load: a quarter of the bytes per
  // step, int8 x int8 products. Files that store int8 tensors load as int8 either way.
  bool int8 = false;
};

class ModelFile {
 public:
  static std::shared_ptr<ModelFile> open(const std::string& path, const LoadOptions& opts = {});
  static std::shared_ptr<ModelFile> from_bytes(Bytes bytes, const std::string& source, const LoadOptions& opts = {});

  const std::string& source() const { return st_.source; }
  const std::string& arch() const { return arch_; }
  const std::string& modality() const { return modality_; }
  const nlohmann::json& config() const { return config_; }
  const nlohmann::json& tokenizer() const { return tokenizer_; }  // null when absent
  const std::map<std::string, std::string>& metadata() const { return st_.metadata; }
  const std::vector<TensorInfo>& tensors() const { return st_.tensors; }
  size_t file_size() const { return st_.bytes.size; }
  size_t elements() const { return elements_; }  // of all tensors
  // Whether models multiply by int8 weights: LoadOptions::int8, or the file stores int8 tensors.
  bool int8() const { return int8_; }

  // The named float tensor with exactly `shape`; throws naming the tensor and both shapes. An I8
  // tensor comes with a float tensor `<name>.scale` of shape [shape[0]] (one scale per row) and
  // reads as q * scale.
  Tensor get(const std::string& name, const std::vector<int64_t>& shape) const;
  // Rewrites a tensor's data in place, once, for a reader that is its only one (Weight's row pairs):
  // repack(data) runs on the first call; a later call (a second model made from this file) finds it
  // done. Tensors live in memory this ModelFile owns (the file read whole, or a converted copy).
  float* repack_once(const Tensor& t, void (*repack)(float* data, size_t rows, size_t cols), size_t rows,
                     size_t cols) const;
  bool has(const std::string& name) const { return st_.find(name) != nullptr; }

  // Config accessors that throw naming the key and what was expected.
  int64_t config_int(const std::string& key, int64_t lo, int64_t hi) const;
  int64_t config_int(const std::string& key, int64_t lo, int64_t hi, int64_t fallback) const;
  bool config_bool(const std::string& key, bool fallback) const;
  std::string config_string(const std::string& key, const std::string& fallback) const;

  Error error(const std::string& what) const { return Error(source() + ": " + what); }

  // Memory for what is made from the file's tensors (float32 copies of F16/BF16 ones; int8 codes,
  // scales and packed panels; matrices a model builds): 64-byte aligned, freed with the ModelFile.
  // Natively it is cut from chunks of 8 MB or more, which core/aligned.h puts on huge pages, so a
  // model's weights take few TLB entries; in wasm each request is a buffer of its own.
  void* alloc(size_t bytes) const;

 private:
  ModelFile(SafeTensors st, const LoadOptions& opts);
  SafeTensors st_;
  LoadOptions opts_;
  std::string arch_, modality_;
  bool int8_ = false;
  size_t elements_ = 0;
  nlohmann::json config_, tokenizer_;
  void* alloc_locked(size_t bytes) const;
  mutable std::mutex mu_;                               // guards the members below
  mutable std::vector<AlignedVector<uint8_t>> memory_;  // every buffer alloc() made
  mutable uint64_t converted_bytes_ = 0;                // of float32 copies (LoadOptions::memory_limit)
  mutable std::vector<const float*> repacked_;          // tensors repack_once() rewrote
#ifdef ARGEN_HUGE_PAGES
  mutable uint8_t* chunk_ = nullptr;  // where requests under 8 MB are cut from
  mutable size_t chunk_left_ = 0;
#endif
};

std::string shape_to_string(const std::vector<int64_t>& s);
// A JSON value for an error message, never longer than ~80 characters and never recursing into
// containers (a hostile file can nest them 100,000 deep): scalars dumped, containers described.
std::string json_brief(const nlohmann::json& v);
// nlohmann::json::parse with a depth limit: throws argen::Error("<what> nests deeper than ...").
nlohmann::json parse_json_limited(std::string_view text, const std::string& what);

}  // namespace argen
