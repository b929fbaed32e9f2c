// Safetensors reader: validates a file the way the reference implementation does, then gives views.
// Format: u64 LE header length N, N bytes of UTF-8 JSON object, then the tensor data.
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/bytes.h"

namespace argen {

enum class DType { F64, F32, F16, BF16, I64, I32, I16, I8, U64, U32, U16, U8, BOOL, F8_E4M3, F8_E5M2 };

const char* dtype_name(DType t);
size_t dtype_size(DType t);

struct TensorInfo {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  const uint8_t* data;  // into the file's bytes
  size_t nbytes;
  size_t offset;  // from the start of the data section
};

struct SafeTensors {
  std::string source;                          // file name for messages
  std::map<std::string, std::string> metadata;  // __metadata__
  std::vector<TensorInfo> tensors;             // sorted by offset
  Bytes bytes;

  // Throws argen::Error naming `source` and the problem.
  static SafeTensors parse(Bytes bytes, const std::string& source);
  const TensorInfo* find(const std::string& name) const;
};

constexpr uint64_t kMaxHeaderSize = 100'000'000;  // as the reference implementation
// Nesting deeper than this in a header or metadata JSON is refused while parsing (a valid header
// nests 3 deep): keeps hostile nesting from costing memory and from reaching recursive code.
constexpr int kMaxJsonDepth = 32;

}  // namespace argen
