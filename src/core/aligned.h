// std::vector storage at 64-byte boundaries, for weights and model file bytes: SIMD loads of a
// matrix's rows then never straddle two cache lines (a float32 matmul on L1-resident operands ran
// 1.3-1.5x slower here with 16-byte-aligned weights, what malloc gives).
// On Linux, buffers of 2 MB or more sit on 2 MB boundaries and ask for transparent huge pages: a
// model's large matrices are read whole every step, and in 4 KB pages llama-15m's 9.2 MB int8
// classifier alone spans 2,250 of them, more than the 2,048 entries of Zen 3's L2 TLB.
#pragma once
#include <cstddef>
#include <new>
#include <vector>
#if defined(__linux__) && !defined(__EMSCRIPTEN__)
#include <sys/mman.h>
#define ARGEN_HUGE_PAGES 1
#endif

namespace argen {

inline constexpr size_t kAlignment = 64;
#ifdef ARGEN_HUGE_PAGES
inline constexpr size_t kHugePage = size_t(1) << 21;
inline size_t alignment_for(size_t bytes) { return bytes >= kHugePage ? kHugePage : kAlignment; }
#else
inline size_t alignment_for(size_t) { return kAlignment; }
#endif

template <class T>
struct AlignedAllocator {
  using value_type = T;
  AlignedAllocator() = default;
  template <class U>
  AlignedAllocator(const AlignedAllocator<U>&) {}
  T* allocate(size_t n) {
    const size_t bytes = n * sizeof(T);
    void* p = ::operator new(bytes, std::align_val_t(alignment_for(bytes)));
#ifdef ARGEN_HUGE_PAGES
    if (alignment_for(bytes) == kHugePage) ::madvise(p, bytes, MADV_HUGEPAGE);  // a hint: without THP, 4 KB pages
#endif
    return static_cast<T*>(p);
  }
  void deallocate(T* p, size_t n) { ::operator delete(p, std::align_val_t(alignment_for(n * sizeof(T)))); }
  template <class U>
  bool operator==(const AlignedAllocator<U>&) const { return true; }
  template <class U>
  bool operator!=(const AlignedAllocator<U>&) const { return false; }
};

template <class T>
using AlignedVector = std::vector<T, AlignedAllocator<T>>;

}  // namespace argen
