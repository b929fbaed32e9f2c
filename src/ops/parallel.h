// Threads for matrix work: matvec, matvec_acc and matmul split their rows across ops::threads()
// threads (the caller and threads()-1 pooled workers) when a product is large enough to pay for
// the hand-off. Each row is computed exactly as single-threaded, so results do not depend on the
// thread count. Builds without threads (the default wasm build) have 1.
#pragma once
#include <cstddef>

namespace argen::ops {

// Sets the number of threads (1..64); throws argen::Error in a build without threads for n > 1.
// Not to be called while another thread runs ops.
void set_threads(int n);
int threads();
// The most threads this build and machine can use (1 without threads).
int max_threads();

// Runs part(begin, end, ctx) over [0, n) split into up to threads() contiguous ranges whose bounds
// are multiples of `align`; the calling thread runs the first. Returns when all are done.
// Runs everything on the calling thread when n / align < 2, when threads() == 1, when called from
// within a part (products inside a model's own parallel_for), or when another thread is already
// using the pool.
void parallel_for(size_t n, size_t align, void (*part)(size_t begin, size_t end, void* ctx), void* ctx);

}  // namespace argen::ops
