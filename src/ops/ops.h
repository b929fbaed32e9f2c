// Numeric kernels (Highway, dispatched to the best SIMD target at run time natively; WASM SIMD128 in
// wasm). Ops know nothing of models. Each has a scalar reference in ops_ref.h that tests compare to.
#pragma once
#include <cstddef>
#include <cstdint>
#include <initializer_list>

namespace argen::ops {

// y = W x (+ bias), W row-major [rows x cols]. bias may be null. y must not alias x.
void matvec(const float* W, size_t rows, size_t cols, const float* x, const float* bias, float* y);
// Y = X W^T (+ bias): X is [n x cols] (n positions), W [rows x cols], Y [n x rows]. For prompt
// prefill: each weight is read once for all n positions instead of once per position.
void matmul(const float* W, size_t rows, size_t cols, const float* X, size_t n, const float* bias, float* Y);
// y += W x.
void matvec_acc(const float* W, size_t rows, size_t cols, const float* x, float* y);
// out = a + b, out = a * b (out may alias a or b).
void add(const float* a, const float* b, float* out, size_t n);
void mul(const float* a, const float* b, float* out, size_t n);
// In place activations.
void tanh(float* x, size_t n);
// In place exp, the same bits on every SIMD target and in wasm (for sampling); about 1 ulp. Results
// below FLT_MIN are 0.
void exp(float* x, size_t n);
void sigmoid(float* x, size_t n);
void relu(float* x, size_t n);
// out = tanh(a) * sigmoid(b) (out may alias a or b).
void tanh_sigmoid_gate(const float* a, const float* b, float* out, size_t n);
// In place softmax; out = log_softmax(x) (out may alias x); log_sum_exp: the l of log_softmax's
// out[i] = x[i] - l (the same bits), for one log-probability without writing them all.
void softmax(float* x, size_t n);
void log_softmax(const float* x, float* out, size_t n);
float log_sum_exp(const float* x, size_t n);
// Index of the largest element (first of equals); n must be > 0. NaN never wins.
size_t argmax(const float* x, size_t n);
// Index of the first NaN in x, n if there is none.
size_t find_nan(const float* x, size_t n);

// Transformer pieces. silu: x*sigmoid(x); gelu: exact (erf); gelu_tanh: tanh approximation.
void silu(float* x, size_t n);
void gelu(float* x, size_t n);
void gelu_tanh(float* x, size_t n);
// Attention of one position's query heads q [heads x head_dim] over n >= 1 cached positions: for head h,
// p_h = softmax(scale * K_h q_h), out_h = p_h V_h. Row t of K and of V holds position t's kv_heads
// heads side by side; query head h reads kv head h / (heads / kv_heads). p_h at p + h * p_stride.
void attention(const float* q, const float* K, const float* V, size_t n, size_t heads, size_t kv_heads, size_t head_dim,
               float scale, float* p, size_t p_stride, float* out);
// out = x / sqrt(mean(x^2) + eps) * w; out = (x - mean(x)) / sqrt(var(x) + eps) * w + b (b may be null).
// out may alias x.
void rms_norm(const float* x, const float* w, float eps, float* out, size_t n);
void layer_norm(const float* x, const float* w, const float* b, float eps, float* out, size_t n);

// int8 weights: W8 [rows x cols] int8 with a float scale per row, w ~ scale * q.
// quantize_rows_q8 makes them: scale = max |row| / 127, q = round(w / scale), so q is in -127..127
// (the int8 x int8 kernels rely on it: AVX2 negates weights, and -128 does not negate).
void quantize_rows_q8(const float* W, size_t rows, size_t cols, int8_t* q, float* scale);
// int8 x float32: y = scale * (W8 x) (+ bias).
void matvec_q8(const int8_t* W, const float* scale, size_t rows, size_t cols, const float* x, const float* bias, float* y);
// int8 x int8. quantize_vector_q8: xq = round(x / xs) in -127..127 (held in int16 lanes), returns
// xs = max |x| / 127 (1 for a zero vector). matvec_q8q8: y = scale * xs * (W8 xq) (+ bias);
// matvec_q8q8_acc: y += scale * xs * (W8 xq).
float quantize_vector_q8(const float* x, size_t n, int16_t* xq);
void matvec_q8q8(const int8_t* W, const float* scale, size_t rows, size_t cols, const int16_t* xq, float xs,
                 const float* bias, float* y);
void matvec_q8q8_acc(const int8_t* W, const float* scale, size_t rows, size_t cols, const int16_t* xq, float xs, float* y);

// Weights in panels (pack_panels): panel p holds rows 32p .. 32p + 31 column by column, each
// column's 32 weights side by side (rows past the matrix are zero). matvec on panels keeps the 32
// sums in registers and adds W[:, c] x[c] per column: a load and a multiply-add per vector of
// weights, no horizontal sums, one pointer. On small matrices that is faster where instructions
// bind: int8 (1.35-1.5x natively on wavenet-20's 64-column matrices), float32 in wasm (1.2-1.5x:
// V8 spends an address computation on each of the row-major kernel's four rows per step) and
// float32 natively where the matrix sits in cache (an Intel Xeon, alone: 64 x 3 183 -> 19 ns,
// 64 x 21 646 -> 37, 128 x 64 352 -> 228; pixelcnn-gated float32 1.06x), not large matrices
// (one stream instead of four; they get no panels). Every matvec takes a matrix's panels when it
// has them. matmul on panels
// holds a block of rows for several positions in registers, so each weight load serves them all
// (1.6-1.8x natively on pixelcnn-gated's 128 x 384 rows, 1.0-1.15x in wasm). use_panels() says
// which matrices models keep a packed copy of.
inline constexpr size_t kPanelRows = 32;
bool use_panels(size_t rows, size_t cols);
size_t panel_floats(size_t rows, size_t cols);  // floats pack_panels writes
void pack_panels(const float* W, size_t rows, size_t cols, float* panels);
// y = W x (+ bias), y += W x, with W packed.
void matvec_panels(const float* panels, size_t rows, size_t cols, const float* x, const float* bias, float* y);
void matvec_panels_acc(const float* panels, size_t rows, size_t cols, const float* x, float* y);
// Y = X W^T (+ bias) as matmul, with W packed.
void matmul_panels(const float* panels, size_t rows, size_t cols, const float* X, size_t n, const float* bias, float* Y);
// float32 weights in row pairs (pack_pairs, in place): each pair of rows r, r + 1 (r even) holds its
// columns in blocks of kPairCols, row r's block then row r + 1's. Rows and columns are multiples of
// 8. matvec on pairs reads four segments of rows in lockstep as the row-major kernel does (four
// streams for the prefetcher) but two rows of each through one pointer: in wasm, where V8 spends
// an address computation on every row per step, that halves them (char-lstm's 2048 x 512 matrices
// 1.08-1.18x in a microbenchmark, the model 1.06-1.14x; eight rows read row-major, eight streams,
// ran 0.6x). use_pairs() says which matrices a model whose weights are read only through products
// repacks: in wasm, those too large for panels.
inline constexpr size_t kPairCols = 8;
bool use_pairs(size_t rows, size_t cols);
void pack_pairs(float* W, size_t rows, size_t cols);
void matvec_pairs(const float* pairs, size_t rows, size_t cols, const float* x, const float* bias, float* y);
void matvec_pairs_acc(const float* pairs, size_t rows, size_t cols, const float* x, float* y);

// int8 weights likewise (pack_panels_q8): per panel, groups of kPanelColsQ8 = 4 columns in order,
// each row's weights of a group side by side (the last group padded with zeros); the int8 x int8
// products on them. AVX2 multiplies bytes and sums a row's four in one 32-bit lane (vpmaddubsw,
// vpmaddwd; wavenet-20 native int8 1.2x over pairs widened to int16), as AVX-512 VNNI's vpdpbusd
// does in one instruction (AVX3_DL). In wasm builds (kPanelsQ8Offset) the even columns are stored
// in offset form (below), so that the wasm kernels read a row's column pairs as int16 lanes
// without widening (wavenet-20's panels 1.3x over two columns per group widened to int16).
inline constexpr size_t kPanelColsQ8 = 4;
#if defined(__EMSCRIPTEN__)
inline constexpr bool kPanelsQ8Offset = true;
#else
inline constexpr bool kPanelsQ8Offset = false;
#endif
// Native panels end with their rows' sums (kPanelSumsQ8: -128 times the sum of each row's weights,
// int32, after the panel's weights). AVX-512 VNNI multiplies x + 128 as unsigned bytes by the
// weights as they are, and starts each row's sum from its -128 sum: per 16 rows and 4 columns one
// vpdpbusd, where the weights + 128 by x took an xor too (both on the two ports that run vpdpbusd):
// wavenet-20 native int8 1.07x, pixelcnn-gated 1.08x (alternated, same tokens).
inline constexpr bool kPanelSumsQ8 = !kPanelsQ8Offset;
// cols up to whole groups: a panel row's bytes, and the values of x the kernels read.
inline constexpr size_t padded_cols_q8(size_t cols) { return (cols + kPanelColsQ8 - 1) / kPanelColsQ8 * kPanelColsQ8; }
inline constexpr size_t panel_stride_q8(size_t cols) {  // bytes from one panel to the next
  return kPanelRows * padded_cols_q8(cols) + (kPanelSumsQ8 ? kPanelRows * sizeof(int32_t) : 0);
}
size_t panel_bytes_q8(size_t rows, size_t cols);
void pack_panels_q8(const int8_t* W8, size_t rows, size_t cols, int8_t* panels);
void matvec_q8q8_panels(const int8_t* panels, const float* scale, size_t rows, size_t cols, const int16_t* xq, float xs,
                        const float* bias, float* y);
void matvec_q8q8_panels_acc(const int8_t* panels, const float* scale, size_t rows, size_t cols, const int16_t* xq,
                            float xs, float* y);
// n positions at once: Y[t] = scale * xs[t] * (W8 xq[t]) (+ bias), xq[t] at xq + t * stride (stride
// a multiple of kPanelColsQ8, columns past cols zero). Each position's outputs equal
// matvec_q8q8_panels'.
void matmul_q8q8_panels(const int8_t* panels, const float* scale, size_t rows, size_t cols, const int16_t* xq,
                        size_t stride, const float* xs, size_t n, const float* bias, float* Y);

// int8 rows in offset form (offset_q8, in place): each row's even columns hold q + 128 as a byte,
// q with its sign bit flipped. The wasm row kernel reads a column pair as one int16 lane whose low
// byte must be unsigned; stored so, it saves one of its seven instructions per row and 16 columns
// (an xor). wasm, old and new packages alternated in one process: char-lstm int8 1.11x (faster in
// 15 of 16; 2 threads 1.12x), llama-15m int8 1.02-1.09x (three sets of 16; 2 threads 1.01x). Every
// target's kernel reads the form (Matrix::q8_offset); models store their int8 rows so where
// kQ8Offset: in wasm. Panels are packed from the plain form.
#if defined(__EMSCRIPTEN__)
inline constexpr bool kQ8Offset = true;
#else
inline constexpr bool kQ8Offset = false;
#endif
void offset_q8(int8_t* q8, size_t rows, size_t cols);

// int8 rows read ahead (software prefetch, natively): where a step's weights come from memory, not
// cache, the hardware prefetcher falls behind the int8 row kernel; prefetching each row's cache
// line 1.5 KB ahead made llama-15m's int8 step (15 MB of weights in 43 matrices) 1.08-1.3x faster,
// alternated. Where they stay in cache it costs the prefetch instructions: char-lstm's 3.3 MB
// 0.93x (and the float32 kernel, which streams at memory's pace, 0.83x on llama-15m: it does not).
// use_prefetch_q8(weights): whether a model with that many weights in all has its int8 rows read
// ahead (Matrix::q8_prefetch).
bool use_prefetch_q8(size_t model_weights);

// A weight matrix [rows x cols] in either storage: float32 (f32 set, row-major, or pairs set instead:
// repacked in place) or int8 with per-row scales (q8 and scale set, row-major; q8_offset: in offset
// form, which its panels are not; q8_prefetch: read ahead), each with a copy in
// panels (panels / q8_panels) where use_panels() asked for one. The products below pick the kernel: float32 x float32, or int8 x int8
// after quantizing x (and each row of X) to int8 with one scale; on the panels if there are any.
struct Matrix {
  const float* f32 = nullptr;
  const float* panels = nullptr;
  const float* pairs = nullptr;
  const int8_t* q8 = nullptr;
  const int8_t* q8_panels = nullptr;
  const float* scale = nullptr;
  bool q8_offset = false;
  bool q8_prefetch = false;
  size_t rows = 0, cols = 0;
};
// Rows begin..begin+count of W (panels kept where begin starts a panel; on pairs, begin and count
// multiples of 8).
Matrix row_block(const Matrix& W, size_t begin, size_t count);
void matvec(const Matrix& W, const float* x, const float* bias, float* y);
void matvec_acc(const Matrix& W, const float* x, float* y);
// x with its int8 form (quantize_vector_q8: x ~ scale * q8), for a vector that several int8
// products read: quantized once instead of per product. Without q8 it is quantized per product.
struct Vector {
  const float* f32 = nullptr;
  const int16_t* q8 = nullptr;
  float scale = 0;
};
void matvec(const Matrix& W, const Vector& x, const float* bias, float* y);
// Y = X W^T (+ bias) over n positions, position t at X + t * x_stride (0: W.cols; positions may
// overlap: sliding windows of a convolution's input).
void matmul(const Matrix& W, const float* X, size_t n, const float* bias, float* Y, size_t x_stride = 0);
// The same for int8 weights with the positions already quantized (quantize_vector_q8): position t
// at xq + t * stride with scale xs[t], stride a multiple of kPanelColsQ8, zeros past cols.
void matmul_q8(const Matrix& W, const int16_t* xq, size_t stride, const float* xs, size_t n, const float* bias, float* Y);
// Products of one vector with several matrices of its length and weight type (llama's q, k and v;
// w1 and w3): y = W x for each, as matvec without bias, but x is quantized once for int8 weights
// and the threads split the rows of them all together (one alone may be too small to split).
struct Output {
  const Matrix& W;
  float* y;
};
void matvecs(const float* x, std::initializer_list<Output> products);

// Roofline probes (bench/roofline): read_sum streams n floats; fma_peak runs `iters` rounds of
// independent vector multiply-adds on registers, fma_peak_flops() flops per round. Both return a
// value so the work cannot be optimised away.
float read_sum(const float* p, size_t n);
float fma_peak(size_t iters, float m);
size_t fma_peak_flops();

// Name of the SIMD target the dispatcher picked (for `argen info` and benchmarks).
const char* simd_target();

}  // namespace argen::ops
