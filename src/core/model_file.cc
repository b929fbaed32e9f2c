#include "core/model_file.h"

#include "core/error.h"
#include "core/half.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace argen {

std::string shape_to_string(const std::vector<int64_t>& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
  return r + "]";
}

std::string json_brief(const nlohmann::json& v) {
  if (v.is_structured()) {
    // Dumped only when flat and short (one level of scalars): dump() recurses.
    bool flat = v.size() <= 16;
    for (auto it = v.begin(); flat && it != v.end(); ++it) flat = it->is_primitive();
    if (!flat) return v.is_array() ? "an array of " + std::to_string(v.size()) : "an object of " + std::to_string(v.size()) + " keys";
  }
  std::string s = v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (s.size() > 80) s = s.substr(0, 77) + "...";
  return s;
}

nlohmann::json parse_json_limited(std::string_view text, const std::string& what) {
  nlohmann::json::parser_callback_t cb = [&](int depth, nlohmann::json::parse_event_t ev, nlohmann::json&) {
    if ((ev == nlohmann::json::parse_event_t::object_start || ev == nlohmann::json::parse_event_t::array_start) &&
        depth >= kMaxJsonDepth)
      throw Error(what + " nests deeper than " + std::to_string(kMaxJsonDepth) + " levels");
    return true;
  };
  return nlohmann::json::parse(text.begin(), text.end(), cb);
}

std::shared_ptr<ModelFile> ModelFile::open(const std::string& path, const LoadOptions& opts) {
  return from_bytes(Bytes::from_file(path), path, opts);
}

std::shared_ptr<ModelFile> ModelFile::from_bytes(Bytes bytes, const std::string& source, const LoadOptions& opts) {
  if (bytes.size > opts.memory_limit)
    throw Error(source + ": the file is " + std::to_string(bytes.size) + " bytes, over the memory limit of " +
                std::to_string(opts.memory_limit) + " bytes");
  return std::shared_ptr<ModelFile>(new ModelFile(SafeTensors::parse(std::move(bytes), source), opts));
}

ModelFile::ModelFile(SafeTensors st, const LoadOptions& opts) : st_(std::move(st)), opts_(opts) {
  auto meta = [&](const char* key) -> const std::string& {
    auto it = st_.metadata.find(key);
    if (it == st_.metadata.end()) throw error(std::string("metadata key '") + key + "' is missing (not an argen model file?)");
    return it->second;
  };
  if (meta("format") != "argen/1") throw error("metadata 'format' is '" + meta("format") + "', expected 'argen/1'");
  int8_ = opts.int8;
  for (const auto& t : st_.tensors) {
    int8_ = int8_ || t.dtype == DType::I8;
    elements_ += t.nbytes / dtype_size(t.dtype);  // nbytes: the shape's elements x size, checked at parse
  }
  arch_ = meta("arch");
  modality_ = meta("modality");
  try {
    config_ = parse_json_limited(meta("config"), source() + ": metadata 'config'");
  } catch (const nlohmann::json::exception& e) {
    throw error(std::string("metadata 'config' is not valid JSON: ") + e.what());
  }
  if (!config_.is_object()) throw error("metadata 'config' is not a JSON object");
  auto it = st_.metadata.find("tokenizer");
  if (it != st_.metadata.end()) {
    try {
      tokenizer_ = parse_json_limited(it->second, source() + ": metadata 'tokenizer'");
    } catch (const nlohmann::json::exception& e) {
      throw error(std::string("metadata 'tokenizer' is not valid JSON: ") + e.what());
    }
    if (!tokenizer_.is_object()) throw error("metadata 'tokenizer' is not a JSON object");
  }
}

namespace {
// Whether any of x is inf or NaN (all exponent bits set): integer operations without an early exit,
// which compilers vectorise (a scalar isfinite loop took ~2% of loading llama-15m in wasm).
bool any_nonfinite(const float* x, size_t n) {
  uint32_t bad = 0;
  for (size_t i = 0; i < n; ++i) {
    uint32_t u;
    std::memcpy(&u, x + i, sizeof u);
    bad |= uint32_t((u & 0x7f800000u) == 0x7f800000u);
  }
  return bad != 0;
}
}  // namespace

float* ModelFile::repack_once(const Tensor& t, void (*repack)(float*, size_t, size_t), size_t rows,
                              size_t cols) const {
  std::lock_guard<std::mutex> lock(mu_);
  float* data = const_cast<float*>(t.data);
  if (std::find(repacked_.begin(), repacked_.end(), t.data) == repacked_.end()) {
    repack(data, rows, cols);
    repacked_.push_back(t.data);
  }
  return data;
}

