// Highway kernels, compiled once per SIMD target (see ops.cc). Each mirrors a function in ops_ref.h.
#if defined(ARGEN_OPS_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef ARGEN_OPS_INL_H_
#undef ARGEN_OPS_INL_H_
#else
#define ARGEN_OPS_INL_H_
#endif

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>
#include <vector>

#include "hwy/cache_control.h"
#include "hwy/highway.h"
#include "ops/ops.h"

HWY_BEFORE_NAMESPACE();
namespace argen {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// The lane sums of four vectors (int32 or float), as the four lanes of one 128-bit vector: two rounds of
// interleave-and-add within each 128-bit block, then the blocks added. Cheaper than four
// SumOfLanes, which matters for the short rows (64-256 columns) of small models. (Not for the
// one-lane scalar target, which reduces row by row.)
#if HWY_TARGET != HWY_SCALAR
template <class D, class V>
HWY_INLINE auto FoldBlocks(D, V v) {
  if constexpr (hn::MaxLanes(D()) * sizeof(hn::TFromD<D>) <= 16) {
    return v;
  } else {
    const hn::Half<D> dh;
    return FoldBlocks(dh, hn::Add(hn::LowerHalf(dh, v), hn::UpperHalf(dh, v)));
  }
}
template <class D, class V>
HWY_INLINE auto SumsOf4(D d, V a0, V a1, V a2, V a3) {
  const auto t01 = hn::Add(hn::InterleaveLower(d, a0, a1), hn::InterleaveUpper(d, a0, a1));
  const auto t23 = hn::Add(hn::InterleaveLower(d, a2, a3), hn::InterleaveUpper(d, a2, a3));
  const hn::RepartitionToWide<D> d64;
  const auto lo = hn::InterleaveLower(d64, hn::BitCast(d64, t01), hn::BitCast(d64, t23));
  const auto hi = hn::InterleaveUpper(d64, hn::BitCast(d64, t01), hn::BitCast(d64, t23));
  return FoldBlocks(d, hn::Add(hn::BitCast(d, lo), hn::BitCast(d, hi)));
}
// sums (from SumsOf4 over float rows w0, w0 + stride, w0 + 2 stride, w0 + 3 stride) plus the
// products of columns c0..c1-1 with x: the columns past the last full vector.
template <class D4, class V4>
HWY_INLINE V4 AddColumnTails(D4 d4, V4 sums, const float* w0, size_t stride, const float* x, size_t c0, size_t c1) {
  if (c0 == c1) return sums;
  HWY_ALIGN float t[4] = {0.f, 0.f, 0.f, 0.f};
  for (size_t c = c0; c < c1; ++c)
    for (size_t k = 0; k < 4; ++k) t[k] += w0[k * stride + c] * x[c];
  return hn::Add(sums, hn::Load(d4, t));
}
#endif

// The products a[i] * b[i] for i < n_vec (a multiple of the lane count) summed lane by lane: two
// sums in flight, then the odd vector.
template <class D>
HWY_INLINE hn::Vec<D> DotLanes(D d, const float* HWY_RESTRICT a, const float* HWY_RESTRICT b, size_t n_vec) {
  const size_t N = hn::Lanes(d);
  auto s0 = hn::Zero(d), s1 = hn::Zero(d);
  size_t i = 0;
  for (; i + 2 * N <= n_vec; i += 2 * N) {
    s0 = hn::MulAdd(hn::LoadU(d, a + i), hn::LoadU(d, b + i), s0);
    s1 = hn::MulAdd(hn::LoadU(d, a + i + N), hn::LoadU(d, b + i + N), s1);
  }
  if (i < n_vec) s0 = hn::MulAdd(hn::LoadU(d, a + i), hn::LoadU(d, b + i), s0);
  return hn::Add(s0, s1);
}

HWY_INLINE float Dot(const float* HWY_RESTRICT a, const float* HWY_RESTRICT b, size_t n) {
  const hn::ScalableTag<float> d;
  const size_t n_vec = n - n % hn::Lanes(d);
  float s = hn::GetLane(hn::SumOfLanes(d, DotLanes(d, a, b, n_vec)));
  for (size_t i = n_vec; i < n; ++i) s += a[i] * b[i];
  return s;
}

// Decode is bound by reading W once per step, and rows are short (a few KB): reading them in order
// gives the hardware prefetcher one short stream after another and it never ramps up. So the rows
// are split into four segments read in lockstep: four long sequential streams, which measured 2-3x
// faster here natively and in wasm. Each step of the loop shares one load of x between the four
// rows; two column blocks per row keep 8 sums in flight.
template <bool kAccumulate>
HWY_INLINE void MatVecImpl(const float* HWY_RESTRICT W, size_t rows, size_t cols, const float* HWY_RESTRICT x,
                           const float* HWY_RESTRICT bias, float* HWY_RESTRICT y) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  const size_t cols_vec = cols - cols % (2 * N);
  const size_t seg = rows / 4;
  auto finish = [&](size_t row, float s) {
    if (kAccumulate) {
      y[row] += s;
    } else {
      y[row] = bias ? s + bias[row] : s;
    }
  };
  for (size_t r = 0; r < seg; ++r) {
    const float* w0 = W + r * cols;
    const float* w1 = w0 + seg * cols;
    const float* w2 = w1 + seg * cols;
    const float* w3 = w2 + seg * cols;
    auto a0 = hn::Zero(d), a1 = hn::Zero(d), a2 = hn::Zero(d), a3 = hn::Zero(d);
    auto b0 = hn::Zero(d), b1 = hn::Zero(d), b2 = hn::Zero(d), b3 = hn::Zero(d);
    size_t c = 0;
#if HWY_TARGET == HWY_WASM
    // Four sums (eight and their operands need more registers than V8 allocates, 15: it spilled
    // sums, 3-12% slower), each step's two products of a row added before its sum: per row one
    // address computation (wasm's 32-bit addresses do not fold into x86's) per 8 columns, not 4.
    for (; c < cols_vec; c += 2 * N) {
      const auto xa = hn::LoadU(d, x + c), xb = hn::LoadU(d, x + c + N);
      a0 = hn::Add(a0, hn::MulAdd(hn::LoadU(d, w0 + c + N), xb, hn::Mul(hn::LoadU(d, w0 + c), xa)));
      a1 = hn::Add(a1, hn::MulAdd(hn::LoadU(d, w1 + c + N), xb, hn::Mul(hn::LoadU(d, w1 + c), xa)));
      a2 = hn::Add(a2, hn::MulAdd(hn::LoadU(d, w2 + c + N), xb, hn::Mul(hn::LoadU(d, w2 + c), xa)));
      a3 = hn::Add(a3, hn::MulAdd(hn::LoadU(d, w3 + c + N), xb, hn::Mul(hn::LoadU(d, w3 + c), xa)));
    }
#endif
    for (; c < cols_vec; c += 2 * N) {
      const auto xa = hn::LoadU(d, x + c);
      const auto xb = hn::LoadU(d, x + c + N);
      a0 = hn::MulAdd(hn::LoadU(d, w0 + c), xa, a0);
      a1 = hn::MulAdd(hn::LoadU(d, w1 + c), xa, a1);
      a2 = hn::MulAdd(hn::LoadU(d, w2 + c), xa, a2);
      a3 = hn::MulAdd(hn::LoadU(d, w3 + c), xa, a3);
      b0 = hn::MulAdd(hn::LoadU(d, w0 + c + N), xb, b0);
      b1 = hn::MulAdd(hn::LoadU(d, w1 + c + N), xb, b1);
      b2 = hn::MulAdd(hn::LoadU(d, w2 + c + N), xb, b2);
      b3 = hn::MulAdd(hn::LoadU(d, w3 + c + N), xb, b3);
    }
    float s0 = hn::GetLane(hn::SumOfLanes(d, hn::Add(a0, b0)));
    float s1 = hn::GetLane(hn::SumOfLanes(d, hn::Add(a1, b1)));
    float s2 = hn::GetLane(hn::SumOfLanes(d, hn::Add(a2, b2)));
    float s3 = hn::GetLane(hn::SumOfLanes(d, hn::Add(a3, b3)));
    for (; c < cols; ++c) {
      s0 += w0[c] * x[c];
      s1 += w1[c] * x[c];
      s2 += w2[c] * x[c];
      s3 += w3[c] * x[c];
    }
    finish(r, s0), finish(r + seg, s1), finish(r + 2 * seg, s2), finish(r + 3 * seg, s3);
  }
  size_t r = 4 * seg;
  for (; r < rows; ++r) {
    const float* w = W + r * cols;
    auto a = hn::Zero(d), b = hn::Zero(d);
    size_t c = 0;
    for (; c < cols_vec; c += 2 * N) {
      a = hn::MulAdd(hn::LoadU(d, w + c), hn::LoadU(d, x + c), a);
      b = hn::MulAdd(hn::LoadU(d, w + c + N), hn::LoadU(d, x + c + N), b);
    }
    float s = hn::GetLane(hn::SumOfLanes(d, hn::Add(a, b)));
    for (; c < cols; ++c) s += w[c] * x[c];
    finish(r, s);
  }
}

// Y = X W^T (+ bias). Blocks of 4 weight rows (about cols*16 bytes: L1-sized for transformer
// widths) are applied to every position, 2 positions at a time, so W streams from memory once and
// X stays in L2. Each position's four sums are reduced together (SumsOf4) and stored as one vector:
// with 8 per-row reductions, short rows (pixelcnn's 128-384 columns) spent a third of the time there.
HWY_NOINLINE void MatMul(const float* HWY_RESTRICT W, size_t rows, size_t cols, const float* HWY_RESTRICT X,
                         size_t x_stride, size_t n, const float* HWY_RESTRICT bias, float* HWY_RESTRICT Y) {
  size_t r = 0;
#if HWY_TARGET != HWY_SCALAR
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  const size_t cols_vec = cols - cols % N;
  const hn::CappedTag<float, 4> d4;
  // sums + the columns past the last full vector (+ bias), stored at y[0..3].
  auto finish = [&](auto sums, const float* w0, const float* x, float* y) {
    sums = AddColumnTails(d4, sums, w0, cols, x, cols_vec, cols);
    if (bias) sums = hn::Add(sums, hn::LoadU(d4, bias + r));
    hn::StoreU(sums, d4, y);
  };
  for (; r + 4 <= rows; r += 4) {
    const float* w0 = W + r * cols;
    const float* w1 = w0 + cols;
    const float* w2 = w1 + cols;
    const float* w3 = w2 + cols;
    size_t t = 0;
    for (; t + 2 <= n; t += 2) {
      const float* xa = X + t * x_stride;
      const float* xb = xa + x_stride;
      auto a0 = hn::Zero(d), a1 = hn::Zero(d), a2 = hn::Zero(d), a3 = hn::Zero(d);
      auto b0 = hn::Zero(d), b1 = hn::Zero(d), b2 = hn::Zero(d), b3 = hn::Zero(d);
      for (size_t c = 0; c < cols_vec; c += N) {
        const auto va = hn::LoadU(d, xa + c), vb = hn::LoadU(d, xb + c);
        const auto v0 = hn::LoadU(d, w0 + c), v1 = hn::LoadU(d, w1 + c), v2 = hn::LoadU(d, w2 + c), v3 = hn::LoadU(d, w3 + c);
        a0 = hn::MulAdd(v0, va, a0), a1 = hn::MulAdd(v1, va, a1), a2 = hn::MulAdd(v2, va, a2), a3 = hn::MulAdd(v3, va, a3);
        b0 = hn::MulAdd(v0, vb, b0), b1 = hn::MulAdd(v1, vb, b1), b2 = hn::MulAdd(v2, vb, b2), b3 = hn::MulAdd(v3, vb, b3);
      }
      finish(SumsOf4(d, a0, a1, a2, a3), w0, xa, Y + t * rows + r);
      finish(SumsOf4(d, b0, b1, b2, b3), w0, xb, Y + (t + 1) * rows + r);
    }
    if (t < n) {
      const float* xa = X + t * x_stride;
      auto a0 = hn::Zero(d), a1 = hn::Zero(d), a2 = hn::Zero(d), a3 = hn::Zero(d);
      for (size_t c = 0; c < cols_vec; c += N) {
        const auto va = hn::LoadU(d, xa + c);
        a0 = hn::MulAdd(hn::LoadU(d, w0 + c), va, a0), a1 = hn::MulAdd(hn::LoadU(d, w1 + c), va, a1);
        a2 = hn::MulAdd(hn::LoadU(d, w2 + c), va, a2), a3 = hn::MulAdd(hn::LoadU(d, w3 + c), va, a3);
      }
      finish(SumsOf4(d, a0, a1, a2, a3), w0, xa, Y + t * rows + r);
    }
  }
#endif
  for (; r < rows; ++r)
    for (size_t t = 0; t < n; ++t)
      Y[t * rows + r] = Dot(W + r * cols, X + t * x_stride, cols) + (bias ? bias[r] : 0.f);
}

HWY_NOINLINE void MatVec(const float* W, size_t rows, size_t cols, const float* x, const float* bias, float* y) {
  MatVecImpl<false>(W, rows, cols, x, bias, y);
}
HWY_NOINLINE void MatVecAcc(const float* W, size_t rows, size_t cols, const float* x, float* y) {
  MatVecImpl<true>(W, rows, cols, x, nullptr, y);
}

