// A model file: safetensors + argen metadata (format, arch, modality, config, tokenizer).
// Float tensors are used in place when they are F32 and aligned; F16/BF16 are converted once.
#pragma once
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

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

class ModelFile {
 public:
  static std::shared_ptr<ModelFile> open(const std::string& path);
  static std::shared_ptr<ModelFile> from_bytes(Bytes bytes, const std::string& source);

  const std::string& source() const { return st_.source; }
  const std::string& arch() const { return arch_; }
  const std::string& modality() const { return modality_; }
  const nlohmann::json& config() const { return config_; }
  const nlohmann::json& tokenizer() const { return tokenizer_; }  // null when absent
  const std::map<std::string, std::string>& metadata() const { return st_.metadata; }
  const std::vector<TensorInfo>& tensors() const { return st_.tensors; }
  size_t file_size() const { return st_.bytes.size; }

  // The named float tensor with exactly `shape`; throws naming the tensor and both shapes.
  Tensor get(const std::string& name, const std::vector<int64_t>& shape) const;
  bool has(const std::string& name) const { return st_.find(name) != nullptr; }

  // Config accessors that throw naming the key and what was expected.
  int64_t config_int(const std::string& key, int64_t lo, int64_t hi) const;
  int64_t config_int(const std::string& key, int64_t lo, int64_t hi, int64_t fallback) const;
  bool config_bool(const std::string& key, bool fallback) const;
  std::string config_string(const std::string& key, const std::string& fallback) const;

  Error error(const std::string& what) const { return Error(source() + ": " + what); }

 private:
  explicit ModelFile(SafeTensors st);
  SafeTensors st_;
  std::string arch_, modality_;
  nlohmann::json config_, tokenizer_;
  mutable std::mutex mu_;                            // guards converted_
  mutable std::deque<std::vector<float>> converted_;  // F16/BF16/unaligned copies
};

std::string shape_to_string(const std::vector<int64_t>& s);

}  // namespace argen
