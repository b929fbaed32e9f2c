#include "models/blocks.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "ops/ops.h"

namespace argen {

void linear(const Weight& W, const Tensor& b, const float* X, size_t n, float* Y) {
  if (n == 1) {
    ops::matvec(W, X, b.data, Y);
  } else {
    ops::matmul(W, X, n, b.data, Y);
  }
}

void linears(const float* X, size_t n, std::initializer_list<ops::Output> layers) {
  if (n == 1) return ops::matvecs(X, layers);
  for (const ops::Output& o : layers) ops::matmul(o.W, X, n, nullptr, o.y);
}

void lstm_cell(float* g, float* c, float* h, size_t H) {
  ops::sigmoid(g, 2 * H);      // i, f
  ops::tanh(g + 2 * H, H);     // g
  ops::sigmoid(g + 3 * H, H);  // o
  for (size_t j = 0; j < H; ++j) c[j] = g[H + j] * c[j] + g[j] * g[2 * H + j];
  std::copy(c, c + H, h);
  ops::tanh(h, H);
  ops::mul(h, g + 3 * H, h, H);
}

void gru_cell(float* gi, float* gh, float* h, size_t H) {
  ops::add(gi, gh, gi, 2 * H);  // r, z pre-activations
  ops::sigmoid(gi, 2 * H);
  ops::mul(gi, gh + 2 * H, gh + 2 * H, H);  // r * (W_hn h + b_hn)
  ops::add(gi + 2 * H, gh + 2 * H, gi + 2 * H, H);
  ops::tanh(gi + 2 * H, H);  // n
  for (size_t j = 0; j < H; ++j) h[j] = (1.f - gi[H + j]) * gi[2 * H + j] + gi[H + j] * h[j];
}

void KVCache::init(int layers, int context, int heads, int kv_heads, int head_dim) {
  L = layers, T = context, H = heads, KV = kv_heads, hd = head_dim;
  k.assign(size_t(L) * T * kv_dim(), 0.f);
  v.assign(size_t(L) * T * kv_dim(), 0.f);
  att.assign(size_t(L) * H * T, 0.f);
}

void KVCache::attend(int l, int pos, const float* q, float* out) {
  const size_t offset = size_t(l) * T * kv_dim();
  ops::attention(q, k.data() + offset, v.data() + offset, size_t(pos) + 1, H, KV, hd, 1.f / std::sqrt(float(hd)),
                 att.data() + size_t(l) * H * T, T, out);
}

int KVCache::report(int l, int positions, std::vector<float>* out) const {
  if (l < 0 || l >= L || positions <= 0) return 0;
  out->resize(size_t(H) * positions);
  for (int h = 0; h < H; ++h) {
    const float* a = att.data() + (size_t(l) * H + h) * T;
    std::copy(a, a + positions, out->data() + size_t(h) * positions);
  }
  return positions;
}

void check_cache_size(const ModelFile& mf, int layers, int context, size_t kv_dim, int heads) {
  const double bytes = (2.0 * double(kv_dim) + heads) * layers * double(context) * sizeof(float);
  if (bytes > double(kMaxCacheBytes))
    throw mf.error("config: context_length " + std::to_string(context) + " needs a KV cache of " +
                   std::to_string(uint64_t(bytes)) + " bytes per stream, over the limit of " + std::to_string(kMaxCacheBytes));
}

void check_state_bytes(const ModelFile& mf, uint64_t bytes, const char* what) {
  if (bytes > kMaxCacheBytes)
    throw mf.error(std::string(what) + " would need " + std::to_string(bytes >> 20) + " MiB, over the limit of " +
                   std::to_string(kMaxCacheBytes >> 20) + " MiB");
}

float config_positive(const ModelFile& mf, const std::string& key, float fallback) {
  if (!mf.config().contains(key)) return fallback;
  const auto& v = mf.config()[key];
  if (!v.is_number() || !(v.get<double>() > 0)) throw mf.error("config key '" + key + "' must be a positive number, found " + json_brief(v));
  return v.get<float>();
}

void check_tokens(const int* tokens, size_t n, int vocab, int pos, int context) {
  if (context > 0 && size_t(pos) + n > size_t(context))
    throw Error(std::to_string(pos + n) + " positions do not fit the context of " + std::to_string(context) + " tokens");
  for (size_t i = 0; i < n; ++i)
    if (tokens[i] < 0 || tokens[i] >= vocab)
      throw Error("token id " + std::to_string(tokens[i]) + " is out of range for vocabulary size " + std::to_string(vocab));
}

std::vector<float> conv_matrix(const Tensor& w) {
  const int64_t O = w.shape[0], C = w.shape[1], kh = w.shape.size() > 3 ? w.shape[2] : 1, kw = w.shape.back();
  std::vector<float> m(w.size());
  for (int64_t o = 0; o < O; ++o)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t dy = 0; dy < kh; ++dy)
        for (int64_t dx = 0; dx < kw; ++dx)
          m[o * kh * kw * C + (dy * kw + dx) * C + c] = w.data[((o * C + c) * kh + dy) * kw + dx];
  return m;
}

void gather_patch(const float* plane, int H, int W, int C, int i, int j, int kh, int kw, int top,
                  int left, float* out) {
  // Per row of the kernel, the columns inside the image are adjacent in the plane: one copy.
  for (int dy = 0; dy < kh; ++dy, out += size_t(kw) * C) {
    const int y = i - top + dy, x0 = j - left;
    const int a = y < 0 || y >= H ? kw : std::clamp(-x0, 0, kw), b = std::clamp(W - x0, a, kw);  // [a, b) inside
    std::fill(out, out + size_t(a) * C, 0.0f);
    if (b > a) std::copy_n(plane + (size_t(y) * W + x0 + a) * C, size_t(b - a) * C, out + size_t(a) * C);
    std::fill(out + size_t(b) * C, out + size_t(kw) * C, 0.0f);
  }
}

void gate(const float* a, size_t n, float* out) { ops::tanh_sigmoid_gate(a, a + n, out, n); }

}  // namespace argen