// y = W x (+ bias) or y += W x with W in row pairs (ops.h; rows and cols multiples of 8): the rows in
// four segments read in lockstep, as MatVecImpl, two rows of each segment per pointer. Each row's sum
// runs over its columns in order, as MatVecImpl's wasm loop adds them (8 sums in flight in wasm:
// with 128-bit vectors, the two halves of a block of 8 columns multiplied, added, then summed).
template <bool kAccumulate>
HWY_INLINE void MatVecPairsImpl(const float* HWY_RESTRICT P, size_t rows, size_t cols, const float* HWY_RESTRICT x,
                                const float* HWY_RESTRICT bias, float* HWY_RESTRICT y) {
  constexpr size_t B = ops::kPairCols;
  const hn::CappedTag<float, B / 2> d;
  const size_t N = hn::Lanes(d), seg = rows / 4;
  for (size_t r = 0; r < seg; r += 2) {
    const float* p0 = P + r * cols;
    const float* p1 = p0 + seg * cols;
    const float* p2 = p1 + seg * cols;
    const float* p3 = p2 + seg * cols;
    auto a0 = hn::Zero(d), a1 = hn::Zero(d), a2 = hn::Zero(d), a3 = hn::Zero(d);
    auto b0 = hn::Zero(d), b1 = hn::Zero(d), b2 = hn::Zero(d), b3 = hn::Zero(d);
    for (size_t c = 0; c < cols; c += B, p0 += 2 * B, p1 += 2 * B, p2 += 2 * B, p3 += 2 * B) {
      for (size_t v = 0; v < B; v += 2 * N) {  // once with 4 lanes
        const auto xa = hn::LoadU(d, x + c + v), xb = hn::LoadU(d, x + c + v + N);
        auto pair = [&](hn::Vec<decltype(d)>& a, hn::Vec<decltype(d)>& b, const float* p) {
          a = hn::Add(a, hn::MulAdd(hn::LoadU(d, p + v + N), xb, hn::Mul(hn::LoadU(d, p + v), xa)));
          b = hn::Add(b, hn::MulAdd(hn::LoadU(d, p + B + v + N), xb, hn::Mul(hn::LoadU(d, p + B + v), xa)));
        };
        pair(a0, b0, p0), pair(a1, b1, p1), pair(a2, b2, p2), pair(a3, b3, p3);
      }
    }
    auto finish = [&](size_t row, hn::Vec<decltype(d)> sum) {
      const float s = hn::GetLane(hn::SumOfLanes(d, sum));
      if (kAccumulate) {
        y[row] += s;
      } else {
        y[row] = bias ? s + bias[row] : s;
      }
    };
    finish(r, a0), finish(r + 1, b0), finish(r + seg, a1), finish(r + seg + 1, b1);
    finish(r + 2 * seg, a2), finish(r + 2 * seg + 1, b2), finish(r + 3 * seg, a3), finish(r + 3 * seg + 1, b3);
  }
}
HWY_NOINLINE void MatVecPairs(const float* P, size_t rows, size_t cols, const float* x, const float* bias, float* y) {
  MatVecPairsImpl<false>(P, rows, cols, x, bias, y);
}
HWY_NOINLINE void MatVecPairsAcc(const float* P, size_t rows, size_t cols, const float* x, float* y) {
  MatVecPairsImpl<true>(P, rows, cols, x, nullptr, y);
}

// y = W x (+ bias) or y += W x with W in panels of kPanelRows rows (ops.h): per panel, 32 sums
// in 32 / lanes vectors, each column one broadcast of x[c] and per vector one load (one pointer,
// constant offsets) and one multiply-add. Each sum runs over the columns in order. (The int8 panel
// kernel below stores its sums with the same code: one helper for both made V8 spill a sum in this
// loop, wavenet-20's wasm float32 steps 0.8x.)
template <bool kAccumulate>
HWY_INLINE void MatVecPanelsImpl(const float* HWY_RESTRICT P, size_t rows, size_t cols, const float* HWY_RESTRICT x,
                                 const float* HWY_RESTRICT bias, float* HWY_RESTRICT y) {
  constexpr size_t kRows = ops::kPanelRows;
  const hn::CappedTag<float, kRows> d;
  constexpr size_t N = hn::MaxLanes(d), V = kRows / N;
  static_assert(V * N == kRows, "a panel is whole vectors");
  for (size_t r0 = 0; r0 < rows; r0 += kRows, P += kRows * cols) {
    hn::Vec<decltype(d)> acc[V];
    for (size_t k = 0; k < V; ++k) acc[k] = hn::Zero(d);
    const float* p = P;
    for (size_t c = 0; c < cols; ++c, p += kRows) {
      const auto xc = hn::Set(d, x[c]);
      for (size_t k = 0; k < V; ++k) acc[k] = hn::MulAdd(hn::LoadU(d, p + k * N), xc, acc[k]);
    }
    float* yr = y + r0;
    if (rows - r0 >= kRows) {
      for (size_t k = 0; k < V; ++k) {
        auto v = acc[k];
        if (kAccumulate) {
          v = hn::Add(hn::LoadU(d, yr + k * N), v);
        } else if (bias) {
          v = hn::Add(v, hn::LoadU(d, bias + r0 + k * N));
        }
        hn::StoreU(v, d, yr + k * N);
      }
    } else {  // the last panel's rows that exist
      HWY_ALIGN float t[kRows];
      for (size_t k = 0; k < V; ++k) hn::Store(acc[k], d, t + k * N);
      for (size_t i = 0; i < rows - r0; ++i) {
        if (kAccumulate) {
          yr[i] += t[i];
        } else {
          yr[i] = bias ? t[i] + bias[r0 + i] : t[i];
        }
      }
    }
  }
}
HWY_NOINLINE void MatVecPanels(const float* P, size_t rows, size_t cols, const float* x, const float* bias, float* y) {
  MatVecPanelsImpl<false>(P, rows, cols, x, bias, y);
}
HWY_NOINLINE void MatVecPanelsAcc(const float* P, size_t rows, size_t cols, const float* x, float* y) {
  MatVecPanelsImpl<true>(P, rows, cols, x, nullptr, y);
}

// Calls f(std::integral_constant<size_t, p>(), t) for positions t .. t + p - 1, in blocks of P (the
// last one p <= P): the matmul kernels below, compiled for each block size.
template <size_t P, class F>
HWY_INLINE void PositionBlock(size_t p, size_t t, const F& f) {
  if constexpr (P > 1) {
    if (p < P) return PositionBlock<P - 1>(p, t, f);
  }
  f(std::integral_constant<size_t, P>(), t);
}
template <size_t P, class F>
HWY_INLINE void ForPositionBlocks(size_t n, const F& f) {
  for (size_t t = 0; t < n; t += P) PositionBlock<P>(std::min(P, n - t), t, f);
}

// Y = X W^T (+ bias), W in panels. A pass holds two vectors of a panel's rows for P positions in
// 2P sums: per column two loads of weights and P broadcasts of x feed 2P multiply-adds, where the
// row-major MatMul spends six loads on eight and sums each row horizontally. P = 6 with FMA (12 sums,
// 15 of 16 registers); 4 without (a multiply-add is a multiply and an add; V8 spilled at 9 sums).
// Each sum runs over the columns in order: a position's outputs do not depend on which positions
// share its pass, so threads may split the positions anywhere.
template <size_t P>
HWY_INLINE void MatMulPanelsPass(const float* HWY_RESTRICT panel, size_t rows_left, size_t cols,
                                 const float* HWY_RESTRICT X, size_t x_stride, const float* HWY_RESTRICT bias,
                                 float* HWY_RESTRICT Y, size_t rows) {
  const hn::ScalableTag<float> d;
  constexpr size_t N = hn::MaxLanes(d), kRows = ops::kPanelRows;
  static_assert(kRows % (2 * N) == 0, "a panel is whole passes");
  for (size_t h = 0; h < rows_left; h += 2 * N) {
    hn::Vec<decltype(d)> a[P], b[P];
    for (size_t p = 0; p < P; ++p) a[p] = hn::Zero(d), b[p] = hn::Zero(d);
    const float* w = panel + h;
    for (size_t c = 0; c < cols; ++c, w += kRows) {
      const auto w0 = hn::LoadU(d, w), w1 = hn::LoadU(d, w + N);
      for (size_t p = 0; p < P; ++p) {
        const auto xp = hn::Set(d, X[p * x_stride + c]);
        a[p] = hn::MulAdd(w0, xp, a[p]);
        b[p] = hn::MulAdd(w1, xp, b[p]);
      }
    }
    for (size_t p = 0; p < P; ++p) {
      float* y = Y + p * rows + h;
      if (rows_left - h >= 2 * N) {
        if (bias) a[p] = hn::Add(a[p], hn::LoadU(d, bias + h)), b[p] = hn::Add(b[p], hn::LoadU(d, bias + h + N));
        hn::StoreU(a[p], d, y);
        hn::StoreU(b[p], d, y + N);
      } else {  // the last panel's rows that exist
        HWY_ALIGN float t[2 * N];
        hn::Store(a[p], d, t);
        hn::Store(b[p], d, t + N);
        for (size_t i = 0; i < rows_left - h; ++i) y[i] = bias ? t[i] + bias[h + i] : t[i];
      }
    }
  }
}
HWY_NOINLINE void MatMulPanels(const float* HWY_RESTRICT panels, size_t rows, size_t cols, const float* HWY_RESTRICT X,
                               size_t x_stride, size_t n, const float* HWY_RESTRICT bias, float* HWY_RESTRICT Y) {
  constexpr size_t kRows = ops::kPanelRows;
  ForPositionBlocks<HWY_NATIVE_FMA ? 6 : 4>(n, [&](auto p, size_t t) {
    for (size_t r = 0; r < rows; r += kRows)
      MatMulPanelsPass<decltype(p)::value>(panels + r * cols, std::min(kRows, rows - r), cols, X + t * x_stride,
                                           x_stride, bias ? bias + r : nullptr, Y + t * rows + r, rows);
  });
}

// Applies f(d, v) over x in place; the tail runs the same code on single-lane vectors so every
// element gets bit-identical treatment whatever n is.
template <class F>
HWY_INLINE void MapInPlace(float* HWY_RESTRICT x, size_t n, F f) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  size_t i = 0;
  for (; i + N <= n; i += N) hn::StoreU(f(d, hn::LoadU(d, x + i)), d, x + i);
  const hn::CappedTag<float, 1> d1;
  for (; i < n; ++i) hn::StoreU(f(d1, hn::LoadU(d1, x + i)), d1, x + i);
}

template <class F>
HWY_INLINE void Map2(const float* a, const float* b, float* out, size_t n, F f) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  size_t i = 0;
  for (; i + N <= n; i += N) hn::StoreU(f(hn::LoadU(d, a + i), hn::LoadU(d, b + i)), d, out + i);
  const hn::CappedTag<float, 1> d1;
  for (; i < n; ++i) hn::StoreU(f(hn::LoadU(d1, a + i), hn::LoadU(d1, b + i)), d1, out + i);
}

HWY_NOINLINE void Add(const float* a, const float* b, float* out, size_t n) {
  Map2(a, b, out, n, [](auto va, auto vb) HWY_ATTR { return hn::Add(va, vb); });
}
HWY_NOINLINE void Mul(const float* a, const float* b, float* out, size_t n) {
  Map2(a, b, out, n, [](auto va, auto vb) HWY_ATTR { return hn::Mul(va, vb); });
}

// a * b + c rounded twice, as WASM SIMD (which has no fused multiply-add) computes it: elementwise
// functions built from it give bit-identical results natively and in wasm, so the same seed
// samples the same tokens on both.
template <class V>
HWY_INLINE V MulAddUnfused(V a, V b, V c) {
  return hn::Add(hn::Mul(a, b), c);
}

// tanh(x) as a rational function, x times a degree-12 polynomial in x^2 over a degree-6 one (the
// coefficients of Eigen's float tanh), on x clamped to +-7.905, past which tanh rounds to +-1:
// max error 3.4e-7 (tests/native/test_ops.cc). Only multiplies, adds, a divide and a clamp: cheap
// on every SIMD target. (Highway's Tanh goes through Exp, whose float <-> int conversions V8
// lowers to long sequences: a gate of 64 units took 0.8 us in wasm, 4x native.)
// TanhRational(x) as num / den, undivided (x clamped as there).
template <class D, class V>
HWY_INLINE void TanhRationalParts(D d, V x, V& num, V& den) {
  const auto c = hn::Set(d, 7.90531110763549805f);
  x = hn::Min(hn::Max(x, hn::Neg(c)), c);
  const auto x2 = hn::Mul(x, x);
  auto p = hn::Set(d, -2.76076847742355e-16f);
  p = MulAddUnfused(p, x2, hn::Set(d, 2.00018790482477e-13f));
  p = MulAddUnfused(p, x2, hn::Set(d, -8.60467152213735e-11f));
  p = MulAddUnfused(p, x2, hn::Set(d, 5.12229709037114e-08f));
  p = MulAddUnfused(p, x2, hn::Set(d, 1.48572235717979e-05f));
  p = MulAddUnfused(p, x2, hn::Set(d, 6.37261928875436e-04f));
  p = MulAddUnfused(p, x2, hn::Set(d, 4.89352455891786e-03f));
  auto q = hn::Set(d, 1.19825839466702e-06f);
  q = MulAddUnfused(q, x2, hn::Set(d, 1.18534705686654e-04f));
  q = MulAddUnfused(q, x2, hn::Set(d, 2.26843463243900e-03f));
  q = MulAddUnfused(q, x2, hn::Set(d, 4.89352518554385e-03f));
  num = hn::Mul(x, p);
  den = q;
}
template <class D, class V>
HWY_INLINE V TanhRational(D d, V x) {
  V num, den;
  TanhRationalParts(d, x, num, den);
  return hn::Div(num, den);
}

