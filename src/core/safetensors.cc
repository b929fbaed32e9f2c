#include "core/safetensors.h"

#include <algorithm>
#include <cstring>
#include <set>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/utf8.h"

namespace argen {
namespace {

struct DTypeEntry {
  const char* name;
  DType type;
  size_t size;
};
constexpr DTypeEntry kDTypes[] = {
    {"F64", DType::F64, 8},   {"F32", DType::F32, 4},   {"F16", DType::F16, 2},
    {"BF16", DType::BF16, 2}, {"I64", DType::I64, 8},   {"I32", DType::I32, 4},
    {"I16", DType::I16, 2},   {"I8", DType::I8, 1},     {"U64", DType::U64, 8},
    {"U32", DType::U32, 4},   {"U16", DType::U16, 2},   {"U8", DType::U8, 1},
    {"BOOL", DType::BOOL, 1}, {"F8_E4M3", DType::F8_E4M3, 1}, {"F8_E5M2", DType::F8_E5M2, 1},
};

std::string shape_str(const std::vector<int64_t>& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? ", " : "") + std::to_string(s[i]);
  return r + "]";
}

}  // namespace

const char* dtype_name(DType t) {
  for (const auto& e : kDTypes)
    if (e.type == t) return e.name;
  return "?";
}
size_t dtype_size(DType t) {
  for (const auto& e : kDTypes)
    if (e.type == t) return e.size;
  return 0;
}

SafeTensors SafeTensors::parse(Bytes bytes, const std::string& source) {
  auto fail = [&](const std::string& what) -> Error { return Error(source + ": " + what); };
  if (bytes.size < 8) throw fail("file too small for a safetensors header (" + std::to_string(bytes.size) + " bytes, need at least 8)");
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | bytes.data[i];
  if (n > kMaxHeaderSize)
    throw fail("header length " + std::to_string(n) + " exceeds the limit of " + std::to_string(kMaxHeaderSize) + " bytes");
  if (n > bytes.size - 8)
    throw fail("header length " + std::to_string(n) + " runs past the end of the file (" + std::to_string(bytes.size) + " bytes)");
  const char* hdr = reinterpret_cast<const char*>(bytes.data + 8);
  std::string_view header(hdr, static_cast<size_t>(n));
  if (size_t bad = utf8_invalid_at(header); bad != std::string_view::npos)
    throw fail("header is not valid UTF-8 (byte " + std::to_string(bad) + ")");
  if (header.empty() || header[0] != '{') throw fail("header does not start with '{'");

  // Duplicate names: nlohmann keeps the last value silently, so count keys at the top level.
  std::set<std::string> seen;
  std::string duplicate;
  nlohmann::json::parser_callback_t cb = [&](int depth, nlohmann::json::parse_event_t ev, nlohmann::json& parsed) {
    if ((ev == nlohmann::json::parse_event_t::object_start || ev == nlohmann::json::parse_event_t::array_start) &&
        depth >= kMaxJsonDepth)
      throw fail("header nests deeper than " + std::to_string(kMaxJsonDepth) + " levels");
    if (ev == nlohmann::json::parse_event_t::key && depth == 1) {
      std::string k = parsed.get<std::string>();
      if (!seen.insert(k).second && duplicate.empty()) duplicate = k;
    }
    return true;
  };
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(header.begin(), header.end(), cb);
  } catch (const nlohmann::json::exception& e) {
    throw fail(std::string("header is not valid JSON: ") + e.what());
  }
  if (!duplicate.empty()) throw fail("duplicate tensor name '" + duplicate + "' in header");
  if (!j.is_object()) throw fail("header is not a JSON object");

  SafeTensors st;
  st.source = source;
  const uint8_t* data = bytes.data + 8 + n;
  const size_t data_size = bytes.size - 8 - static_cast<size_t>(n);
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& name = it.key();
    const auto& v = it.value();
    if (name == "__metadata__") {
      if (!v.is_object()) throw fail("__metadata__ is not an object");
      for (auto m = v.begin(); m != v.end(); ++m) {
        if (!m.value().is_string()) throw fail("__metadata__ value for '" + m.key() + "' is not a string");
        st.metadata[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    auto tfail = [&](const std::string& what) { return fail("tensor '" + name + "': " + what); };
    if (!v.is_object()) throw tfail("entry is not an object");
    if (!v.contains("dtype") || !v["dtype"].is_string()) throw tfail("missing dtype");
    if (!v.contains("shape") || !v["shape"].is_array()) throw tfail("missing shape");
    if (!v.contains("data_offsets") || !v["data_offsets"].is_array() || v["data_offsets"].size() != 2)
      throw tfail("data_offsets must be [begin, end]");
    TensorInfo t;
    t.name = name;
    std::string dt = v["dtype"].get<std::string>();
    const DTypeEntry* e = nullptr;
    for (const auto& c : kDTypes)
      if (dt == c.name) e = &c;
    if (!e) throw tfail("unknown dtype '" + dt + "'");
    t.dtype = e->type;
    uint64_t count = 1;
    for (const auto& d : v["shape"]) {
      if (!d.is_number_unsigned()) throw tfail("shape entries must be non-negative integers");
      uint64_t dim = d.get<uint64_t>();
      if (dim > (uint64_t(1) << 62) || __builtin_mul_overflow(count, dim, &count))
        throw tfail("element count of shape " + v["shape"].dump() + " overflows");
      t.shape.push_back(static_cast<int64_t>(dim));
    }
    uint64_t want = 0;
    if (__builtin_mul_overflow(count, uint64_t(e->size), &want)) throw tfail("byte size of shape " + v["shape"].dump() + " overflows");
    const auto& off = v["data_offsets"];
    if (!off[0].is_number_unsigned() || !off[1].is_number_unsigned()) throw tfail("data_offsets must be non-negative integers");
    uint64_t b = off[0].get<uint64_t>(), en = off[1].get<uint64_t>();
    if (en < b) throw tfail("data_offsets end " + std::to_string(en) + " is before begin " + std::to_string(b));
    if (en - b != want)
      throw tfail("data_offsets span " + std::to_string(en - b) + " bytes but dtype " + dt + " x shape " + shape_str(t.shape) +
                  " needs " + std::to_string(want));
    if (en > data_size)
      throw tfail("data_offsets end " + std::to_string(en) + " is past the end of the data (" + std::to_string(data_size) + " bytes)");
    t.offset = static_cast<size_t>(b);
    t.nbytes = static_cast<size_t>(want);
    t.data = data + b;
    st.tensors.push_back(std::move(t));
  }
  std::sort(st.tensors.begin(), st.tensors.end(), [](const TensorInfo& a, const TensorInfo& b) {
    return a.offset != b.offset ? a.offset < b.offset : a.nbytes < b.nbytes;
  });
  size_t expect = 0;
  for (const auto& t : st.tensors) {
    if (t.offset != expect)
      throw fail("tensor '" + t.name + "' starts at offset " + std::to_string(t.offset) + ", expected " + std::to_string(expect) +
                 (t.offset < expect ? " (overlaps the previous tensor)" : " (gap after the previous tensor)"));
    expect = t.offset + t.nbytes;
  }
  if (expect != data_size)
    throw fail("data section is " + std::to_string(data_size) + " bytes but tensors cover " + std::to_string(expect) +
               " (trailing bytes)");
  st.bytes = std::move(bytes);
  return st;
}

const TensorInfo* SafeTensors::find(const std::string& name) const {
  for (const auto& t : tensors)
    if (t.name == name) return &t;
  return nullptr;
}

}  // namespace argen
