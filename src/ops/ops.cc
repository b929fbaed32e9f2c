// Compiles ops-inl.h once per SIMD target and dispatches to the best one the CPU supports.
#include "ops/ops.h"
#include "ops/parallel.h"

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "ops/ops.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "ops/ops-inl.h"

#if HWY_ONCE
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "core/error.h"
#include "hwy/targets.h"

namespace argen {
HWY_EXPORT(MatVec);
HWY_EXPORT(MatVecAcc);
HWY_EXPORT(MatVecPanels);
HWY_EXPORT(MatVecPanelsAcc);
HWY_EXPORT(MatVecPairs);
HWY_EXPORT(MatVecPairsAcc);
HWY_EXPORT(MatMul);
HWY_EXPORT(MatMulPanels);
HWY_EXPORT(Add);
HWY_EXPORT(Mul);
HWY_EXPORT(Tanh);
HWY_EXPORT(Exp);
HWY_EXPORT(Sigmoid);
HWY_EXPORT(TanhSigmoidGate);
HWY_EXPORT(Relu);
HWY_EXPORT(Softmax);
HWY_EXPORT(LogSoftmax);
HWY_EXPORT(LogSumExp);
HWY_EXPORT(ArgMax);
HWY_EXPORT(FindNaN);
HWY_EXPORT(Silu);
HWY_EXPORT(GeluTanh);
HWY_EXPORT(Attention);
HWY_EXPORT(RmsNorm);
HWY_EXPORT(LayerNorm);
HWY_EXPORT(MatVecQ8);
HWY_EXPORT(MatVecQ8Q8);
HWY_EXPORT(QuantizeVectorQ8);
HWY_EXPORT(MatVecQ8Q8Acc);
HWY_EXPORT(MatVecQ8Q8Panels);
HWY_EXPORT(MatVecQ8Q8PanelsAcc);
HWY_EXPORT(MatMulQ8Q8Panels);
HWY_EXPORT(MatMulQ8Panels);
HWY_EXPORT(MatVecQ8Panels);
HWY_EXPORT(MatVecQ8PanelsAcc);
HWY_EXPORT(ReadSum);
HWY_EXPORT(FmaPeak);
HWY_EXPORT(FmaPeakFlops);


namespace ops {
namespace {

// Products smaller than this many weights run on one thread: the hand-off costs about a
// microsecond, a 128x128 product about as much.
constexpr size_t kParallelMinWeights = size_t(1) << 15;
// int8 rows cost about a quarter of float32 ones: split from the same bytes, 4x the weights.
constexpr size_t kParallelMinWeightsQ8 = 4 * kParallelMinWeights;
// The fewest weights of a model whose int8 rows are read ahead: between char-lstm's 3.6 M (slower
// with it) and llama-15m's 15.2 M (faster).
[[maybe_unused]] constexpr size_t kPrefetchMinWeights = size_t(8) << 20;
// The largest matrix use_panels() packs. int8 products that small stay on one thread (below).
constexpr size_t kPanelMaxWeights = size_t(1) << 16;
static_assert(kPanelMaxWeights < kParallelMinWeightsQ8, "int8 panel products are not split across threads");
size_t panel_count(size_t rows) { return (rows + kPanelRows - 1) / kPanelRows; }

struct Product {
  const float *W, *x, *bias;
  size_t cols;
  float* y;
};

// Row ranges of a product; ranges are multiples of 4 rows (the kernels' row blocks).
void matvec_rows(size_t b, size_t e, void* p) {
  auto& m = *static_cast<Product*>(p);
  HWY_DYNAMIC_DISPATCH(MatVec)(m.W + b * m.cols, e - b, m.cols, m.x, m.bias ? m.bias + b : nullptr, m.y + b);
}
void matvec_acc_rows(size_t b, size_t e, void* p) {
  auto& m = *static_cast<Product*>(p);
  HWY_DYNAMIC_DISPATCH(MatVecAcc)(m.W + b * m.cols, e - b, m.cols, m.x, m.y + b);
}

}  // namespace

// Panels pay where the row-major kernel is bound by instructions rather than memory (see ops.h), on
// matrices up to 256 KB of float32 (microbenchmarks cycling through wavenet-20's 128 x 64 matrices:
// wasm float32 1.45x, native int8 1.35-1.5x; 256 x 256: wasm float32 0.9-1.1x, native int8
// 1.07-1.14x; 2048 x 512 float32: 0.7-0.8x), and where the zero rows that fill the last panel add at
// most a quarter.
bool use_panels(size_t rows, size_t cols) {
  return rows * cols <= kPanelMaxWeights && 4 * panel_count(rows) * kPanelRows <= 5 * rows;
}
size_t panel_floats(size_t rows, size_t cols) { return panel_count(rows) * kPanelRows * cols; }
void pack_panels(const float* W, size_t rows, size_t cols, float* panels) {
  std::fill(panels, panels + panel_floats(rows, cols), 0.0f);
  for (size_t r = 0; r < rows; ++r)
    for (size_t c = 0; c < cols; ++c) panels[(r / kPanelRows * cols + c) * kPanelRows + r % kPanelRows] = W[r * cols + c];
}

bool use_pairs(size_t rows, size_t cols) {
#if defined(__EMSCRIPTEN__)
  return !use_panels(rows, cols) && rows % 8 == 0 && cols % kPairCols == 0;
#else
  (void)rows, (void)cols;
  return false;  // natively the row-major kernel reads at the memory's pace (bench/README.md)
#endif
}
namespace {
void check_pairs_shape(const char* what, size_t rows, size_t cols) {
  if (rows % 8 || cols % kPairCols)
    throw Error(std::string(what) + ": " + std::to_string(rows) + " x " + std::to_string(cols) + " is not in multiples of 8");
}
}  // namespace
void pack_pairs(float* W, size_t rows, size_t cols) {
  check_pairs_shape("pack_pairs", rows, cols);
  std::vector<float> pair(2 * cols);
  for (size_t r = 0; r < rows; r += 2) {
    float* w = W + r * cols;
    std::copy(w, w + 2 * cols, pair.begin());
    for (size_t c = 0; c < cols; c += kPairCols)
      for (size_t k = 0; k < 2; ++k) std::copy_n(pair.begin() + k * cols + c, kPairCols, w + 2 * c + k * kPairCols);
  }
}
namespace {
// Rows b..e-1 (multiples of 8) of a product on pairs.
template <bool kAccumulate>
void pair_rows(size_t b, size_t e, void* p) {
  auto& m = *static_cast<Product*>(p);
  if (kAccumulate) {
    HWY_DYNAMIC_DISPATCH(MatVecPairsAcc)(m.W + b * m.cols, e - b, m.cols, m.x, m.y + b);
  } else {
    HWY_DYNAMIC_DISPATCH(MatVecPairs)(m.W + b * m.cols, e - b, m.cols, m.x, m.bias ? m.bias + b : nullptr, m.y + b);
  }
}
template <bool kAccumulate>
void pair_product(const float* P, size_t rows, size_t cols, const float* x, const float* bias, float* y) {
  check_pairs_shape("matvec on pairs", rows, cols);
  Product m{P, x, bias, cols, y};
  if (rows * cols < kParallelMinWeights || threads() == 1) return pair_rows<kAccumulate>(0, rows, &m);
  parallel_for(rows, 8, pair_rows<kAccumulate>, &m);
}
}  // namespace
void matvec_pairs(const float* pairs, size_t rows, size_t cols, const float* x, const float* bias, float* y) {
  pair_product<false>(pairs, rows, cols, x, bias, y);
}
void matvec_pairs_acc(const float* pairs, size_t rows, size_t cols, const float* x, float* y) {
  pair_product<true>(pairs, rows, cols, x, nullptr, y);
}

size_t panel_bytes_q8(size_t rows, size_t cols) { return panel_count(rows) * panel_stride_q8(cols); }
void pack_panels_q8(const int8_t* W8, size_t rows, size_t cols, int8_t* panels) {
  constexpr size_t G = kPanelColsQ8;
  const size_t groups = (cols + G - 1) / G, stride = panel_stride_q8(cols);
  std::fill(panels, panels + panel_bytes_q8(rows, cols), int8_t(0));
  for (size_t r = 0; r < rows; ++r) {
    int8_t* panel = panels + r / kPanelRows * stride;
    int32_t sum = 0;
    for (size_t c = 0; c < cols; ++c) {
      panel[(c / G * kPanelRows + r % kPanelRows) * G + c % G] = W8[r * cols + c];
      sum += W8[r * cols + c];
    }
    if (kPanelSumsQ8) {
      const int32_t minus = int32_t(0u - 128u * uint32_t(sum));  // as the kernels' sums, modulo 2^32
      std::memcpy(panel + kPanelRows * G * groups + r % kPanelRows * sizeof(int32_t), &minus, sizeof minus);
    }
  }
  if (kPanelsQ8Offset)  // even columns (G is even), padding included
    for (size_t i = 0; i < panel_bytes_q8(rows, cols); i += 2) panels[i] = int8_t(panels[i] ^ 0x80);
}
void matvec_q8q8_panels(const int8_t* panels, const float* scale, size_t rows, size_t cols, const int16_t* xq, float xs,
                        const float* bias, float* y) {
  HWY_DYNAMIC_DISPATCH(MatVecQ8Q8Panels)(panels, scale, rows, cols, xq, xs, bias, y);
}
void matvec_q8q8_panels_acc(const int8_t* panels, const float* scale, size_t rows, size_t cols, const int16_t* xq,
                            float xs, float* y) {
  HWY_DYNAMIC_DISPATCH(MatVecQ8Q8PanelsAcc)(panels, scale, rows, cols, xq, xs, y);
}
void matmul_q8q8_panels(const int8_t* panels, const float* scale, size_t rows, size_t cols, const int16_t* xq,
                        size_t stride, const float* xs, size_t n, const float* bias, float* Y) {
  HWY_DYNAMIC_DISPATCH(MatMulQ8Q8Panels)(panels, scale, rows, cols, xq, stride, xs, n, bias, Y);
}

namespace {
struct PanelProduct {
  const float *P, *x, *bias;
  size_t rows, cols;
  float* y;
};
// Panels b..e-1 of a product.
template <bool kAccumulate>
void panel_rows(size_t b, size_t e, void* p) {
  auto& m = *static_cast<PanelProduct*>(p);
  const size_t r = b * kPanelRows, n = std::min(e * kPanelRows, m.rows) - r;
  if (kAccumulate) {
    HWY_DYNAMIC_DISPATCH(MatVecPanelsAcc)(m.P + r * m.cols, n, m.cols, m.x, m.y + r);
  } else {
    HWY_DYNAMIC_DISPATCH(MatVecPanels)(m.P + r * m.cols, n, m.cols, m.x, m.bias ? m.bias + r : nullptr, m.y + r);
  }
}
template <bool kAccumulate>
void panel_product(const float* P, size_t rows, size_t cols, const float* x, const float* bias, float* y) {
  PanelProduct m{P, x, bias, rows, cols, y};
  if (rows * cols < kParallelMinWeights || threads() == 1) return panel_rows<kAccumulate>(0, panel_count(rows), &m);
  parallel_for(panel_count(rows), 1, panel_rows<kAccumulate>, &m);
}
}  // namespace

void matvec_panels(const float* panels, size_t rows, size_t cols, const float* x, const float* bias, float* y) {
  panel_product<false>(panels, rows, cols, x, bias, y);
}
void matvec_panels_acc(const float* panels, size_t rows, size_t cols, const float* x, float* y) {
  panel_product<true>(panels, rows, cols, x, nullptr, y);
}

void matvec(const float* W, size_t rows, size_t cols, const float* x, const float* bias, float* y) {
  if (rows * cols < kParallelMinWeights || threads() == 1) return HWY_DYNAMIC_DISPATCH(MatVec)(W, rows, cols, x, bias, y);
  Product m{W, x, bias, cols, y};
  parallel_for(rows, 4, matvec_rows, &m);
}
namespace {
using MatMulKernel = void (*)(const float* W, size_t rows, size_t cols, const float* X, size_t x_stride, size_t n,
                              const float* bias, float* Y);
// Prefill: split the positions (each thread reads every weight once for its positions).
void split_positions(MatMulKernel kernel, const float* W, size_t rows, size_t cols, const float* X, size_t x_stride,
                     size_t n, const float* bias, float* Y) {
  if (rows * cols < kParallelMinWeights || n < 4 || threads() == 1) return kernel(W, rows, cols, X, x_stride, n, bias, Y);
  struct Ctx { MatMulKernel kernel; const float *W, *X, *bias; size_t rows, cols, x_stride; float* Y; } c{
      kernel, W, X, bias, rows, cols, x_stride, Y};
  parallel_for(n, 2, [](size_t b, size_t e, void* p) {
    auto& c = *static_cast<Ctx*>(p);
    c.kernel(c.W, c.rows, c.cols, c.X + b * c.x_stride, c.x_stride, e - b, c.bias, c.Y + b * c.rows);
  }, &c);
}
}  // namespace
void matmul(const float* W, size_t rows, size_t cols, const float* X, size_t n, const float* bias, float* Y) {
  split_positions(&HWY_DYNAMIC_DISPATCH(MatMul), W, rows, cols, X, cols, n, bias, Y);
}
void matmul_panels(const float* panels, size_t rows, size_t cols, const float* X, size_t n, const float* bias, float* Y) {
  split_positions(&HWY_DYNAMIC_DISPATCH(MatMulPanels), panels, rows, cols, X, cols, n, bias, Y);
}
void matvec_acc(const float* W, size_t rows, size_t cols, const float* x, float* y) {
  if (rows * cols < kParallelMinWeights || threads() == 1) return HWY_DYNAMIC_DISPATCH(MatVecAcc)(W, rows, cols, x, y);
  Product m{W, x, nullptr, cols, y};
  parallel_for(rows, 4, matvec_acc_rows, &m);
}
void add(const float* a, const float* b, float* out, size_t n) { HWY_DYNAMIC_DISPATCH(Add)(a, b, out, n); }
void mul(const float* a, const float* b, float* out, size_t n) { HWY_DYNAMIC_DISPATCH(Mul)(a, b, out, n); }
void tanh(float* x, size_t n) { HWY_DYNAMIC_DISPATCH(Tanh)(x, n); }
void exp(float* x, size_t n) { HWY_DYNAMIC_DISPATCH(Exp)(x, n); }
void sigmoid(float* x, size_t n) { HWY_DYNAMIC_DISPATCH(Sigmoid)(x, n); }
void tanh_sigmoid_gate(const float* a, const float* b, float* out, size_t n) {
  HWY_DYNAMIC_DISPATCH(TanhSigmoidGate)(a, b, out, n);
}
void relu(float* x, size_t n) { HWY_DYNAMIC_DISPATCH(Relu)(x, n); }
void softmax(float* x, size_t n) { HWY_DYNAMIC_DISPATCH(Softmax)(x, n); }
void log_softmax(const float* x, float* out, size_t n) { HWY_DYNAMIC_DISPATCH(LogSoftmax)(x, out, n); }
float log_sum_exp(const float* x, size_t n) { return HWY_DYNAMIC_DISPATCH(LogSumExp)(x, n); }
size_t argmax(const float* x, size_t n) { return HWY_DYNAMIC_DISPATCH(ArgMax)(x, n); }
size_t find_nan(const float* x, size_t n) { return HWY_DYNAMIC_DISPATCH(FindNaN)(x, n); }
void silu(float* x, size_t n) { HWY_DYNAMIC_DISPATCH(Silu)(x, n); }
void gelu_tanh(float* x, size_t n) { HWY_DYNAMIC_DISPATCH(GeluTanh)(x, n); }
void gelu(float* x, size_t n) {
  // Exact GELU needs erf, which Highway 1.0 lacks; it is off the hot path (one pass per layer).
  for (size_t i = 0; i < n; ++i) x[i] = 0.5f * x[i] * (1.f + std::erf(x[i] * 0.70710678118654752f));
}
// Split across the threads by KV heads (each with its query heads) once the cache holds
// kParallelMinWeights floats: every head is computed as on one thread, so the bits do not change.
void attention(const float* q, const float* K, const float* V, size_t n, size_t heads, size_t kv_heads, size_t head_dim,
               float scale, float* p, size_t p_stride, float* out) {
  const size_t row = kv_heads * head_dim;
  if (2 * n * row < kParallelMinWeights || kv_heads < 2 || threads() == 1)
    return HWY_DYNAMIC_DISPATCH(Attention)(q, K, V, row, n, heads, kv_heads, head_dim, scale, p, p_stride, out);
  struct Ctx { const float *q, *K, *V; size_t row, n, group, hd; float scale, *p; size_t p_stride; float* out; } c{
      q, K, V, row, n, heads / kv_heads, head_dim, scale, p, p_stride, out};
  parallel_for(kv_heads, 1, [](size_t b, size_t e, void* ctx) {
    const auto& c = *static_cast<Ctx*>(ctx);
    const size_t h = b * c.group;  // the first query head of KV head b
    HWY_DYNAMIC_DISPATCH(Attention)(c.q + h * c.hd, c.K + b * c.hd, c.V + b * c.hd, c.row, c.n, (e - b) * c.group, e - b,
                                    c.hd, c.scale, c.p + h * c.p_stride, c.p_stride, c.out + h * c.hd);
  }, &c);
}
void rms_norm(const float* x, const float* w, float eps, float* out, size_t n) { HWY_DYNAMIC_DISPATCH(RmsNorm)(x, w, eps, out, n); }
void layer_norm(const float* x, const float* w, const float* b, float eps, float* out, size_t n) {
  HWY_DYNAMIC_DISPATCH(LayerNorm)(x, w, b, eps, out, n);
}

void matvec_q8(const int8_t* W, const float* scale, size_t rows, size_t cols, const float* x, const float* bias, float* y) {
  HWY_DYNAMIC_DISPATCH(MatVecQ8)(W, scale, rows, cols, x, bias, y);
}

bool use_prefetch_q8(size_t model_weights) {
#if defined(__EMSCRIPTEN__)
  (void)model_weights;
  return false;  // wasm has no prefetch
#else
  return model_weights >= kPrefetchMinWeights;
#endif
}

void offset_q8(int8_t* q8, size_t rows, size_t cols) {
  for (size_t r = 0; r < rows; ++r)
    for (size_t c = 0; c < cols; c += 2) q8[r * cols + c] = int8_t(q8[r * cols + c] ^ 0x80);
}

void quantize_rows_q8(const float* W, size_t rows, size_t cols, int8_t* q, float* scale) {
  // Each row by the activations' rule and kernel (SIMD; the scalar loop with lrint took most of an
  // int8 load in wasm).
  std::vector<int16_t> row(cols);
  for (size_t r = 0; r < rows; ++r) {
    scale[r] = quantize_vector_q8(W + r * cols, cols, row.data());
    for (size_t c = 0; c < cols; ++c) q[r * cols + c] = int8_t(row[c]);
  }
}

float quantize_vector_q8(const float* x, size_t n, int16_t* xq) { return HWY_DYNAMIC_DISPATCH(QuantizeVectorQ8)(x, n, xq); }
void matvec_q8q8(const int8_t* W, const float* scale, size_t rows, size_t cols, const int16_t* xq, float xs,
                 const float* bias, float* y) {
  HWY_DYNAMIC_DISPATCH(MatVecQ8Q8)(W, scale, rows, cols, xq, xs, bias, y, false, false);
}
void matvec_q8q8_acc(const int8_t* W, const float* scale, size_t rows, size_t cols, const int16_t* xq, float xs, float* y) {
  HWY_DYNAMIC_DISPATCH(MatVecQ8Q8Acc)(W, scale, rows, cols, xq, xs, y, false, false);
}

namespace {
// x quantized once per product, into a per-thread buffer that only grows.
struct ProductQ8 {
  const Matrix* W;
  const int16_t* xq;
  float xs;
  const float* bias;
  float* y;
  bool accumulate;
};
void q8_rows(size_t b, size_t e, void* p) {
  auto& m = *static_cast<ProductQ8*>(p);
  const int8_t* W = m.W->q8 + b * m.W->cols;
  if (m.accumulate) {
    HWY_DYNAMIC_DISPATCH(MatVecQ8Q8Acc)(W, m.W->scale + b, e - b, m.W->cols, m.xq, m.xs, m.y + b, m.W->q8_offset,
                                        m.W->q8_prefetch);
  } else {
    HWY_DYNAMIC_DISPATCH(MatVecQ8Q8)(W, m.W->scale + b, e - b, m.W->cols, m.xq, m.xs, m.bias ? m.bias + b : nullptr, m.y + b,
                                     m.W->q8_offset, m.W->q8_prefetch);
  }
}
// x with its int8 form: as given, or quantized now into a per-thread buffer that only grows (valid
// until this thread's next call).
Vector with_q8(const Vector& x, size_t n) {
  if (x.q8) return x;
  thread_local std::vector<int16_t> buffer;
  if (buffer.size() < n) buffer.resize(n);
  const float scale = quantize_vector_q8(x.f32, n, buffer.data());
  return {x.f32, buffer.data(), scale};
}
void q8_product(const Matrix& W, const Vector& x, const float* bias, float* y, bool accumulate) {
  if (W.q8_panels && !x.q8) {  // at most kPanelMaxWeights: one thread; quantized by the kernel
    if (accumulate) return HWY_DYNAMIC_DISPATCH(MatVecQ8PanelsAcc)(W.q8_panels, W.scale, W.rows, W.cols, x.f32, y);
    return HWY_DYNAMIC_DISPATCH(MatVecQ8Panels)(W.q8_panels, W.scale, W.rows, W.cols, x.f32, bias, y);
  }
  const Vector v = with_q8(x, W.cols);
  const int16_t* xq = v.q8;
  const float xs = v.scale;
  if (W.q8_panels) {  // at most kPanelMaxWeights: one thread
    if (accumulate) return matvec_q8q8_panels_acc(W.q8_panels, W.scale, W.rows, W.cols, xq, xs, y);
    return matvec_q8q8_panels(W.q8_panels, W.scale, W.rows, W.cols, xq, xs, bias, y);
  }
  ProductQ8 m{&W, xq, xs, bias, y, accumulate};
  if (W.rows * W.cols < kParallelMinWeightsQ8 || threads() == 1) return q8_rows(0, W.rows, &m);
  parallel_for(W.rows, 4, q8_rows, &m);
}

// An int8 matmul on panels: its positions split across threads when there is enough work (int8
// multiply-adds cost about a quarter of float32 ones, as in q8_product).
void split_q8_positions(const Matrix& W, size_t n, void (*positions)(size_t, size_t, void*), void* ctx) {
  if (W.rows * W.cols * n < 4 * kParallelMinWeightsQ8 || n < 4 || threads() == 1) return positions(0, n, ctx);
  parallel_for(n, 2, positions, ctx);
}

}  // namespace

Matrix row_block(const Matrix& W, size_t begin, size_t count) {
  if (W.pairs && (begin % 8 || count % 8))
    throw Error("row_block: rows " + std::to_string(begin) + " + " + std::to_string(count) + " of a matrix on pairs (multiples of 8)");
  Matrix m = W;
  m.rows = count;
  const bool whole_panels = begin % kPanelRows == 0;
  if (m.f32) m.f32 += begin * W.cols;
  if (m.pairs) m.pairs += begin * W.cols;
  if (m.panels) m.panels = whole_panels ? m.panels + begin * W.cols : nullptr;
  if (m.q8) m.q8 += begin * W.cols, m.scale += begin;
  if (m.q8_panels) m.q8_panels = whole_panels ? m.q8_panels + begin / kPanelRows * panel_bytes_q8(kPanelRows, W.cols) : nullptr;
  return m;
}
void matvec(const Matrix& W, const Vector& x, const float* bias, float* y) {
  if (W.q8) return q8_product(W, x, bias, y, false);
  if (W.pairs) return matvec_pairs(W.pairs, W.rows, W.cols, x.f32, bias, y);
  if (W.panels) return matvec_panels(W.panels, W.rows, W.cols, x.f32, bias, y);
  matvec(W.f32, W.rows, W.cols, x.f32, bias, y);
}
void matvec(const Matrix& W, const float* x, const float* bias, float* y) { matvec(W, Vector{x}, bias, y); }
void matvec_acc(const Matrix& W, const float* x, float* y) {
  if (W.q8) return q8_product(W, Vector{x}, nullptr, y, true);
  if (W.pairs) return matvec_pairs_acc(W.pairs, W.rows, W.cols, x, y);
  if (W.panels) return matvec_panels_acc(W.panels, W.rows, W.cols, x, y);
  matvec_acc(W.f32, W.rows, W.cols, x, y);
}
void matmul(const Matrix& W, const float* X, size_t n, const float* bias, float* Y, size_t x_stride) {
  if (!x_stride) x_stride = W.cols;
  if (W.panels) return split_positions(&HWY_DYNAMIC_DISPATCH(MatMulPanels), W.panels, W.rows, W.cols, X, x_stride, n, bias, Y);
  if (W.pairs) {  // no matmul kernel on pairs (models that repack step one position at a time)
    for (size_t t = 0; t < n; ++t) matvec_pairs(W.pairs, W.rows, W.cols, X + t * x_stride, bias, Y + t * W.rows);
    return;
  }
  if (!W.q8) return split_positions(&HWY_DYNAMIC_DISPATCH(MatMul), W.f32, W.rows, W.cols, X, x_stride, n, bias, Y);
  if (W.q8_panels) {  // each thread quantizes its own positions
    struct Ctx { const Matrix* W; const float *X, *bias; size_t x_stride; float* Y; } c{&W, X, bias, x_stride, Y};
    auto positions = [](size_t b, size_t e, void* p) {
      auto& c = *static_cast<Ctx*>(p);
      HWY_DYNAMIC_DISPATCH(MatMulQ8Panels)(c.W->q8_panels, c.W->scale, c.W->rows, c.W->cols, c.X + b * c.x_stride,
                                           c.x_stride, e - b, c.bias, c.Y + b * c.W->rows);
    };
    return split_q8_positions(W, n, positions, &c);
  }
  // Larger int8 weights: one position at a time, as matmul_q8 (each quantized by q8_product).
  for (size_t t = 0; t < n; ++t) q8_product(W, Vector{X + t * x_stride}, bias, Y + t * W.rows, false);
}
void matmul_q8(const Matrix& W, const int16_t* xq, size_t stride, const float* xs, size_t n, const float* bias, float* Y) {
  if (!W.q8) throw Error("matmul_q8: the matrix has no int8 weights");
  if (!W.q8_panels) {  // larger int8 weights are a quarter of the bytes: re-reading them per position costs little
    for (size_t t = 0; t < n; ++t) q8_product(W, Vector{nullptr, xq + t * stride, xs[t]}, bias, Y + t * W.rows, false);
    return;
  }
  // The positions through the panels together.
  struct Ctx { const Matrix* W; const int16_t* xq; size_t stride; const float *xs, *bias; float* Y; } c{&W, xq, stride, xs, bias, Y};
  auto positions = [](size_t b, size_t e, void* p) {
    auto& c = *static_cast<Ctx*>(p);
    matmul_q8q8_panels(c.W->q8_panels, c.W->scale, c.W->rows, c.W->cols, c.xq + b * c.stride, c.stride, c.xs + b, e - b,
                       c.bias, c.Y + b * c.W->rows);
  };
  split_q8_positions(W, n, positions, &c);
}

namespace {
// One thread's product: the kernels, without a split.
void matvec_serial(const Matrix& W, const Vector& x, float* y) {
  if (W.q8_panels) return HWY_DYNAMIC_DISPATCH(MatVecQ8Q8Panels)(W.q8_panels, W.scale, W.rows, W.cols, x.q8, x.scale, nullptr, y);
  if (W.q8) {
    return HWY_DYNAMIC_DISPATCH(MatVecQ8Q8)(W.q8, W.scale, W.rows, W.cols, x.q8, x.scale, nullptr, y, W.q8_offset,
                                            W.q8_prefetch);
  }
  if (W.panels) return HWY_DYNAMIC_DISPATCH(MatVecPanels)(W.panels, W.rows, W.cols, x.f32, nullptr, y);
  if (W.pairs) return HWY_DYNAMIC_DISPATCH(MatVecPairs)(W.pairs, W.rows, W.cols, x.f32, nullptr, y);
  HWY_DYNAMIC_DISPATCH(MatVec)(W.f32, W.rows, W.cols, x.f32, nullptr, y);
}
}  // namespace
void matvecs(const float* x, std::initializer_list<Output> products) {
  if (products.size() == 0) return;
  const Matrix& first = products.begin()->W;
  size_t rows = 0;
  for (const Output& o : products) {
    if (o.W.cols != first.cols || !o.W.q8 != !first.q8) throw Error("matvecs: the matrices differ in columns or weight type");
    rows += o.W.rows;
  }
  const Vector v = first.q8 ? with_q8(Vector{x}, first.cols) : Vector{x};
  if (rows * first.cols < (first.q8 ? kParallelMinWeightsQ8 : kParallelMinWeights) || threads() == 1) {
    for (const Output& o : products) matvec(o.W, v, nullptr, o.y);
    return;
  }
  // Split into blocks of kPanelRows rows of one matrix (its last one short), so that a thread's
  // rows of a matrix on panels are whole panels, multiplied as one thread multiplies them.
  size_t blocks = 0;
  for (const Output& o : products) blocks += panel_count(o.W.rows);
  struct Ctx { const Output *begin, *end; Vector x; } c{products.begin(), products.end(), v};
  parallel_for(blocks, 1, [](size_t b, size_t e, void* p) {  // blocks b..e-1 of them all, in order
    const auto& c = *static_cast<Ctx*>(p);
    size_t k0 = 0;  // the first block of *o
    for (const Output* o = c.begin; o != c.end; k0 += panel_count(o->W.rows), ++o) {
      const size_t first = std::max(b, k0), last = std::min(e, k0 + panel_count(o->W.rows));
      if (first >= last) continue;
      const size_t r = (first - k0) * kPanelRows, count = std::min((last - k0) * kPanelRows, o->W.rows) - r;
      matvec_serial(row_block(o->W, r, count), c.x, o->y + r);
    }
  }, &c);
}

float read_sum(const float* p, size_t n) { return HWY_DYNAMIC_DISPATCH(ReadSum)(p, n); }
float fma_peak(size_t iters, float m) { return HWY_DYNAMIC_DISPATCH(FmaPeak)(iters, m); }
size_t fma_peak_flops() { return HWY_DYNAMIC_DISPATCH(FmaPeakFlops)(); }


const char* simd_target() {
#if defined(__EMSCRIPTEN__)
  return hwy::TargetName(HWY_STATIC_TARGET);
#else
  const int64_t t = int64_t(hwy::SupportedTargets()) & int64_t(HWY_TARGETS);
  return hwy::TargetName(t & -t);  // the lowest bit is the best target
#endif
}
}  // namespace ops
}  // namespace argen
#endif  // HWY_ONCE