// exp(x) from multiplies, adds and an integer add, each rounded on its own (MulAddUnfused): the same
// bits natively and in wasm, so a sampler built on it draws the same tokens on both. x = n ln2 + r
// with n = round(x log2 e) (adding 1.5 * 2^23 leaves n in the low mantissa bits: no float <-> int
// conversion, which V8 lowers to long sequences), then Cephes' expf polynomial for e^r and n added
// to its exponent. Max error ~1 ulp (tests/native/test_ops.cc); results below FLT_MIN (x < -87.34)
// are 0, above FLT_MAX inf; NaN stays NaN.
template <class D, class V>
HWY_INLINE V ExpPortable(D d, V x) {
  const hn::RebindToSigned<D> di;
  const auto lo = hn::Set(d, -87.33654f), hi = hn::Set(d, 88.72283f);
  const auto xc = hn::Min(hn::Max(x, lo), hi);
  const auto magic = hn::Set(d, 12582912.0f);  // 1.5 * 2^23
  const auto t = hn::Add(hn::Mul(xc, hn::Set(d, 1.44269504088896341f)), magic);
  const auto n = hn::Sub(t, magic);
  auto r = hn::Sub(xc, hn::Mul(n, hn::Set(d, 0.693359375f)));  // exact: 0.693359375 has 9 bits
  r = hn::Sub(r, hn::Mul(n, hn::Set(d, -2.12194440e-4f)));
  auto p = hn::Set(d, 1.9875691500e-4f);
  p = MulAddUnfused(p, r, hn::Set(d, 1.3981999507e-3f));
  p = MulAddUnfused(p, r, hn::Set(d, 8.3334519073e-3f));
  p = MulAddUnfused(p, r, hn::Set(d, 4.1665795894e-2f));
  p = MulAddUnfused(p, r, hn::Set(d, 1.6666665459e-1f));
  p = MulAddUnfused(p, r, hn::Set(d, 5.0000001201e-1f));
  p = hn::Add(MulAddUnfused(p, hn::Mul(r, r), r), hn::Set(d, 1.0f));
  const auto e = hn::ShiftLeft<23>(hn::Sub(hn::BitCast(di, t), hn::BitCast(di, magic)));
  auto y = hn::BitCast(d, hn::Add(hn::BitCast(di, p), e));
  y = hn::IfThenZeroElse(hn::Lt(x, lo), y);
  y = hn::IfThenElse(hn::Gt(x, hi), hn::Set(d, std::numeric_limits<float>::infinity()), y);
  return hn::IfThenElse(hn::Eq(x, x), y, x);
}

HWY_NOINLINE void Exp(float* x, size_t n) {
  MapInPlace(x, n, [](auto d, auto v) HWY_ATTR { return ExpPortable(d, v); });
}

// sigmoid(x) = (1 + tanh(x / 2)) / 2: absolute error under 2e-7 (relative error grows for x below
// about -15, where sigmoid is below 3e-7).
template <class D, class V>
HWY_INLINE V SigmoidRational(D d, V x) {
  const auto half = hn::Set(d, 0.5f);
  return MulAddUnfused(TanhRational(d, hn::Mul(x, half)), half, half);
}

HWY_NOINLINE void Tanh(float* x, size_t n) {
  MapInPlace(x, n, [](auto d, auto v) HWY_ATTR { return TanhRational(d, v); });
}

// out = tanh(a) * sigmoid(b), the gated activation of WaveNet and PixelCNN, in one pass. With
// tanh(a) = na / da and sigmoid(b) = (1 + nb / db) / 2 (TanhRational of b / 2), the product is
// na (db + nb) / (2 da db): one division where the two functions take one each (512-bit divisions
// issue one per ~16 cycles natively).
HWY_NOINLINE void TanhSigmoidGate(const float* a, const float* b, float* out, size_t n) {
  Map2(a, b, out, n, [](auto va, auto vb) HWY_ATTR {
    const hn::DFromV<decltype(va)> d;
    const auto half = hn::Set(d, 0.5f);
    hn::Vec<decltype(d)> na, da, nb, db;
    TanhRationalParts(d, va, na, da);
    TanhRationalParts(d, hn::Mul(vb, half), nb, db);
    return hn::Div(hn::Mul(hn::Mul(na, hn::Add(db, nb)), half), hn::Mul(da, db));
  });
}

// 1 + exp(-x), the denominator of sigmoid and silu. The clamp keeps Exp finite; sigmoid is 0 or 1
// in float beyond +-88 anyway.
template <class D, class V>
HWY_INLINE V OnePlusExpNeg(D d, V v) {
  const auto c = hn::Min(hn::Max(v, hn::Set(d, -88.f)), hn::Set(d, 88.f));
  return hn::Add(hn::Set(d, 1.f), ExpPortable(d, hn::Neg(c)));
}

HWY_NOINLINE void Sigmoid(float* x, size_t n) {
  MapInPlace(x, n, [](auto d, auto v) HWY_ATTR { return SigmoidRational(d, v); });
}

HWY_NOINLINE void Relu(float* x, size_t n) {
  MapInPlace(x, n, [](auto d, auto v) HWY_ATTR { return hn::Max(v, hn::Zero(d)); });
}

// x * sigmoid(x), for SwiGLU.
HWY_NOINLINE void Silu(float* x, size_t n) {
  MapInPlace(x, n, [](auto d, auto v) HWY_ATTR { return hn::Div(v, OnePlusExpNeg(d, v)); });
}

// GELU, tanh approximation: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
HWY_NOINLINE void GeluTanh(float* x, size_t n) {
  MapInPlace(x, n, [](auto d, auto v) HWY_ATTR {
    const auto inner = hn::Mul(hn::Set(d, 0.7978845608028654f), hn::MulAdd(hn::Mul(hn::Set(d, 0.044715f), v), hn::Mul(v, v), v));
    const auto t = TanhRational(d, inner);
    return hn::Mul(hn::Mul(hn::Set(d, 0.5f), v), hn::Add(hn::Set(d, 1.f), t));
  });
}

// out = x / sqrt(mean(x^2) + eps) * w
HWY_NOINLINE void RmsNorm(const float* HWY_RESTRICT x, const float* HWY_RESTRICT w, float eps, float* out, size_t n) {
  const float scale = 1.f / std::sqrt(Dot(x, x, n) / float(n) + eps);
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  size_t i = 0;
  for (; i + N <= n; i += N) hn::StoreU(hn::Mul(hn::Mul(hn::LoadU(d, x + i), hn::Set(d, scale)), hn::LoadU(d, w + i)), d, out + i);
  for (; i < n; ++i) out[i] = x[i] * scale * w[i];
}

// out = (x - mean) / sqrt(var + eps) * w + b (b may be null)
HWY_NOINLINE void LayerNorm(const float* HWY_RESTRICT x, const float* HWY_RESTRICT w, const float* HWY_RESTRICT b, float eps,
                            float* out, size_t n) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  auto acc = hn::Zero(d);
  size_t i = 0;
  for (; i + N <= n; i += N) acc = hn::Add(acc, hn::LoadU(d, x + i));
  float sum = hn::GetLane(hn::SumOfLanes(d, acc));
  for (; i < n; ++i) sum += x[i];
  const float mean = sum / float(n);
  auto vacc = hn::Zero(d);
  const auto vm = hn::Set(d, mean);
  for (i = 0; i + N <= n; i += N) {
    const auto c = hn::Sub(hn::LoadU(d, x + i), vm);
    vacc = hn::MulAdd(c, c, vacc);
  }
  float var = hn::GetLane(hn::SumOfLanes(d, vacc));
  for (; i < n; ++i) var += (x[i] - mean) * (x[i] - mean);
  const float scale = 1.f / std::sqrt(var / float(n) + eps);
  for (i = 0; i + N <= n; i += N) {
    auto v = hn::Mul(hn::Mul(hn::Sub(hn::LoadU(d, x + i), vm), hn::Set(d, scale)), hn::LoadU(d, w + i));
    if (b) v = hn::Add(v, hn::LoadU(d, b + i));
    hn::StoreU(v, d, out + i);
  }
  for (; i < n; ++i) out[i] = (x[i] - mean) * scale * w[i] + (b ? b[i] : 0.f);
}

// Max over x, ignoring NaN; -inf if all are NaN.
HWY_INLINE float MaxOf(const float* HWY_RESTRICT x, size_t n) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  const float ninf = -std::numeric_limits<float>::infinity();
  const auto vninf = hn::Set(d, ninf);
  auto max_of = [&](auto m, size_t i) {
    const auto v = hn::LoadU(d, x + i);
    return hn::Max(m, hn::IfThenElse(hn::Eq(v, v), v, vninf));
  };
  // Four maxima in flight: one chain of Max is bound by its latency.
  auto m0 = vninf, m1 = vninf, m2 = vninf, m3 = vninf;
  size_t i = 0;
  for (; i + 4 * N <= n; i += 4 * N) {
    m0 = max_of(m0, i);
    m1 = max_of(m1, i + N);
    m2 = max_of(m2, i + 2 * N);
    m3 = max_of(m3, i + 3 * N);
  }
  for (; i + N <= n; i += N) m0 = max_of(m0, i);
  float r = hn::GetLane(hn::MaxOfLanes(d, hn::Max(hn::Max(m0, m1), hn::Max(m2, m3))));
  for (; i < n; ++i)
    if (x[i] > r) r = x[i];
  return r;
}

// Sum of exp(x - m).
HWY_INLINE float SumExp(const float* HWY_RESTRICT x, size_t n, float m) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  const auto vm = hn::Set(d, m);
  auto s = hn::Zero(d);
  size_t i = 0;
  for (; i + N <= n; i += N) s = hn::Add(s, ExpPortable(d, hn::Sub(hn::LoadU(d, x + i), vm)));
  float r = hn::GetLane(hn::SumOfLanes(d, s));
  const hn::CappedTag<float, 1> d1;
  for (; i < n; ++i) r += hn::GetLane(ExpPortable(d1, hn::Set(d1, x[i] - m)));
  return r;
}

HWY_NOINLINE void Softmax(float* x, size_t n) {
  const float m = MaxOf(x, n);
  MapInPlace(x, n, [m](auto d, auto v) HWY_ATTR { return ExpPortable(d, hn::Sub(v, hn::Set(d, m))); });
  // Four partial sums (one chain of adds is bound by its latency), in an order that does not
  // depend on the lane count: the same bits on every target.
  float s4[4] = {0.f, 0.f, 0.f, 0.f};
  size_t i = 0;
  for (; i + 4 <= n; i += 4)
    for (size_t k = 0; k < 4; ++k) s4[k] += x[i + k];
  for (; i < n; ++i) s4[0] += x[i];
  const float inv = 1.f / ((s4[0] + s4[1]) + (s4[2] + s4[3]));
  MapInPlace(x, n, [inv](auto d, auto v) HWY_ATTR { return hn::Mul(v, hn::Set(d, inv)); });
}

HWY_NOINLINE float LogSumExp(const float* x, size_t n) {
  const float m = MaxOf(x, n);
  return m + std::log(SumExp(x, n, m));
}

HWY_NOINLINE void LogSoftmax(const float* x, float* out, size_t n) {
  const float l = LogSumExp(x, n);
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  size_t i = 0;
  for (; i + N <= n; i += N) hn::StoreU(hn::Sub(hn::LoadU(d, x + i), hn::Set(d, l)), d, out + i);
  for (; i < n; ++i) out[i] = x[i] - l;
}

// Index of the first NaN in x, n if there is none.
HWY_NOINLINE size_t FindNaN(const float* x, size_t n) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  size_t i = 0;
  for (; i + N <= n; i += N) {
    const auto v = hn::LoadU(d, x + i);
    if (!hn::AllFalse(d, hn::IsNaN(v))) break;
  }
  for (; i < n; ++i)
    if (std::isnan(x[i])) return i;
  return n;
}

HWY_NOINLINE size_t ArgMax(const float* x, size_t n) {
  const float m = MaxOf(x, n);
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  const auto vm = hn::Set(d, m);
  size_t i = 0;
  for (; i + N <= n; i += N) {
    const intptr_t k = hn::FindFirstTrue(d, hn::Eq(hn::LoadU(d, x + i), vm));
    if (k >= 0) return i + size_t(k);
  }
  for (; i < n; ++i)
    if (x[i] == m) return i;
  return 0;  // all NaN
}

// y = scale * (W8 x) + bias, W8 int8 [rows x cols] with one scale per row: a quarter of the bytes
// of float32 weights. Each group of lanes is widened int8 -> int32 -> float and multiply-added into
// two float accumulators per row. Exact in x; the widening costs three instructions per lane group.
HWY_NOINLINE void MatVecQ8(const int8_t* HWY_RESTRICT W, const float* HWY_RESTRICT scale, size_t rows, size_t cols,
                           const float* HWY_RESTRICT x, const float* HWY_RESTRICT bias, float* HWY_RESTRICT y) {
  const hn::ScalableTag<float> df;
  const hn::Rebind<int32_t, decltype(df)> di32;
  const hn::Rebind<int8_t, decltype(df)> di8;
  const size_t N = hn::Lanes(df);
  const size_t cols_vec = cols - cols % (2 * N);
  for (size_t r = 0; r < rows; ++r) {
    const int8_t* w = W + r * cols;
    auto a0 = hn::Zero(df), a1 = hn::Zero(df);
    size_t c = 0;
    for (; c < cols_vec; c += 2 * N) {
      const auto w0 = hn::ConvertTo(df, hn::PromoteTo(di32, hn::LoadU(di8, w + c)));
      const auto w1 = hn::ConvertTo(df, hn::PromoteTo(di32, hn::LoadU(di8, w + c + N)));
      a0 = hn::MulAdd(w0, hn::LoadU(df, x + c), a0);
      a1 = hn::MulAdd(w1, hn::LoadU(df, x + c + N), a1);
    }
    float s = hn::GetLane(hn::SumOfLanes(df, hn::Add(a0, a1)));
    for (; c < cols; ++c) s += float(w[c]) * x[c];
    y[r] = s * scale[r] + (bias ? bias[r] : 0.0f);
  }
}

