#include "core/model_file.h"

#include "core/error.h"
#include "core/half.h"

#include <cstring>

namespace argen {

std::string shape_to_string(const std::vector<int64_t>& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
  return r + "]";
}

std::shared_ptr<ModelFile> ModelFile::open(const std::string& path) {
  return from_bytes(Bytes::from_file(path), path);
}

std::shared_ptr<ModelFile> ModelFile::from_bytes(Bytes bytes, const std::string& source) {
  return std::shared_ptr<ModelFile>(new ModelFile(SafeTensors::parse(std::move(bytes), source)));
}

ModelFile::ModelFile(SafeTensors st) : st_(std::move(st)) {
  auto meta = [&](const char* key) -> const std::string& {
    auto it = st_.metadata.find(key);
    if (it == st_.metadata.end()) throw error(std::string("metadata key '") + key + "' is missing (not an argen model file?)");
    return it->second;
  };
  if (meta("format") != "argen/1") throw error("metadata 'format' is '" + meta("format") + "', expected 'argen/1'");
  arch_ = meta("arch");
  modality_ = meta("modality");
  try {
    config_ = nlohmann::json::parse(meta("config"));
  } catch (const nlohmann::json::exception& e) {
    throw error(std::string("metadata 'config' is not valid JSON: ") + e.what());
  }
  if (!config_.is_object()) throw error("metadata 'config' is not a JSON object");
  auto it = st_.metadata.find("tokenizer");
  if (it != st_.metadata.end()) {
    try {
      tokenizer_ = nlohmann::json::parse(it->second);
    } catch (const nlohmann::json::exception& e) {
      throw error(std::string("metadata 'tokenizer' is not valid JSON: ") + e.what());
    }
    if (!tokenizer_.is_object()) throw error("metadata 'tokenizer' is not a JSON object");
  }
}

Tensor ModelFile::get(const std::string& name, const std::vector<int64_t>& shape) const {
  const TensorInfo* t = st_.find(name);
  if (!t) throw error("tensor '" + name + "' is missing (expected shape " + shape_to_string(shape) + ")");
  if (t->shape != shape)
    throw error("tensor '" + name + "' has shape " + shape_to_string(t->shape) + ", expected " + shape_to_string(shape));
  Tensor out;
  out.shape = shape;
  size_t n = out.size();
  auto convert = [&](auto fn) {
    std::lock_guard<std::mutex> lock(mu_);
    converted_.emplace_back(n);
    float* dst = converted_.back().data();
    for (size_t i = 0; i < n; ++i) dst[i] = fn(i);
    out.data = dst;
  };
  switch (t->dtype) {
    case DType::F32:
      if (reinterpret_cast<uintptr_t>(t->data) % alignof(float) == 0) {
        out.data = reinterpret_cast<const float*>(t->data);
      } else {
        convert([&](size_t i) {
          float f;
          std::memcpy(&f, t->data + 4 * i, 4);
          return f;
        });
      }
      break;
    case DType::F16:
      convert([&](size_t i) { return f16_to_f32(uint16_t(t->data[2 * i] | t->data[2 * i + 1] << 8)); });
      break;
    case DType::BF16:
      convert([&](size_t i) { return bf16_to_f32(uint16_t(t->data[2 * i] | t->data[2 * i + 1] << 8)); });
      break;
    default:
      throw error("tensor '" + name + "' has dtype " + dtype_name(t->dtype) + ", expected F32, F16 or BF16");
  }
  return out;
}

int64_t ModelFile::config_int(const std::string& key, int64_t lo, int64_t hi) const {
  if (!config_.contains(key)) throw error("config key '" + key + "' is missing");
  const auto& v = config_[key];
  if (!v.is_number_integer()) throw error("config key '" + key + "' must be an integer, found " + v.dump());
  int64_t x = v.is_number_unsigned() && v.get<uint64_t>() > uint64_t(INT64_MAX) ? INT64_MAX : v.get<int64_t>();
  if (x < lo || x > hi)
    throw error("config key '" + key + "' is " + v.dump() + ", expected " + std::to_string(lo) + ".." + std::to_string(hi));
  return x;
}

int64_t ModelFile::config_int(const std::string& key, int64_t lo, int64_t hi, int64_t fallback) const {
  return config_.contains(key) ? config_int(key, lo, hi) : fallback;
}

bool ModelFile::config_bool(const std::string& key, bool fallback) const {
  if (!config_.contains(key)) return fallback;
  if (!config_[key].is_boolean()) throw error("config key '" + key + "' must be true or false, found " + config_[key].dump());
  return config_[key].get<bool>();
}

std::string ModelFile::config_string(const std::string& key, const std::string& fallback) const {
  if (!config_.contains(key)) return fallback;
  if (!config_[key].is_string()) throw error("config key '" + key + "' must be a string, found " + config_[key].dump());
  return config_[key].get<std::string>();
}

}  // namespace argen