void* ModelFile::alloc(size_t bytes) const {
  std::lock_guard<std::mutex> lock(mu_);
  return alloc_locked(bytes);
}

void* ModelFile::alloc_locked(size_t bytes) const {
  bytes = (bytes + kAlignment - 1) / kAlignment * kAlignment;
#ifdef ARGEN_HUGE_PAGES
  constexpr size_t kChunk = size_t(8) << 20;
  if (bytes < kChunk) {
    if (chunk_left_ < bytes) {
      memory_.emplace_back(kChunk);
      chunk_ = memory_.back().data(), chunk_left_ = kChunk;
    }
    void* p = chunk_;
    chunk_ += bytes, chunk_left_ -= bytes;
    return p;
  }
#endif
  memory_.emplace_back(bytes);
  return memory_.back().data();
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
    const uint64_t need = uint64_t(file_size()) + converted_bytes_ + uint64_t(n) * sizeof(float);
    if (need > opts_.memory_limit)
      throw error("tensor '" + name + "' needs a float32 copy of " + std::to_string(uint64_t(n) * sizeof(float)) +
                  " bytes: the model would use " + std::to_string(need) + " bytes (file " + std::to_string(file_size()) +
                  " + converted weights), over the memory limit of " + std::to_string(opts_.memory_limit) + " bytes");
    converted_bytes_ += uint64_t(n) * sizeof(float);
    float* dst = static_cast<float*>(alloc_locked(n * sizeof(float)));
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
    case DType::I8: {
      // Per-row scales: int8 matrices as models/export.py writes them (quantize_rows_q8's rule).
      if (shape.empty()) throw error("tensor '" + name + "' is I8 but has no rows to scale");
      const Tensor scale = get(name + ".scale", {shape[0]});
      const size_t cols = shape[0] ? n / size_t(shape[0]) : 0;
      for (int64_t r = 0; r < shape[0]; ++r)
        if (!(scale.data[r] > 0))
          throw error("tensor '" + name + ".scale' holds " + std::to_string(scale.data[r]) + " at row " +
                      std::to_string(r) + ", expected a positive scale");
      convert([&](size_t i) { return float(int8_t(t->data[i])) * scale.data[i / cols]; });
      break;
    }
    default:
      throw error("tensor '" + name + "' has dtype " + dtype_name(t->dtype) + ", expected F32, F16, BF16 or I8");
  }
  if (opts_.reject_nonfinite && any_nonfinite(out.data, n)) {
    for (size_t i = 0; i < n; ++i) {
      if (!std::isfinite(out.data[i]))
        throw error("tensor '" + name + "' holds a non-finite value (" + (std::isnan(out.data[i]) ? "nan" : out.data[i] > 0 ? "inf" : "-inf") +
                    ") at element " + std::to_string(i) + " (LoadOptions::reject_nonfinite)");
    }
  }
  return out;
}

int64_t ModelFile::config_int(const std::string& key, int64_t lo, int64_t hi) const {
  if (!config_.contains(key)) throw error("config key '" + key + "' is missing");
  const auto& v = config_[key];
  if (!v.is_number_integer()) throw error("config key '" + key + "' must be an integer, found " + json_brief(v));
  int64_t x = v.is_number_unsigned() && v.get<uint64_t>() > uint64_t(INT64_MAX) ? INT64_MAX : v.get<int64_t>();
  if (x < lo || x > hi)
    throw error("config key '" + key + "' is " + json_brief(v) + ", expected " + std::to_string(lo) + ".." + std::to_string(hi));
  return x;
}

int64_t ModelFile::config_int(const std::string& key, int64_t lo, int64_t hi, int64_t fallback) const {
  return config_.contains(key) ? config_int(key, lo, hi) : fallback;
}

bool ModelFile::config_bool(const std::string& key, bool fallback) const {
  if (!config_.contains(key)) return fallback;
  if (!config_[key].is_boolean()) throw error("config key '" + key + "' must be true or false, found " + json_brief(config_[key]));
  return config_[key].get<bool>();
}

std::string ModelFile::config_string(const std::string& key, const std::string& fallback) const {
  if (!config_.contains(key)) return fallback;
  if (!config_[key].is_string()) throw error("config key '" + key + "' must be a string, found " + json_brief(config_[key]));
  return config_[key].get<std::string>();
}

}  // namespace argen