// Attention of one position's H query heads over n cached positions. Row t of K and of V holds
// position t's KV heads side by side (KV * hd floats); query head h reads KV head h / (H / KV).
// p[h * p_stride + t]: the probabilities; out[h * hd + c]. Each step's weights evict the cache, so
// it is mostly read back from DRAM, and there what counts is reading it in address order, one
// stream the prefetcher follows: blocks of four rows, every head of a block before the next block.
// Reading heads over longer blocks of rows (each row's 1 KB+ visited a few lines at a time)
// measured 1.5-1.75x slower per pass in wasm and 1.2-1.3x natively with the cache evicted (equal to
// 1.15x faster with it warm). Scores: each (row, head) dot product leaves a vector of partial sums;
// those of four rows are reduced together (SumsOf4), at most 8 heads at a time (a small stack
// buffer). Values: each head's output is loaded and stored once per four rows, which it takes in
// order (the same sums as row by row). Query head h's KV head is counted along, not divided out
// (an integer division per row and head was a third of the time natively).
// `row`: floats from one position's row of K (and V) to the next, KV * hd or more (a thread's share
// of the KV heads, ops::attention).
HWY_NOINLINE void Attention(const float* HWY_RESTRICT q, const float* HWY_RESTRICT K, const float* HWY_RESTRICT V,
                            size_t row, size_t n, size_t H, size_t KV, size_t hd, float scale, float* HWY_RESTRICT p,
                            size_t p_stride, float* HWY_RESTRICT out) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  const size_t group = H / KV, hd_vec = hd - hd % N;
  size_t t = 0;
#if HWY_TARGET != HWY_SCALAR
  constexpr size_t kHeads = 8;
  HWY_ALIGN_MAX float part[4 * kHeads * HWY_MAX_BYTES / sizeof(float)];
  const hn::CappedTag<float, 4> d4;
  const auto vscale = hn::Set(d4, scale);
  for (; t + 4 <= n; t += 4) {
    for (size_t h0 = 0; h0 < H; h0 += kHeads) {
      const size_t h1 = std::min(H, h0 + kHeads);
      size_t k_off[kHeads];  // each head's KV head within a row, counted along
      for (size_t h = h0, kv = h0 / group, g = h0 % group; h < h1; ++h) {
        k_off[h - h0] = kv * hd;
        if (++g == group) g = 0, ++kv;
      }
      for (size_t r = 0; r < 4; ++r)
        for (size_t h = h0; h < h1; ++h)
          hn::Store(DotLanes(d, K + (t + r) * row + k_off[h - h0], q + h * hd, hd_vec), d,
                    part + (r * kHeads + (h - h0)) * N);
      for (size_t h = h0; h < h1; ++h) {
        const float* ph = part + (h - h0) * N;
        const auto sums = SumsOf4(d, hn::Load(d, ph), hn::Load(d, ph + kHeads * N), hn::Load(d, ph + 2 * kHeads * N),
                                  hn::Load(d, ph + 3 * kHeads * N));
        const float* k0 = K + t * row + k_off[h - h0];
        hn::StoreU(hn::Mul(AddColumnTails(d4, sums, k0, row, q + h * hd, hd_vec, hd), vscale), d4, p + h * p_stride + t);
      }
    }
  }
#endif
  for (; t < n; ++t)
    for (size_t h = 0; h < H; ++h) p[h * p_stride + t] = Dot(K + t * row + (h / group) * hd, q + h * hd, hd) * scale;
  for (size_t h = 0; h < H; ++h) Softmax(p + h * p_stride, n);
  // out += p V in blocks of four rows (see above): out (H * hd floats) stays in L1.
  std::fill(out, out + H * hd, 0.f);
  for (size_t u = 0; u < n; u += 4) {
    const size_t rows = std::min<size_t>(4, n - u);
    for (size_t kv = 0, h = 0; kv < KV; ++kv) {
      const float* vh = V + u * row + kv * hd;
      for (size_t g = 0; g < group; ++g, ++h) {
        const float* ph = p + h * p_stride + u;
        float* oh = out + h * hd;
        if (rows == 4) {
          const auto p0 = hn::Set(d, ph[0]), p1 = hn::Set(d, ph[1]), p2 = hn::Set(d, ph[2]), p3 = hn::Set(d, ph[3]);
          for (size_t c = 0; c < hd_vec; c += N) {
            auto o = hn::MulAdd(p0, hn::LoadU(d, vh + c), hn::LoadU(d, oh + c));
            o = hn::MulAdd(p1, hn::LoadU(d, vh + row + c), o);
            o = hn::MulAdd(p2, hn::LoadU(d, vh + 2 * row + c), o);
            hn::StoreU(hn::MulAdd(p3, hn::LoadU(d, vh + 3 * row + c), o), d, oh + c);
          }
        } else {
          for (size_t r = 0; r < rows; ++r) {
            const auto vp = hn::Set(d, ph[r]);
            for (size_t c = 0; c < hd_vec; c += N)
              hn::StoreU(hn::MulAdd(vp, hn::LoadU(d, vh + r * row + c), hn::LoadU(d, oh + c)), d, oh + c);
          }
        }
        for (size_t c = hd_vec; c < hd; ++c)
          for (size_t r = 0; r < rows; ++r) oh[c] += ph[r] * vh[r * row + c];
      }
    }
  }
}

// Eight int8 weights widened to int16 lanes. In wasm one i16x8.load8x8_s: V8 turns Highway's load
// of 8 bytes and widening into a load and a separate vpmovsxbw.
template <class D16>
HWY_INLINE hn::Vec<D16> LoadWiden8(D16 d16, const int8_t* HWY_RESTRICT p) {
#if HWY_TARGET == HWY_WASM
  static_assert(hn::MaxLanes(d16) == 8, "a full vector of int16");
  (void)d16;
  return hn::Vec<D16>{wasm_i16x8_load8x8(p)};
#else
  return hn::PromoteTo(d16, hn::LoadU(hn::Rebind<int8_t, D16>(), p));
#endif
}

#if HWY_TARGET == HWY_AVX2 || HWY_TARGET == HWY_AVX3_DL
// x's first n values (int8 in int16 lanes) as bytes, zeros up to padded, for the byte multiplies
// of unsigned by signed bytes. AVX2 (vpmaddubsw): |x| (`abs`) by the weights, x's sign moved onto
// them by vpsignb (`sign`: x itself). AVX3_DL (vpdpbusd): the weights + 128 as unsigned bytes by x
// (`sign`), which adds 128 `sum` (of x) to every row's sum. Each target makes only what it reads
// (abs: AVX2, sum: AVX3_DL). In a per-thread buffer that only grows (valid until this thread's
// next call).
struct XBytes {
  const int8_t* sign;
  const int8_t* abs;
  int32_t sum;
};
HWY_INLINE XBytes SignAndAbsBytes(const int16_t* HWY_RESTRICT xq, size_t n, size_t padded) {
  constexpr bool kAbs = HWY_TARGET == HWY_AVX2;
  thread_local std::vector<int8_t> buffer;
  if (buffer.size() < (kAbs ? 2 : 1) * padded) buffer.resize((kAbs ? 2 : 1) * padded);
  int8_t* HWY_RESTRICT sign = buffer.data();
  int8_t* HWY_RESTRICT abs = kAbs ? buffer.data() + padded : nullptr;
  const hn::ScalableTag<int16_t> d16;
  const hn::Rebind<int8_t, decltype(d16)> d8;
  const hn::Repartition<int32_t, decltype(d16)> d32;
  auto sum = hn::Zero(d32), sum_odd = hn::Zero(d32);
  size_t c = 0;
  for (; c + hn::Lanes(d16) <= n; c += hn::Lanes(d16)) {
    const auto v = hn::LoadU(d16, xq + c);
    hn::StoreU(hn::DemoteTo(d8, v), d8, sign + c);
    if constexpr (kAbs) {
      hn::StoreU(hn::DemoteTo(d8, hn::Abs(v)), d8, abs + c);
    } else {
      sum = hn::ReorderWidenMulAccumulate(d32, v, hn::Set(d16, int16_t(1)), sum, sum_odd);
    }
  }
  int32_t total = kAbs ? 0 : hn::GetLane(hn::SumOfLanes(d32, hn::RearrangeToOddPlusEven(sum, sum_odd)));
  for (; c < padded; ++c) {
    const int16_t v = c < n ? xq[c] : 0;
    sign[c] = int8_t(v);
    if constexpr (kAbs) {
      abs[c] = int8_t(v < 0 ? -v : v);
    } else {
      total += v;
    }
  }
  return {sign, abs, total};
}
#endif

#if HWY_TARGET == HWY_AVX3_DL
// acc + the products of u's unsigned bytes and s's signed bytes, four to each 32-bit lane, added
// without saturation (vpdpbusd, AVX512-VNNI: one instruction where AVX2 spends four on 32 bytes).
// Written as assembly: Highway 1.0.3's AVX3_DL target enables avxvnni, not avx512vnni, which the
// 512-bit form needs; its dispatch picks AVX3_DL only on CPUs with AVX512-VNNI.
HWY_INLINE __m512i DotBytes(__m512i acc, __m512i u, __m512i s) {
  asm("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(u), "v"(s));
  return acc;
}
HWY_INLINE __m512i LoadBytes(const void* p) { return _mm512_loadu_si512(p); }

// x's first n values (int8 in int16 lanes) + 128 as unsigned bytes, 128 (x = 0) up to padded, for
// vpdpbusd by int8 panels as they are (ops.h: kPanelSumsQ8). In a per-thread buffer that only
// grows (valid until this thread's next call), or into `out` when given.
HWY_INLINE const uint8_t* OffsetBytes(const int16_t* HWY_RESTRICT xq, size_t n, size_t padded,
                                      uint8_t* HWY_RESTRICT out = nullptr) {
  thread_local std::vector<uint8_t> buffer;
  if (!out) {
    if (buffer.size() < padded) buffer.resize(padded);
    out = buffer.data();
  }
  const hn::ScalableTag<int16_t> d16;
  const hn::Rebind<int8_t, decltype(d16)> d8;
  const auto flip = hn::Set(d8, int8_t(-128));
  size_t c = 0;
  for (; c + hn::Lanes(d16) <= n; c += hn::Lanes(d16))
    hn::StoreU(hn::Xor(hn::DemoteTo(d8, hn::LoadU(d16, xq + c)), flip), d8, reinterpret_cast<int8_t*>(out) + c);
  for (; c < padded; ++c) out[c] = uint8_t((c < n ? xq[c] : 0) + 128);
  return out;
}
#endif

// -128 sum, what weights stored + 128 add to a row's sum (sum: of the x values they multiply),
// modulo 2^32 as the sums wrap.
HWY_INLINE int32_t MinusOffset(int32_t sum) { return int32_t(0u - 128u * uint32_t(sum)); }

#if HWY_TARGET == HWY_WASM
// x's first n values (int8 in int16 lanes; zeros up to padded, even) as the wasm int8 kernels read
// them: the weights' even columns in offset form (ops.h: q + 128 as a byte, the sign bit flipped),
// so a row's column pair read as one int16 lane is v = 256 hi + lo + 128, and with hi = v >> 8
// (arithmetic)
//   hi x[2k+1] + lo x[2k] = hi diff[k] + v even[k] - 128 x[2k],
// diff[k] = x[2k+1] - 256 x[2k] (within +-32639), even[k] = x[2k]: per 16 weights a load, a shift
// and two pairwise multiply-adds (i32x4.dot_i16x8_s), no widening (i16x8.load8x8_s, a shuffle on
// one port of x86 cores). `offset` = -128 sum(x[2k]) starts each row's sum. Partial sums may wrap
// in int32, the total does not (|sum| <= 127 * 127 * cols), and wrapping adds are exact mod 2^32.
// In a per-thread buffer that only grows (diff then even, padded / 2 each; valid until this
// thread's next call), or in `out` (padded values) when given.
struct XPairs {
  const int16_t* diff;
  const int16_t* even;
  int32_t offset;
};
HWY_INLINE XPairs ColumnPairs(const int16_t* HWY_RESTRICT xq, size_t n, size_t padded, int16_t* out = nullptr) {
  const size_t pairs = padded / 2;
  thread_local std::vector<int16_t> buffer;
  if (!out && buffer.size() < 2 * pairs) buffer.resize(2 * pairs);
  int16_t* HWY_RESTRICT diff = out ? out : buffer.data();
  int16_t* HWY_RESTRICT even = diff + pairs;
  const hn::ScalableTag<int16_t> d16;
  const hn::Repartition<int32_t, decltype(d16)> d32;
  const size_t N = hn::Lanes(d16);
  auto sum = hn::Zero(d32), sum_odd = hn::Zero(d32);
  size_t c = 0;
  for (; c + 2 * N <= n; c += 2 * N) {
    const auto a = hn::LoadU(d16, xq + c), b = hn::LoadU(d16, xq + c + N);
    const auto e = hn::ConcatEven(d16, b, a), o = hn::ConcatOdd(d16, b, a);
    hn::StoreU(hn::Sub(o, hn::ShiftLeft<8>(e)), d16, diff + c / 2);
    hn::StoreU(e, d16, even + c / 2);
    sum = hn::ReorderWidenMulAccumulate(d32, e, hn::Set(d16, int16_t(1)), sum, sum_odd);
  }
  int32_t total = hn::GetLane(hn::SumOfLanes(d32, hn::RearrangeToOddPlusEven(sum, sum_odd)));
  for (; c < padded; c += 2) {
    const int16_t lo = c < n ? xq[c] : 0, hi = c + 1 < n ? xq[c + 1] : 0;
    diff[c / 2] = int16_t(hi - 256 * lo);
    even[c / 2] = lo;
    total += lo;
  }
  return {diff, even, MinusOffset(total)};
}
#endif

// One output of an int8 x int8 product from its integer sum: y[row] = s * scale[row] * xs
// (+ bias[row]), or y[row] += that.
template <bool kAccumulate>
HWY_INLINE void StoreQ8Sum(float* HWY_RESTRICT y, const float* HWY_RESTRICT scale, float xs,
                           const float* HWY_RESTRICT bias, size_t row, int32_t s) {
  const float v = float(s) * (scale[row] * xs);
  if (kAccumulate) {
    y[row] += v;
  } else {
    y[row] = bias ? v + bias[row] : v;
  }
}

// int8 x int8: W8 as above, x already quantized (xq: int8 values in int16 lanes, x ~ xs * xq).
// y = scale * xs * (W8 xq) (+ bias), or y += that. Integer products summed exactly in int32
// (|sum| <= 127 * 127 * cols: exact below 133,000 columns); per lane group one widening int8 ->
// int16 and one pairwise multiply-add (pmaddwd / i32x4.dot_i16x8_s), a third of the float path's
// instructions (in wasm and with AVX2 no widening: below). Four rows at a time share each load of
// xq; their sums are reduced together (SumsOf4). Small matrices (cache-resident) take four
// adjacent rows, scaled and stored as one vector; larger ones four lockstep segments, as
// MatVecImpl, for the prefetcher (adjacent rows made llama-15m's int8 step 1.6x slower natively).
// kOffset: W in offset form (ops.h: each row's even columns with the sign bit flipped), which the
// wasm loop reads as it is and the other loops flip back. prefetch: the AVX2 loop reads the four
// segments kPrefetchQ8Bytes ahead (ops.h, use_prefetch_q8; llama-15m int8 ran best at 1.5 KB,
// against 768 B 0.90x and 3 KB 0.95x).
constexpr size_t kPrefetchQ8Bytes = 1536;
template <bool kAccumulate, bool kOffset>
HWY_INLINE void MatVecQ8Q8Impl(const int8_t* HWY_RESTRICT W, const float* HWY_RESTRICT scale, size_t rows, size_t cols,
                               const int16_t* HWY_RESTRICT xq, float xs, const float* HWY_RESTRICT bias,
                               float* HWY_RESTRICT y, bool prefetch) {
  (void)prefetch;  // AVX2 only
  const hn::ScalableTag<int16_t> d16;
  const hn::Repartition<int32_t, decltype(d16)> d32;
  const hn::Rebind<int8_t, decltype(d16)> d8;
  const size_t N = hn::Lanes(d16);
  const size_t cols_vec = cols - cols % N;
#if HWY_TARGET == HWY_WASM
  // No widening: each int16 lane of a 16-byte load holds a column pair, read as ColumnPairs says
  // once the low byte's sign bit is flipped: per row and 16 columns a load, a flip, a shift and two
  // pairwise multiply-adds, where widening took two more (alternated in the models: char-lstm int8
  // 1.11x, llama-15m 1.01x). x's two forms are made per call.
  const size_t cols_vec2 = cols - cols % (2 * N);
  const XPairs xp = ColumnPairs(xq, cols_vec2, cols_vec2);
  const auto flip = hn::Set(d16, int16_t(0x80));
  const hn::Repartition<int8_t, decltype(d16)> d8f;
  auto load_flipped = [&](const int8_t* w) {  // the offset form as stored, or made here
    const auto v = hn::BitCast(d16, hn::LoadU(d8f, w));
    if constexpr (kOffset) return v;
    return hn::Xor(v, flip);
  };
#elif HWY_TARGET == HWY_AVX2
  // u8 x s8 pairwise multiply-add (vpmaddubsw) with x's sign moved onto the weights (vpsignb):
  // |x[c]| sign(x[c]) w[c] summed in pairs is within 2 * 127 * 127 < 32767, so nothing saturates
  // (weights are -127..127 as quantize_rows_q8 makes them; -128 would not negate). Then vpmaddwd by
  // ones to int32: per row and 32 columns four instructions where widening took six
  // (microbenchmark on the models' matrices: 1.1-1.3x). |x| and x as bytes are made per call.
  const size_t cols_vec2 = cols - cols % (2 * N);
  const XBytes xb = SignAndAbsBytes(xq, cols_vec2, cols_vec2);
  const auto ones = hn::Set(d16, int16_t(1));
  auto product_pairs = [&](__m256i xa, __m256i xsg, const int8_t* w) {
    __m256i wv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w));
    if constexpr (kOffset) wv = _mm256_xor_si256(wv, _mm256_set1_epi16(0x80));
    return hn::Vec<decltype(d16)>{_mm256_maddubs_epi16(xa, _mm256_sign_epi8(wv, xsg))};
  };
