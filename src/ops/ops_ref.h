// Plain scalar references for every kernel in ops.h. Slow and obviously right; tests compare to these.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>

namespace argen::ops::ref {

inline void matvec(const float* W, size_t rows, size_t cols, const float* x, const float* bias, float* y) {
  for (size_t r = 0; r < rows; ++r) {
    double s = bias ? bias[r] : 0.0;
    for (size_t c = 0; c < cols; ++c) s += double(W[r * cols + c]) * x[c];
    y[r] = float(s);
  }
}
// scale = max |row| / 127 (1 for a zero row), q = round(w / scale) to nearest, ties to even.
inline void quantize_rows_q8(const float* W, size_t rows, size_t cols, int8_t* q, float* scale) {
  for (size_t r = 0; r < rows; ++r) {
    const float* w = W + r * cols;
    float m = 0;
    for (size_t c = 0; c < cols; ++c) m = std::max(m, std::fabs(w[c]));
    scale[r] = m > 0 ? m / 127.0f : 1.0f;
    const float inv = 1.0f / scale[r];
    for (size_t c = 0; c < cols; ++c) q[r * cols + c] = int8_t(std::lrint(std::clamp(w[c] * inv, -127.0f, 127.0f)));
  }
}
inline void matvec_q8(const int8_t* W, const float* scale, size_t rows, size_t cols, const float* x, const float* bias,
                      float* y) {
  for (size_t r = 0; r < rows; ++r) {
    double s = 0;
    for (size_t c = 0; c < cols; ++c) s += double(W[r * cols + c]) * x[c];
    y[r] = float(s * scale[r] + (bias ? bias[r] : 0.0));
  }
}
inline void matvec_q8q8(const int8_t* W, const float* scale, size_t rows, size_t cols, const int16_t* xq, float xs,
                        const float* bias, float* y) {
  for (size_t r = 0; r < rows; ++r) {
    int64_t s = 0;
    for (size_t c = 0; c < cols; ++c) s += int64_t(W[r * cols + c]) * xq[c];
    y[r] = float(double(s) * scale[r] * xs + (bias ? bias[r] : 0.0));
  }
}
inline void matmul(const float* W, size_t rows, size_t cols, const float* X, size_t n, const float* bias, float* Y) {
  for (size_t t = 0; t < n; ++t) matvec(W, rows, cols, X + t * cols, bias, Y + t * rows);
}
inline void matvec_acc(const float* W, size_t rows, size_t cols, const float* x, float* y) {
  for (size_t r = 0; r < rows; ++r) {
    double s = y[r];
    for (size_t c = 0; c < cols; ++c) s += double(W[r * cols + c]) * x[c];
    y[r] = float(s);
  }
}
inline void add(const float* a, const float* b, float* out, size_t n) {
  for (size_t i = 0; i < n; ++i) out[i] = a[i] + b[i];
}
inline void mul(const float* a, const float* b, float* out, size_t n) {
  for (size_t i = 0; i < n; ++i) out[i] = a[i] * b[i];
}
inline void tanh(float* x, size_t n) {
  for (size_t i = 0; i < n; ++i) x[i] = std::tanh(x[i]);
}
inline void exp(float* x, size_t n) {
  for (size_t i = 0; i < n; ++i) x[i] = float(std::exp(double(x[i])));
}
inline void sigmoid(float* x, size_t n) {
  for (size_t i = 0; i < n; ++i) x[i] = float(1.0 / (1.0 + std::exp(-double(x[i]))));
}
inline void tanh_sigmoid_gate(const float* a, const float* b, float* out, size_t n) {
  for (size_t i = 0; i < n; ++i) out[i] = std::tanh(a[i]) / (1.0f + std::exp(-b[i]));
}
inline void relu(float* x, size_t n) {
  for (size_t i = 0; i < n; ++i) x[i] = x[i] > 0.f ? x[i] : 0.f;
}
inline void softmax(float* x, size_t n) {
  double m = x[0];
  for (size_t i = 1; i < n; ++i) m = std::fmax(m, x[i]);
  double s = 0;
  for (size_t i = 0; i < n; ++i) s += std::exp(x[i] - m);
  for (size_t i = 0; i < n; ++i) x[i] = float(std::exp(x[i] - m) / s);
}
inline void log_softmax(const float* x, float* out, size_t n) {
  double m = x[0];
  for (size_t i = 1; i < n; ++i) m = std::fmax(m, x[i]);
  double s = 0;
  for (size_t i = 0; i < n; ++i) s += std::exp(x[i] - m);
  double l = m + std::log(s);
  for (size_t i = 0; i < n; ++i) out[i] = float(x[i] - l);
}
inline size_t argmax(const float* x, size_t n) {
  size_t best = 0;
  for (size_t i = 1; i < n; ++i)
    if (x[i] > x[best] || (std::isnan(x[best]) && !std::isnan(x[i]))) best = i;
  return best;
}

inline void silu(float* x, size_t n) {
  for (size_t i = 0; i < n; ++i) x[i] = float(x[i] / (1.0 + std::exp(-double(x[i]))));
}
inline void gelu(float* x, size_t n) {
  for (size_t i = 0; i < n; ++i) x[i] = float(0.5 * x[i] * (1.0 + std::erf(x[i] / std::sqrt(2.0))));
}
inline void gelu_tanh(float* x, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    double v = x[i];
    x[i] = float(0.5 * v * (1.0 + std::tanh(std::sqrt(2.0 / M_PI) * (v + 0.044715 * v * v * v))));
  }
}
inline void attention(const float* q, const float* K, const float* V, size_t n, size_t heads, size_t kv_heads,
                      size_t head_dim, float scale, float* p, size_t p_stride, float* out) {
  const size_t row = kv_heads * head_dim;
  for (size_t h = 0; h < heads; ++h) {
    const size_t kv = h / (heads / kv_heads) * head_dim;
    float* ph = p + h * p_stride;
    for (size_t t = 0; t < n; ++t) {
      double s = 0;
      for (size_t c = 0; c < head_dim; ++c) s += double(q[h * head_dim + c]) * K[t * row + kv + c];
      ph[t] = float(s * scale);
    }
    softmax(ph, n);
    for (size_t c = 0; c < head_dim; ++c) {
      double o = 0;
      for (size_t t = 0; t < n; ++t) o += double(ph[t]) * V[t * row + kv + c];
      out[h * head_dim + c] = float(o);
    }
  }
}
inline void rms_norm(const float* x, const float* w, float eps, float* out, size_t n) {
  double ss = 0;
  for (size_t i = 0; i < n; ++i) ss += double(x[i]) * x[i];
  const double scale = 1.0 / std::sqrt(ss / double(n) + eps);
  for (size_t i = 0; i < n; ++i) out[i] = float(x[i] * scale * w[i]);
}
inline void layer_norm(const float* x, const float* w, const float* b, float eps, float* out, size_t n) {
  double mean = 0, var = 0;
  for (size_t i = 0; i < n; ++i) mean += x[i];
  mean /= double(n);
  for (size_t i = 0; i < n; ++i) var += (x[i] - mean) * (x[i] - mean);
  const double scale = 1.0 / std::sqrt(var / double(n) + eps);
  for (size_t i = 0; i < n; ++i) out[i] = float((x[i] - mean) * scale * w[i] + (b ? b[i] : 0.0));
}

}  // namespace argen::ops::ref
