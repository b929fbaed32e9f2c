// std::vector storage at 64-byte boundaries, for weights and model file bytes: SIMD loads of a
// matrix's rows then never straddle two cache lines (a float32 matmul on L1-resident operands ran
// 1.3-1.5x slower here with 16-byte-aligned weights, what malloc gives).
#pragma once
#include <cstddef>
#include <new>
#include <vector>

namespace argen {

inline constexpr size_t kAlignment = 64;

template <class T>
struct AlignedAllocator {
  using value_type = T;
  AlignedAllocator() = default;
  template <class U>
  AlignedAllocator(const AlignedAllocator<U>&) {}
  T* allocate(size_t n) { return static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t(kAlignment))); }
  void deallocate(T* p, size_t) { ::operator delete(p, std::align_val_t(kAlignment)); }
  template <class U>
  bool operator==(const AlignedAllocator<U>&) const { return true; }
  template <class U>
  bool operator!=(const AlignedAllocator<U>&) const { return false; }
};

template <class T>
using AlignedVector = std::vector<T, AlignedAllocator<T>>;

}  // namespace argen