#elif HWY_TARGET == HWY_AVX3_DL
  // The weights + 128 as unsigned bytes (an xor of each sign bit; the offset form has the even
  // columns' flipped already) by x as signed bytes, 64 columns per vpdpbusd: 128 sum(x) over those
  // columns is taken off each row's sum.
  const size_t cols_vec2 = cols - cols % (2 * N);
  const XBytes xb = SignAndAbsBytes(xq, cols_vec2, cols_vec2);
  const __m512i flip = kOffset ? _mm512_set1_epi16(int16_t(0x8000)) : _mm512_set1_epi8(char(0x80));
  auto unsigned_bytes = [&](const int8_t* w) { return _mm512_xor_si512(LoadBytes(w), flip); };
#endif
  auto tail = [&](const int8_t* w, size_t c) {  // from an even c
    int32_t s = 0;
    for (; c < cols; ++c) s += int32_t(kOffset && c % 2 == 0 ? int8_t(w[c] ^ 0x80) : w[c]) * xq[c];
    return s;
  };
  auto finish = [&](size_t row, int32_t s) { StoreQ8Sum<kAccumulate>(y, scale, xs, bias, row, s); };
#if HWY_TARGET != HWY_SCALAR
  // N weights from an even column widened to int16; a weight stored with its sign bit flipped
  // (offset form) sign-extends to q ^ 0xFF80.
  const auto unflip = hn::BitCast(d16, hn::Set(d32, int32_t(kOffset ? 0xFF80 : 0)));
  auto widen = [&](const int8_t* w) {
    const auto v = hn::PromoteTo(d16, hn::LoadU(d8, w));
    if constexpr (kOffset) return hn::Xor(v, unflip);
    return v;
  };
  const size_t groups = rows / 4;
  const hn::CappedTag<int32_t, 4> d4;
  const hn::Rebind<float, decltype(d4)> d4f;
  const auto vxs = hn::Set(d4f, xs);
  const bool segments = rows * cols > (size_t(1) << 16);
  const size_t step = segments ? groups * cols : cols;  // from one of the four rows to the next
  for (size_t i = 0; i < groups; ++i) {
    const int8_t* w0 = W + (segments ? i : 4 * i) * cols;
    const int8_t* w1 = w0 + step;
    const int8_t* w2 = w1 + step;
    const int8_t* w3 = w2 + step;
    // Emulated targets return half of each product sum in `o`; real ones leave it zero.
    auto a0 = hn::Zero(d32), a1 = hn::Zero(d32), a2 = hn::Zero(d32), a3 = hn::Zero(d32);
    auto o0 = hn::Zero(d32), o1 = hn::Zero(d32), o2 = hn::Zero(d32), o3 = hn::Zero(d32);
    size_t c0 = 0;
#if HWY_TARGET == HWY_WASM
    for (; c0 < cols_vec2; c0 += 2 * N) {
      const auto x1 = hn::LoadU(d16, xp.diff + c0 / 2), x2 = hn::LoadU(d16, xp.even + c0 / 2);
      const auto v0 = load_flipped(w0 + c0), v1 = load_flipped(w1 + c0);
      const auto v2 = load_flipped(w2 + c0), v3 = load_flipped(w3 + c0);
      a0 = hn::ReorderWidenMulAccumulate(d32, hn::ShiftRight<8>(v0), x1, a0, o0);
      a1 = hn::ReorderWidenMulAccumulate(d32, hn::ShiftRight<8>(v1), x1, a1, o1);
      a2 = hn::ReorderWidenMulAccumulate(d32, hn::ShiftRight<8>(v2), x1, a2, o2);
      a3 = hn::ReorderWidenMulAccumulate(d32, hn::ShiftRight<8>(v3), x1, a3, o3);
      a0 = hn::ReorderWidenMulAccumulate(d32, v0, x2, a0, o0);
      a1 = hn::ReorderWidenMulAccumulate(d32, v1, x2, a1, o1);
      a2 = hn::ReorderWidenMulAccumulate(d32, v2, x2, a2, o2);
      a3 = hn::ReorderWidenMulAccumulate(d32, v3, x2, a3, o3);
    }
#elif HWY_TARGET == HWY_AVX2
    auto columns = [&](size_t c) {  // 32 columns of the four rows
      const __m256i xa = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb.abs + c));
      const __m256i xsg = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(xb.sign + c));
      a0 = hn::ReorderWidenMulAccumulate(d32, product_pairs(xa, xsg, w0 + c), ones, a0, o0);
      a1 = hn::ReorderWidenMulAccumulate(d32, product_pairs(xa, xsg, w1 + c), ones, a1, o1);
      a2 = hn::ReorderWidenMulAccumulate(d32, product_pairs(xa, xsg, w2 + c), ones, a2, o2);
      a3 = hn::ReorderWidenMulAccumulate(d32, product_pairs(xa, xsg, w3 + c), ones, a3, o3);
    };
    if (prefetch && segments) {
      for (; c0 + 4 * N <= cols_vec2; c0 += 4 * N) {  // a cache line of each row per step
        hwy::Prefetch(w0 + c0 + kPrefetchQ8Bytes), hwy::Prefetch(w1 + c0 + kPrefetchQ8Bytes);
        hwy::Prefetch(w2 + c0 + kPrefetchQ8Bytes), hwy::Prefetch(w3 + c0 + kPrefetchQ8Bytes);
        columns(c0), columns(c0 + 2 * N);
      }
    }
    for (; c0 < cols_vec2; c0 += 2 * N) columns(c0);
#elif HWY_TARGET == HWY_AVX3_DL
    for (; c0 < cols_vec2; c0 += 2 * N) {
      const __m512i xv = LoadBytes(xb.sign + c0);
      a0.raw = DotBytes(a0.raw, unsigned_bytes(w0 + c0), xv);
      a1.raw = DotBytes(a1.raw, unsigned_bytes(w1 + c0), xv);
      a2.raw = DotBytes(a2.raw, unsigned_bytes(w2 + c0), xv);
      a3.raw = DotBytes(a3.raw, unsigned_bytes(w3 + c0), xv);
    }
#endif
    for (size_t c = c0; c < cols_vec; c += N) {
      const auto xv = hn::LoadU(d16, xq + c);
      a0 = hn::ReorderWidenMulAccumulate(d32, widen(w0 + c), xv, a0, o0);
      a1 = hn::ReorderWidenMulAccumulate(d32, widen(w1 + c), xv, a1, o1);
      a2 = hn::ReorderWidenMulAccumulate(d32, widen(w2 + c), xv, a2, o2);
      a3 = hn::ReorderWidenMulAccumulate(d32, widen(w3 + c), xv, a3, o3);
    }
    auto sums = SumsOf4(d32, hn::RearrangeToOddPlusEven(a0, o0), hn::RearrangeToOddPlusEven(a1, o1),
                        hn::RearrangeToOddPlusEven(a2, o2), hn::RearrangeToOddPlusEven(a3, o3));
#if HWY_TARGET == HWY_WASM
    sums = hn::Add(sums, hn::Set(d4, xp.offset));
#elif HWY_TARGET == HWY_AVX3_DL
    sums = hn::Add(sums, hn::Set(d4, MinusOffset(xb.sum)));
#endif
    if (cols_vec < cols) {
      HWY_ALIGN int32_t t[4] = {tail(w0, cols_vec), tail(w1, cols_vec), tail(w2, cols_vec), tail(w3, cols_vec)};
      sums = hn::Add(sums, hn::Load(d4, t));
    }
    if (segments) {
      HWY_ALIGN int32_t t[4];
      hn::Store(sums, d4, t);
      for (size_t k = 0; k < 4; ++k) finish(i + k * groups, t[k]);
      continue;
    }
    const size_t r = 4 * i;
    auto v = hn::Mul(hn::ConvertTo(d4f, sums), hn::Mul(hn::LoadU(d4f, scale + r), vxs));
    if (kAccumulate) {
      v = hn::Add(hn::LoadU(d4f, y + r), v);
    } else if (bias) {
      v = hn::Add(v, hn::LoadU(d4f, bias + r));
    }
    hn::StoreU(v, d4f, y + r);
  }
  size_t r = 4 * groups;
#else
  size_t r = 0;
#endif
  for (; r < rows; ++r) {
    const int8_t* w = W + r * cols;
    if constexpr (kOffset) {  // scalar: at most 3 rows (every row on the scalar target)
      finish(r, tail(w, 0));
      continue;
    }
    auto a = hn::Zero(d32), o = hn::Zero(d32);
    for (size_t c = 0; c < cols_vec; c += N)
      a = hn::ReorderWidenMulAccumulate(d32, hn::PromoteTo(d16, hn::LoadU(d8, w + c)), hn::LoadU(d16, xq + c), a, o);
    finish(r, hn::GetLane(hn::SumOfLanes(d32, hn::RearrangeToOddPlusEven(a, o))) + tail(w, cols_vec));
  }
}

// The int32 sums of a panel's vectors, one per row: with kPart = 2 each row's two partial sums sit
// side by side (a vector of int16 lanes spans N / 2 rows x 4 columns) and are added here.
#if HWY_TARGET != HWY_SCALAR
template <size_t kPart, class D32, class V32>
HWY_INLINE V32 RowSums(D32 d32, V32 lo, V32 hi) {
  if constexpr (kPart == 1) {
    (void)d32, (void)hi;
    return lo;
  } else {
    return hn::Add(hn::ConcatEven(d32, hi, lo), hn::ConcatOdd(d32, hi, lo));
  }
}
#endif

