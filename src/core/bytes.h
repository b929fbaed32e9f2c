// A read-only byte buffer that keeps its owner alive (a vector: a file is read whole).
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace argen {

struct Bytes {
  const uint8_t* data = nullptr;
  size_t size = 0;
  std::shared_ptr<const void> owner;  // keeps `data` valid

  // Takes v over (an AlignedVector keeps the tensors of an aligned file aligned in memory).
  template <class Alloc>
  static Bytes from_vector(std::vector<uint8_t, Alloc> v) {
    auto owned = std::make_shared<std::vector<uint8_t, Alloc>>(std::move(v));
    Bytes b;
    b.data = owned->data();
    b.size = owned->size();
    b.owner = owned;
    return b;
  }
  // Reads the whole file (natively onto huge pages where it is 2 MB or more).
  static Bytes from_file(const std::string& path);
};

}  // namespace argen