// int8 x int8 with W8 in panels of kPanelRows rows (ops.h), groups of G = kPanelColsQ8 = 4 columns:
// per panel 32 int32 sums; per group one broadcast of x's G values and per vector of rows one
// widening load of their weights and one pairwise multiply-add (pmaddwd): a 32-bit lane sums half
// a row's group, and the halves are added once per panel (RowSums). AVX2 multiplies the bytes
// themselves, as the row-major kernel: one vpsignb, vpmaddubsw and vpmaddwd by ones per 8 rows and
// 4 columns, a whole row's group in each 32-bit lane; AVX3_DL likewise with vpdpbusd. wasm reads
// offset panels (ops.h) without widening (ColumnPairs): 4 rows x 4 columns per load, a row's
// group in a 32-bit lane. The integer sums are exact and scaled as in the row-major kernel.
// AVX3_DL takes x + 128 as bytes ready in xu when given (xq unread).
template <bool kAccumulate>
HWY_INLINE void MatVecQ8Q8PanelsImpl(const int8_t* HWY_RESTRICT P, const float* HWY_RESTRICT scale, size_t rows,
                                     size_t cols, const int16_t* HWY_RESTRICT xq, float xs,
                                     const float* HWY_RESTRICT bias, float* HWY_RESTRICT y,
                                     const uint8_t* HWY_RESTRICT xu_given = nullptr) {
  (void)xu_given;
  constexpr size_t kRows = ops::kPanelRows, G = ops::kPanelColsQ8;
  auto finish = [&](size_t row, int32_t s) { StoreQ8Sum<kAccumulate>(y, scale, xs, bias, row, s); };
  static_assert(ops::kPanelsQ8Offset == (HWY_TARGET == HWY_WASM), "offset panels: wasm builds, read by HWY_WASM");
#if HWY_TARGET == HWY_SCALAR  // no two-lane int16 vectors: plain loops
  for (size_t r0 = 0; r0 < rows; r0 += kRows, P += ops::panel_stride_q8(cols)) {
    for (size_t i = 0; i < std::min(kRows, rows - r0); ++i) {
      int32_t s = 0;
      for (size_t c = 0; c < cols; ++c) s += int32_t(P[(c / G * kRows + i) * G + c % G]) * xq[c];
      finish(r0 + i, s);
    }
  }
#else
  const size_t groups = (cols + G - 1) / G;
  const hn::CappedTag<int32_t, kRows> d32;
  const hn::Repartition<int16_t, decltype(d32)> d16;
  const hn::Rebind<float, decltype(d32)> df;
  constexpr size_t N = hn::MaxLanes(d32);
  static_assert(G == 4, "groups of 4 columns");
#if HWY_TARGET == HWY_AVX2
  static_assert(G == 4 && N == 8, "AVX2: 8 rows x 4 columns per vector");
  constexpr size_t kPart = 1, V = kRows / N;
  const XBytes xb = SignAndAbsBytes(xq, cols, G * groups);  // the last group padded with zeros
  const auto ones = hn::Set(d16, int16_t(1));
#elif HWY_TARGET == HWY_AVX3_DL
  // vpdpbusd: x + 128 as unsigned bytes (padding: 128, by zero weights) by the weights, each row's
  // sum from the -128 sum of its weights that ends the panel (kPanelSumsQ8).
  static_assert(G == 4 && N == 16 && ops::kPanelSumsQ8, "AVX3_DL: 16 rows x 4 columns per vector, panel sums");
  constexpr size_t kPart = 1, V = kRows / N;
  const uint8_t* xu = xu_given ? xu_given : OffsetBytes(xq, cols, G * groups);
#elif HWY_TARGET == HWY_WASM
  static_assert(N == 4, "wasm: 4 rows x 4 columns per vector");
  constexpr size_t kPart = 1, V = kRows / N;
  const XPairs xp = ColumnPairs(xq, cols, G * groups);
#else
  constexpr size_t kPart = 2, V = kRows * kPart / N;
  HWY_ALIGN int16_t last[4] = {0, 0, 0, 0};  // x's last group, padded with zeros
  for (size_t c = (groups - 1) * G; c < cols; ++c) last[c % G] = xq[c];
#endif
  static_assert(V * N == kRows * kPart && V % kPart == 0, "a panel is whole vectors");
  const auto vxs = hn::Set(df, xs);
  for (size_t r0 = 0; r0 < rows; r0 += kRows, P += ops::panel_stride_q8(cols)) {
    hn::Vec<decltype(d32)> acc[V], odd[V];
    for (size_t k = 0; k < V; ++k) acc[k] = hn::Zero(d32), odd[k] = hn::Zero(d32);
    const int8_t* p = P;
#if HWY_TARGET == HWY_AVX2
    for (size_t g = 0; g < groups; ++g, p += G * kRows) {
      int32_t a, s;  // one 32-bit load and broadcast each
      std::memcpy(&a, xb.abs + G * g, 4);
      std::memcpy(&s, xb.sign + G * g, 4);
      const __m256i xa = _mm256_set1_epi32(a), xsg = _mm256_set1_epi32(s);
      for (size_t k = 0; k < V; ++k) {
        const __m256i w = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 4 * k * N));
        const hn::Vec<decltype(d16)> pairs{_mm256_maddubs_epi16(xa, _mm256_sign_epi8(w, xsg))};
        acc[k] = hn::ReorderWidenMulAccumulate(d32, pairs, ones, acc[k], odd[k]);
      }
    }
#elif HWY_TARGET == HWY_AVX3_DL
    // Even groups into `even`, odd ones into `other`, added at the end: with two chains
    // of vpdpbusd (latency ~5 cycles) wavenet-20's panels ran at ~80 GMAC/s.
    __m512i even[V], other[V];
    for (size_t k = 0; k < V; ++k) even[k] = LoadBytes(p + G * kRows * groups + 4 * k * N), other[k] = _mm512_setzero_si512();
    auto group = [&](__m512i* sums, size_t g) {
      int32_t quad;  // x's four bytes, broadcast
      std::memcpy(&quad, xu + G * g, 4);
      const __m512i xv = _mm512_set1_epi32(quad);
      const int8_t* w = p + G * kRows * g;
      for (size_t k = 0; k < V; ++k) sums[k] = DotBytes(sums[k], xv, LoadBytes(w + 4 * k * N));
    };
    size_t g = 0;
    for (; g + 2 <= groups; g += 2) group(even, g), group(other, g + 1);
    if (g < groups) group(even, g);
    for (size_t k = 0; k < V; ++k) acc[k].raw = _mm512_add_epi32(even[k], other[k]);
#elif HWY_TARGET == HWY_WASM
    for (size_t k = 0; k < V; ++k) acc[k] = hn::Set(d32, xp.offset);
    for (size_t g = 0; g < groups; ++g, p += G * kRows) {
      int32_t a, b;  // x's column pairs 2g and 2g + 1 in both forms, broadcast
      std::memcpy(&a, xp.diff + 2 * g, 4);
      std::memcpy(&b, xp.even + 2 * g, 4);
      const auto va = hn::BitCast(d16, hn::Set(d32, a)), vb = hn::BitCast(d16, hn::Set(d32, b));
      for (size_t k = 0; k < V; ++k) {  // the two products summed first: one add to each sum
        const v128_t v = wasm_v128_load(p + 4 * k * N);
        acc[k].raw = wasm_i32x4_add(acc[k].raw, wasm_i32x4_add(wasm_i32x4_dot_i16x8(wasm_i16x8_shr(v, 8), va.raw),
                                                               wasm_i32x4_dot_i16x8(v, vb.raw)));
      }
    }
#else
    auto column_group = [&](const int16_t* x) {  // x's 4 values in every group of 4 int16 lanes
      int64_t quad;  // one 64-bit load and broadcast
      std::memcpy(&quad, x, sizeof(quad));
      const auto xv = hn::BitCast(d16, hn::Set(hn::Repartition<int64_t, decltype(d32)>(), quad));
      for (size_t k = 0; k < V; ++k)
        acc[k] = hn::ReorderWidenMulAccumulate(d32, LoadWiden8(d16, p + 2 * k * N), xv, acc[k], odd[k]);
      p += G * kRows;
    };
    for (size_t g = 0; g + 1 < groups; ++g) column_group(xq + G * g);
    if (groups) column_group(last);
#endif
    float* yr = y + r0;
    if (rows - r0 >= kRows) {
      for (size_t k = 0; k < V / kPart; ++k) {
        const auto sums = RowSums<kPart>(d32, hn::RearrangeToOddPlusEven(acc[kPart * k], odd[kPart * k]),
                                         hn::RearrangeToOddPlusEven(acc[kPart * k + kPart - 1], odd[kPart * k + kPart - 1]));
        auto v = hn::Mul(hn::ConvertTo(df, sums), hn::Mul(hn::LoadU(df, scale + r0 + k * N), vxs));
        if (kAccumulate) {
          v = hn::Add(hn::LoadU(df, yr + k * N), v);
        } else if (bias) {
          v = hn::Add(v, hn::LoadU(df, bias + r0 + k * N));
        }
        hn::StoreU(v, df, yr + k * N);
      }
    } else {  // the last panel's rows that exist
      HWY_ALIGN int32_t t[kRows];
      for (size_t k = 0; k < V / kPart; ++k)
        hn::Store(RowSums<kPart>(d32, hn::RearrangeToOddPlusEven(acc[kPart * k], odd[kPart * k]),
                                 hn::RearrangeToOddPlusEven(acc[kPart * k + kPart - 1], odd[kPart * k + kPart - 1])),
                  d32, t + k * N);
      for (size_t i = 0; i < rows - r0; ++i) finish(r0 + i, t[i]);
    }
  }
#endif
}
HWY_NOINLINE void MatVecQ8Q8Panels(const int8_t* P, const float* scale, size_t rows, size_t cols, const int16_t* xq,
                                   float xs, const float* bias, float* y) {
  MatVecQ8Q8PanelsImpl<false>(P, scale, rows, cols, xq, xs, bias, y);
}
HWY_NOINLINE void MatVecQ8Q8PanelsAcc(const int8_t* P, const float* scale, size_t rows, size_t cols,
                                      const int16_t* xq, float xs, float* y) {
  MatVecQ8Q8PanelsImpl<true>(P, scale, rows, cols, xq, xs, nullptr, y);
}

#if HWY_TARGET != HWY_SCALAR
// A matmul pass's int32 row sums for one position, `count` (1 or 2) vectors of N rows: y[i] =
// sum * scale[i] * xs (+ bias[i]) for the rows_left rows that exist, a store per vector when all do.
template <class D32>
HWY_INLINE void StorePassSums(D32 d32, const hn::Vec<D32>* sums, size_t count, size_t rows_left,
                              const float* HWY_RESTRICT scale, float xs, const float* HWY_RESTRICT bias,
                              float* HWY_RESTRICT y) {
  const hn::Rebind<float, D32> df;
  constexpr size_t N = hn::MaxLanes(d32);
  if (rows_left >= count * N) {
    const auto vxs = hn::Set(df, xs);
    for (size_t k = 0; k < count; ++k) {
      auto v = hn::Mul(hn::ConvertTo(df, sums[k]), hn::Mul(hn::LoadU(df, scale + k * N), vxs));
      if (bias) v = hn::Add(v, hn::LoadU(df, bias + k * N));
      hn::StoreU(v, df, y + k * N);
    }
  } else {  // the last panel's rows that exist
    HWY_ALIGN int32_t t[2 * N];
    for (size_t k = 0; k < count; ++k) hn::Store(sums[k], d32, t + k * N);
    for (size_t i = 0; i < rows_left; ++i) StoreQ8Sum<false>(y, scale, xs, bias, i, t[i]);
  }
}
#endif

// Y[t] = scale * xs[t] * (W8 xq[t]) (+ bias) for n positions, W8 in int8 panels; xq[t] at
// xq + t * stride (stride a multiple of G; columns past cols are zero). As MatMulPanels: a pass
// holds two vectors of a panel's rows for P positions; per group of G columns two widening loads
// of weights and P broadcasts of x's G values feed 2P pairwise multiply-adds, where the matvec
// kernel spends a widening load on each (with AVX2 too: its byte multiply would need a vpsignb per
// position). Integer sums are exact: outputs equal matvec_q8q8_panels'.
template <size_t P>
HWY_INLINE void MatMulQ8Q8PanelsPass(const int8_t* HWY_RESTRICT panel, const float* HWY_RESTRICT scale,
                                     size_t rows_left, size_t groups, const int16_t* HWY_RESTRICT xq, size_t stride,
                                     const float* HWY_RESTRICT xs, const float* HWY_RESTRICT bias,
                                     float* HWY_RESTRICT Y, size_t rows) {
  constexpr size_t G = ops::kPanelColsQ8;
#if HWY_TARGET == HWY_SCALAR  // no two-lane int16 vectors: one position at a time
  for (size_t p = 0; p < P; ++p)
    MatVecQ8Q8PanelsImpl<false>(panel, scale, rows_left, G * groups, xq + p * stride, xs[p], bias, Y + p * rows);
#else
  constexpr size_t kRows = ops::kPanelRows;
  const hn::ScalableTag<int32_t> d32;
  const hn::Repartition<int16_t, decltype(d32)> d16;
  constexpr size_t N = hn::MaxLanes(d32), kPart = 2, R = N / kPart;  // R rows per vector
  static_assert(G == 4 && kRows % (2 * R) == 0, "a panel is whole passes");
  using Vec32 = hn::Vec<decltype(d32)>;
  for (size_t h = 0; h < rows_left; h += 2 * R) {
    Vec32 a[P], b[P], oa[P], ob[P];
    for (size_t p = 0; p < P; ++p) a[p] = b[p] = oa[p] = ob[p] = hn::Zero(d32);
    const int8_t* w = panel + G * h;  // in a group, row i's G weights at G i
    for (size_t c = 0; c < groups; ++c, w += G * kRows) {
      const auto w0 = LoadWiden8(d16, w), w1 = LoadWiden8(d16, w + 2 * N);
      for (size_t p = 0; p < P; ++p) {
        int64_t quad;  // one load and broadcast of x's 4 values
        std::memcpy(&quad, xq + p * stride + G * c, sizeof(quad));
        const auto xv = hn::BitCast(d16, hn::Set(hn::Repartition<int64_t, decltype(d32)>(), quad));
        a[p] = hn::ReorderWidenMulAccumulate(d32, w0, xv, a[p], oa[p]);
        b[p] = hn::ReorderWidenMulAccumulate(d32, w1, xv, b[p], ob[p]);
      }
    }
    for (size_t p = 0; p < P; ++p) {
      const Vec32 sa = hn::RearrangeToOddPlusEven(a[p], oa[p]), sb = hn::RearrangeToOddPlusEven(b[p], ob[p]);
      const Vec32 sums[1] = {RowSums<kPart>(d32, sa, sb)};  // the 2R rows' sums
      StorePassSums(d32, sums, 1, rows_left - h, scale + h, xs[p], bias ? bias + h : nullptr, Y + p * rows + h);
    }
  }
#endif
}
#if HWY_TARGET == HWY_WASM
// A pass of the panel matmul on offset panels (ColumnPairs): 8 of a panel's rows (two vectors of 4
// rows x 4 columns) for P positions, each group's weights loaded and shifted once for all P (xp:
// each position's column pairs, diff then even, stride apart; offsets: their -128 sums). 8 sums,
// four weight vectors and two broadcasts fit V8's 15 registers with P = 4.
template <size_t P>
HWY_INLINE void MatMulQ8Q8PanelsPassWasm(const int8_t* HWY_RESTRICT panel, const float* HWY_RESTRICT scale,
                                         size_t rows_left, size_t groups, const int16_t* HWY_RESTRICT xp,
                                         size_t stride, const int32_t* HWY_RESTRICT offsets,
                                         const float* HWY_RESTRICT xs, const float* HWY_RESTRICT bias,
                                         float* HWY_RESTRICT Y, size_t rows) {
  constexpr size_t G = ops::kPanelColsQ8, kRows = ops::kPanelRows;
  const hn::ScalableTag<int32_t> d32;
  const hn::Repartition<int16_t, decltype(d32)> d16;
  const hn::Repartition<int8_t, decltype(d32)> d8;
  constexpr size_t N = hn::MaxLanes(d32);
  static_assert(G == 4 && N == 4 && kRows % (2 * N) == 0, "wasm: a panel is passes of 8 rows x 4 columns");
  const size_t half = G * groups / 2;  // each form's pairs
  for (size_t h = 0; h < rows_left; h += 2 * N) {
    hn::Vec<decltype(d32)> a[P], b[P], oa[P], ob[P];
    for (size_t p = 0; p < P; ++p) a[p] = b[p] = hn::Set(d32, offsets[p]), oa[p] = ob[p] = hn::Zero(d32);
    const int8_t* w = panel + G * h;
    for (size_t c = 0; c < groups; ++c, w += G * kRows) {
      const auto v0 = hn::BitCast(d16, hn::LoadU(d8, w)), v1 = hn::BitCast(d16, hn::LoadU(d8, w + G * N));
      const auto h0 = hn::ShiftRight<8>(v0), h1 = hn::ShiftRight<8>(v1);
      for (size_t p = 0; p < P; ++p) {
        int32_t pa, pb;  // the position's column pairs 2c and 2c + 1 in both forms, broadcast
        std::memcpy(&pa, xp + p * stride + 2 * c, 4);
        std::memcpy(&pb, xp + p * stride + half + 2 * c, 4);
        const auto va = hn::BitCast(d16, hn::Set(d32, pa)), vb = hn::BitCast(d16, hn::Set(d32, pb));
        a[p] = hn::ReorderWidenMulAccumulate(d32, h0, va, a[p], oa[p]);
        a[p] = hn::ReorderWidenMulAccumulate(d32, v0, vb, a[p], oa[p]);
        b[p] = hn::ReorderWidenMulAccumulate(d32, h1, va, b[p], ob[p]);
        b[p] = hn::ReorderWidenMulAccumulate(d32, v1, vb, b[p], ob[p]);
      }
    }
    for (size_t p = 0; p < P; ++p) {
      const hn::Vec<decltype(d32)> sums[2] = {hn::RearrangeToOddPlusEven(a[p], oa[p]),
                                              hn::RearrangeToOddPlusEven(b[p], ob[p])};
      StorePassSums(d32, sums, 2, rows_left - h, scale + h, xs[p], bias ? bias + h : nullptr, Y + p * rows + h);
    }
  }
}
#endif
#if HWY_TARGET == HWY_AVX3_DL
// A pass of the panel matmul with vpdpbusd: a panel's 32 rows (two vectors of 16 rows x 4 columns)
// for P positions, each group's weights loaded once for all P (xu: x + 128 of each position as
// unsigned bytes, OffsetBytes, stride apart; each row's sums start from the panel's sums).
template <size_t P>
HWY_INLINE void MatMulQ8Q8PanelsPassDL(const int8_t* HWY_RESTRICT panel, const float* HWY_RESTRICT scale,
                                       size_t rows_left, size_t groups, const uint8_t* HWY_RESTRICT xu, size_t stride,
                                       const float* HWY_RESTRICT xs, const float* HWY_RESTRICT bias,
                                       float* HWY_RESTRICT Y, size_t rows) {
  constexpr size_t G = ops::kPanelColsQ8, kRows = ops::kPanelRows;
  const hn::ScalableTag<int32_t> d32;
  constexpr size_t N = hn::MaxLanes(d32);
  static_assert(G == 4 && 2 * N == kRows && ops::kPanelSumsQ8, "AVX3_DL: a panel is two vectors of 16 rows x 4 columns");
  __m512i a[P], b[P];
  const __m512i sums0 = LoadBytes(panel + G * kRows * groups), sums1 = LoadBytes(panel + G * kRows * groups + 4 * N);
  for (size_t p = 0; p < P; ++p) a[p] = sums0, b[p] = sums1;
  const int8_t* w = panel;
  for (size_t c = 0; c < groups; ++c, w += G * kRows) {
    const __m512i w0 = LoadBytes(w), w1 = LoadBytes(w + G * N);
    for (size_t p = 0; p < P; ++p) {
      int32_t quad;  // x's four bytes, broadcast
      std::memcpy(&quad, xu + p * stride + G * c, 4);
      const __m512i xv = _mm512_set1_epi32(quad);
      a[p] = DotBytes(a[p], xv, w0);
      b[p] = DotBytes(b[p], xv, w1);
    }
  }
  for (size_t p = 0; p < P; ++p) {
    const hn::Vec<decltype(d32)> sums[2] = {{a[p]}, {b[p]}};
    StorePassSums(d32, sums, 2, rows_left, scale, xs[p], bias, Y + p * rows);
  }
}
#endif

#if HWY_TARGET == HWY_AVX3_DL || HWY_TARGET == HWY_WASM
// The panel matmul of a target whose passes read x in a form of their own: every position's x made
// so first (prepare(t, out) writes position t's padded values to out and returns the offset its
// row sums start from), then passes of up to kP positions through each panel (pass(p, ..., t, ...):
// the target's pass for p positions from position t).
template <size_t kP, class T, class Prepare, class Pass>
HWY_INLINE void MatMulPreparedPasses(const int8_t* HWY_RESTRICT panels, const float* HWY_RESTRICT scale, size_t rows,
                                     size_t cols, size_t n, const float* HWY_RESTRICT bias, float* HWY_RESTRICT Y,
                                     const Prepare& prepare, const Pass& pass) {
  constexpr size_t kRows = ops::kPanelRows, G = ops::kPanelColsQ8;
  const size_t groups = (cols + G - 1) / G, padded = G * groups;
  thread_local std::vector<T> xform;
  thread_local std::vector<int32_t> offsets;
  if (xform.size() < n * padded) xform.resize(n * padded);
  if (offsets.size() < n) offsets.resize(n);
  for (size_t t = 0; t < n; ++t) offsets[t] = prepare(t, xform.data() + t * padded);
  ForPositionBlocks<kP>(n, [&](auto p, size_t t) {
    for (size_t r = 0; r < rows; r += kRows)
      pass(p, panels + r / kRows * ops::panel_stride_q8(cols), scale + r, std::min(kRows, rows - r), groups,
           xform.data() + t * padded, padded, offsets.data() + t, t, bias ? bias + r : nullptr, Y + t * rows + r, rows);
  });
}
#endif

HWY_NOINLINE void MatMulQ8Q8Panels(const int8_t* HWY_RESTRICT panels, const float* HWY_RESTRICT scale, size_t rows,
                                   size_t cols, const int16_t* HWY_RESTRICT xq, size_t stride,
                                   const float* HWY_RESTRICT xs, size_t n, const float* HWY_RESTRICT bias,
                                   float* HWY_RESTRICT Y) {
#if HWY_TARGET == HWY_AVX3_DL
  // Every position's x + 128 as unsigned bytes first (the sums' offsets are the panels' own, read by
  // the pass), then passes of P = 8 positions: 16 sums, two weight vectors and the broadcasts in
  // the 32 registers.
  MatMulPreparedPasses<8, uint8_t>(
      panels, scale, rows, cols, n, bias, Y,
      [&](size_t t, uint8_t* out) HWY_ATTR { return OffsetBytes(xq + t * stride, cols, ops::padded_cols_q8(cols), out), 0; },
      [&](auto p, const int8_t* panel, const float* scale, size_t left, size_t groups, const uint8_t* xu, size_t stride,
          const int32_t*, size_t t, const float* bias, float* Y, size_t rows) HWY_ATTR {
        MatMulQ8Q8PanelsPassDL<decltype(p)::value>(panel, scale, left, groups, xu, stride, xs + t, bias, Y, rows);
      });
#elif HWY_TARGET == HWY_AVX2
  // AVX2 multiplies bytes in the matvec kernel (5 instructions per 32 multiply-adds, where a pass
  // widens weights and spends a multiply-add and an add on 8 per position): one position after
  // another through it ran 1.35x this pass on pixelcnn-gated's 128 x 384 rows (28 positions) and
  // 1.6x on wavenet-20's 128 x 64 (8), the panel hot in L1 or L2 after the first.
  for (size_t t = 0; t < n; ++t)
    MatVecQ8Q8PanelsImpl<false>(panels, scale, rows, cols, xq + t * stride, xs[t], bias, Y + t * rows);
#elif HWY_TARGET == HWY_WASM
  // Every position's x as column pairs first, then passes of 4 positions (5 ran 1.15-1.25x slower
  // than 4 with the widening pass these replace; the same speed as it on pixelcnn-gated's rows).
  MatMulPreparedPasses<4, int16_t>(
      panels, scale, rows, cols, n, bias, Y,
      [&](size_t t, int16_t* out) { return ColumnPairs(xq + t * stride, cols, ops::padded_cols_q8(cols), out).offset; },
      [&](auto p, const int8_t* panel, const float* scale, size_t left, size_t groups, const int16_t* xp, size_t stride,
          const int32_t* offsets, size_t t, const float* bias, float* Y, size_t rows) {
        MatMulQ8Q8PanelsPassWasm<decltype(p)::value>(panel, scale, left, groups, xp, stride, offsets, xs + t, bias, Y, rows);
      });
#else
  constexpr size_t kRows = ops::kPanelRows, G = ops::kPanelColsQ8;
  const size_t groups = (cols + G - 1) / G;
  // 2P sums: P = 6 spilled sums natively (GCC loads the six broadcasts first) and was no faster
  // than a pass per position. 5 ran 1.16-1.32x the per-position kernel compiled alone, 0.76-0.97x
  // in the library build: no clear gain there.
  ForPositionBlocks<5>(n, [&](auto p, size_t t) {
    for (size_t r = 0; r < rows; r += kRows)
      MatMulQ8Q8PanelsPass<decltype(p)::value>(panels + r / kRows * ops::panel_stride_q8(cols), scale + r,
                                               std::min(kRows, rows - r), groups, xq + t * stride, stride, xs + t,
                                               bias ? bias + r : nullptr, Y + t * rows + r, rows);
  });
#endif
}

// xq = round(x / xs) with xs = max |x| / 127 (1 for a zero vector); returns xs. Per product, so it
// must cost little next to it, and it lies on the path from one layer to the next (its latency
// counts): two vector passes, the first with four running maxima (one chain of dependent maxima
// bound it: pixelcnn-gated's 384-value patches). No clamp to +-127: |x| / xs is at most 127 times
// (1 + 2^-24)^3 after its three roundings, so it rounds to 127 at most (a NaN or an infinity in x
// gives garbage either way). store(d, at, v) writes x[at..] in the caller's form from v, the bits of
// round(x / xs) + 1.5 * 2^23 + offset as a float (offset: an even integer up to 2^21): int32
// lanes of 0x4B400000 + offset + the integer.
template <class Store>
HWY_INLINE float QuantizeQ8(const float* HWY_RESTRICT x, size_t n, float offset, const Store& store) {
  const hn::ScalableTag<float> df;
  const size_t N = hn::Lanes(df);
  auto m = hn::Zero(df), m1 = hn::Zero(df), m2 = hn::Zero(df), m3 = hn::Zero(df);
  size_t i = 0;
  for (; i + 4 * N <= n; i += 4 * N) {
    m = hn::Max(m, hn::Abs(hn::LoadU(df, x + i)));
    m1 = hn::Max(m1, hn::Abs(hn::LoadU(df, x + i + N)));
    m2 = hn::Max(m2, hn::Abs(hn::LoadU(df, x + i + 2 * N)));
    m3 = hn::Max(m3, hn::Abs(hn::LoadU(df, x + i + 3 * N)));
  }
  m = hn::Max(hn::Max(m, m1), hn::Max(m2, m3));
  for (; i + N <= n; i += N) m = hn::Max(m, hn::Abs(hn::LoadU(df, x + i)));
  float mx = hn::GetLane(hn::MaxOfLanes(df, m));
  for (size_t j = i; j < n; ++j) mx = std::max(mx, std::fabs(x[j]));
  const float xs = mx > 0 ? mx / 127.0f : 1.0f, inv = 1.0f / xs;
  // Rounding to the nearest integer (ties to even, as lrint) by adding 1.5 * 2^23: the sum's low
  // mantissa bits are then the integer. Cheaper than NearestInt, whose saturating float -> int
  // conversion V8 lowers to a long sequence (quantizing was 8% of a wasm WaveNet step). An even
  // offset added with it leaves the rounding as it was. The tail runs the same code on
  // single-lane vectors.
  auto quantize = [&](auto d, size_t at) HWY_ATTR {
    const hn::Rebind<int32_t, decltype(d)> di32;
    const auto v = hn::Add(hn::Mul(hn::LoadU(d, x + at), hn::Set(d, inv)), hn::Set(d, 12582912.0f + offset));
    store(d, at, hn::BitCast(di32, v));
  };
  for (i = 0; i + N <= n; i += N) quantize(df, i);
  for (const hn::CappedTag<float, 1> d1; i < n; ++i) quantize(d1, i);
  return xs;
}
HWY_NOINLINE float QuantizeVectorQ8(const float* HWY_RESTRICT x, size_t n, int16_t* HWY_RESTRICT xq) {
  return QuantizeQ8(x, n, 0.0f, [xq](auto d, size_t at, auto v) HWY_ATTR {
    const hn::Rebind<int16_t, decltype(d)> di16;
    const hn::Rebind<int32_t, decltype(d)> di32;
    hn::StoreU(hn::DemoteTo(di16, hn::Sub(v, hn::BitCast(di32, hn::Set(d, 12582912.0f)))), di16, xq + at);
  });
}

#if HWY_TARGET == HWY_AVX3_DL
// x quantized as QuantizeVectorQ8, + 128 as the unsigned bytes the vpdpbusd kernels read (as
// OffsetBytes), 128 up to padded; returns its scale. Each byte is the low byte of its lane
// (0x4B400080 + the integer, in 1..255 above 0x4B400000): truncated, one vpmovdb per 16.
HWY_INLINE float QuantizeOffsetBytes(const float* HWY_RESTRICT x, size_t n, size_t padded, uint8_t* HWY_RESTRICT out) {
  const float xs = QuantizeQ8(x, n, 128.0f, [out](auto d, size_t at, auto v) HWY_ATTR {
    if constexpr (hn::MaxLanes(d) == 16) {
      _mm_storeu_si128(reinterpret_cast<__m128i*>(out + at), _mm512_cvtepi32_epi8(v.raw));
    } else {
      out[at] = uint8_t(hn::GetLane(v));
    }
  });
  std::fill(out + n, out + padded, uint8_t(128));
  return xs;
}
#endif

// y = W8 (x quantized as QuantizeVectorQ8) scaled (+ bias), or y += that, for a float x, W8 in int8
// panels: matvec_q8q8_panels' outputs. AVX3_DL quantizes straight into the bytes its kernel reads.
template <bool kAccumulate>
HWY_INLINE void MatVecQ8PanelsImpl(const int8_t* HWY_RESTRICT P, const float* HWY_RESTRICT scale, size_t rows,
                                   size_t cols, const float* HWY_RESTRICT x, const float* HWY_RESTRICT bias,
                                   float* HWY_RESTRICT y) {
  const size_t padded = ops::padded_cols_q8(cols);
#if HWY_TARGET == HWY_AVX3_DL
  thread_local std::vector<uint8_t> xu;
  if (xu.size() < padded) xu.resize(padded);
  const float xs = QuantizeOffsetBytes(x, cols, padded, xu.data());
  MatVecQ8Q8PanelsImpl<kAccumulate>(P, scale, rows, cols, nullptr, xs, bias, y, xu.data());
#else
  thread_local std::vector<int16_t> xq;
  if (xq.size() < padded) xq.resize(padded);
  const float xs = QuantizeVectorQ8(x, cols, xq.data());
  MatVecQ8Q8PanelsImpl<kAccumulate>(P, scale, rows, cols, xq.data(), xs, bias, y);
#endif
}
HWY_NOINLINE void MatVecQ8Panels(const int8_t* P, const float* scale, size_t rows, size_t cols, const float* x,
                                 const float* bias, float* y) {
  MatVecQ8PanelsImpl<false>(P, scale, rows, cols, x, bias, y);
}
HWY_NOINLINE void MatVecQ8PanelsAcc(const int8_t* P, const float* scale, size_t rows, size_t cols, const float* x,
                                    float* y) {
  MatVecQ8PanelsImpl<true>(P, scale, rows, cols, x, nullptr, y);
}

// Y = W8 (x quantized as QuantizeVectorQ8) scaled (+ bias) for n float positions X[t] at
// X + t * x_stride, W8 in int8 panels: the same outputs as quantizing each into int16 lanes and
// MatMulQ8Q8Panels. AVX3_DL quantizes straight into the bytes its passes read (x + 128: one pass
// over each position, not three: pixelcnn-gated's 28 positions of 384 values per row and layer);
// the other targets go through int16 lanes.
HWY_NOINLINE void MatMulQ8Panels(const int8_t* HWY_RESTRICT panels, const float* HWY_RESTRICT scale, size_t rows,
                                 size_t cols, const float* HWY_RESTRICT X, size_t x_stride, size_t n,
                                 const float* HWY_RESTRICT bias, float* HWY_RESTRICT Y) {
  const size_t padded = ops::padded_cols_q8(cols);
  thread_local std::vector<float> xs;
  if (xs.size() < n) xs.resize(n);
#if HWY_TARGET == HWY_AVX3_DL
  MatMulPreparedPasses<8, uint8_t>(
      panels, scale, rows, cols, n, bias, Y,
      [&](size_t t, uint8_t* out) HWY_ATTR { return xs[t] = QuantizeOffsetBytes(X + t * x_stride, cols, padded, out), 0; },
      [&](auto p, const int8_t* panel, const float* scale, size_t left, size_t groups, const uint8_t* xu, size_t stride,
          const int32_t*, size_t t, const float* bias, float* Y, size_t rows) HWY_ATTR {
        MatMulQ8Q8PanelsPassDL<decltype(p)::value>(panel, scale, left, groups, xu, stride, xs.data() + t, bias, Y, rows);
      });
#else
  thread_local std::vector<int16_t> xq;
  if (xq.size() < n * padded) xq.resize(n * padded);
  for (size_t t = 0; t < n; ++t) {
    xs[t] = QuantizeVectorQ8(X + t * x_stride, cols, xq.data() + t * padded);
    std::fill(xq.begin() + t * padded + cols, xq.begin() + (t + 1) * padded, int16_t(0));
  }
  MatMulQ8Q8Panels(panels, scale, rows, cols, xq.data(), padded, xs.data(), n, bias, Y);
#endif
}

HWY_NOINLINE void MatVecQ8Q8(const int8_t* W, const float* scale, size_t rows, size_t cols, const int16_t* xq, float xs,
                             const float* bias, float* y, bool offset, bool prefetch) {
  if (offset) return MatVecQ8Q8Impl<false, true>(W, scale, rows, cols, xq, xs, bias, y, prefetch);
  MatVecQ8Q8Impl<false, false>(W, scale, rows, cols, xq, xs, bias, y, prefetch);
}
HWY_NOINLINE void MatVecQ8Q8Acc(const int8_t* W, const float* scale, size_t rows, size_t cols, const int16_t* xq,
                                float xs, float* y, bool offset, bool prefetch) {
  if (offset) return MatVecQ8Q8Impl<true, true>(W, scale, rows, cols, xq, xs, nullptr, y, prefetch);
  MatVecQ8Q8Impl<true, false>(W, scale, rows, cols, xq, xs, nullptr, y, prefetch);
}

// Roofline probes (bench only). ReadSum: the sum of n floats, read as four segments in lockstep
// (four sequential streams, as MatVecImpl and the int8 kernel read large matrices: one stream gets
// 30-40% less bandwidth from DRAM here), two vectors per stream and step added before they reach the
// stream's one accumulator: bound by how fast the memory holding them streams. Eight accumulators
// (one per vector) plus the eight loaded vectors need 16 registers; V8 allocates 15 (it keeps
// xmm15), spilled one sum to the stack each step and read half the bandwidth (30 against 62 GB/s).
// FmaPeak: `iters` rounds of independent multiply-adds on registers, bound by the SIMD units:
// FmaPeakFlops() flops per round. With FMA, 8 chains; wasm has no fused multiply-add, so its rounds
// are 6 multiply chains and 6 add chains (latency 3 each: enough to fill two multiply and two add
// pipes, in 14 registers; 8 multiply-adds a = a * m + c, as before, read 22-26 against 44 GFLOP/s).
HWY_NOINLINE float ReadSum(const float* HWY_RESTRICT p, size_t n) {
  const hn::ScalableTag<float> d;
  const size_t N = hn::Lanes(d);
  const size_t seg = n / 4 - n / 4 % (2 * N);
  const float* p1 = p + seg;
  const float* p2 = p1 + seg;
  const float* p3 = p2 + seg;
  auto a0 = hn::Zero(d), a1 = hn::Zero(d), a2 = hn::Zero(d), a3 = hn::Zero(d);
  for (size_t i = 0; i < seg; i += 2 * N) {
    a0 = hn::Add(a0, hn::Add(hn::LoadU(d, p + i), hn::LoadU(d, p + i + N)));
    a1 = hn::Add(a1, hn::Add(hn::LoadU(d, p1 + i), hn::LoadU(d, p1 + i + N)));
    a2 = hn::Add(a2, hn::Add(hn::LoadU(d, p2 + i), hn::LoadU(d, p2 + i + N)));
    a3 = hn::Add(a3, hn::Add(hn::LoadU(d, p3 + i), hn::LoadU(d, p3 + i + N)));
  }
  float s = hn::GetLane(hn::SumOfLanes(d, hn::Add(hn::Add(a0, a1), hn::Add(a2, a3))));
  for (size_t i = 4 * seg; i < n; ++i) s += p[i];
  return s;
}

#if HWY_TARGET == HWY_WASM
HWY_NOINLINE float FmaPeak(size_t iters, float m) {
  const hn::ScalableTag<float> d;
  const auto mul = hn::Set(d, m), add = hn::Set(d, 1e-7f);
  auto a0 = hn::Set(d, 1.f), a1 = hn::Set(d, 2.f), a2 = hn::Set(d, 3.f), a3 = hn::Set(d, 4.f);
  auto a4 = hn::Set(d, 5.f), a5 = hn::Set(d, 6.f), b0 = a0, b1 = a1, b2 = a2, b3 = a3, b4 = a4, b5 = a5;
  for (size_t i = 0; i < iters; ++i) {
    a0 = hn::Mul(a0, mul), a1 = hn::Mul(a1, mul), a2 = hn::Mul(a2, mul);
    a3 = hn::Mul(a3, mul), a4 = hn::Mul(a4, mul), a5 = hn::Mul(a5, mul);
    b0 = hn::Add(b0, add), b1 = hn::Add(b1, add), b2 = hn::Add(b2, add);
    b3 = hn::Add(b3, add), b4 = hn::Add(b4, add), b5 = hn::Add(b5, add);
  }
  const auto s = hn::Add(hn::Add(hn::Add(a0, a1), hn::Add(a2, a3)), hn::Add(a4, a5));
  const auto t = hn::Add(hn::Add(hn::Add(b0, b1), hn::Add(b2, b3)), hn::Add(b4, b5));
  return hn::GetLane(hn::SumOfLanes(d, hn::Add(s, t)));
}
HWY_NOINLINE size_t FmaPeakFlops() { return 12 * hn::Lanes(hn::ScalableTag<float>()); }
#else
HWY_NOINLINE float FmaPeak(size_t iters, float m) {
  const hn::ScalableTag<float> d;
  const auto mul = hn::Set(d, m), add = hn::Set(d, 1e-7f);
  auto a0 = hn::Set(d, 1.f), a1 = hn::Set(d, 2.f), a2 = hn::Set(d, 3.f), a3 = hn::Set(d, 4.f);
  auto a4 = hn::Set(d, 5.f), a5 = hn::Set(d, 6.f), a6 = hn::Set(d, 7.f), a7 = hn::Set(d, 8.f);
  for (size_t i = 0; i < iters; ++i) {
    a0 = hn::MulAdd(a0, mul, add), a1 = hn::MulAdd(a1, mul, add), a2 = hn::MulAdd(a2, mul, add), a3 = hn::MulAdd(a3, mul, add);
    a4 = hn::MulAdd(a4, mul, add), a5 = hn::MulAdd(a5, mul, add), a6 = hn::MulAdd(a6, mul, add), a7 = hn::MulAdd(a7, mul, add);
  }
  const auto s = hn::Add(hn::Add(hn::Add(a0, a1), hn::Add(a2, a3)), hn::Add(hn::Add(a4, a5), hn::Add(a6, a7)));
  return hn::GetLane(hn::SumOfLanes(d, s));
}
HWY_NOINLINE size_t FmaPeakFlops() { return 8 * 2 * hn::Lanes(hn::ScalableTag<float>()); }
#endif

}  // namespace HWY_NAMESPACE
}  // namespace argen
HWY_AFTER_NAMESPACE();

#endif  // include guard
