// Building blocks shared by the model files: the KV cache with causal attention, PyTorch's LSTM and
// GRU cells, convolutions as matrix products, the gated tanh x sigmoid unit, a linear layer over n positions, and load-time config checks. Unlike ops, these know
// the conventions of the models (gate order, cache layout).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/model_file.h"
#include "models/model.h"

namespace argen {

// Y[n, rows] = X[n, cols] W^T + b (b may be empty): a matrix-vector product for one position, a
// matrix-matrix product for more (prompt prefill), so each weight is read once either way.
void linear(const Weight& W, const Tensor& b, const float* X, size_t n, float* Y);
// Several linear layers without bias on the same X (llama's q, k and v; w1 and w3): for one
// position one call (ops::matvecs: X quantized once, the threads split them together), for more a
// matrix-matrix product each.
void linears(const float* X, size_t n, std::initializer_list<ops::Output> layers);

// PyTorch's LSTM cell on gates g = W_ih x + b_ih + W_hh h + b_hh, [4H] in order i, f, g, o:
// c = f*c + i*g, h = o*tanh(c). Clobbers g.
void lstm_cell(float* g, float* c, float* h, size_t H);
// PyTorch's GRU cell on gi = W_ih x + b_ih and gh = W_hh h + b_hh, [3H] in order r, z, n:
// n = tanh(gi_n + r*gh_n), h = (1-z)*n + z*h. Clobbers gi and gh.
void gru_cell(float* gi, float* gh, float* h, size_t H);

// Convolutions as matrix products (image and audio models).
// A convolution weight [O, C, kh, kw] (or [O, C, kw]) as a matrix [O, kh*kw*C] whose columns follow
// the patches gather_patch() builds: column (dy*kw + dx)*C + c.
std::vector<float> conv_matrix(const Tensor& w);
// The kh x kw patch whose top-left element is (i - top, j - left) of `plane` [H, W, C], zeros
// outside the image: out[(dy*kw + dx)*C + c].
void gather_patch(const float* plane, int H, int W, int C, int i, int j, int kh, int kw, int top,
                  int left, float* out);
// The gated unit: out[k] = tanh(a[k]) * sigmoid(a[n + k]), k < n.
void gate(const float* a, size_t n, float* out);

// Keys and values of every position so far, per layer, and the attention of the newest position.
struct KVCache {
  int L = 0, T = 0, H = 0, KV = 0, hd = 0;  // layers, context, query heads, kv heads, head size
  std::vector<float> k, v;                  // [L, T, KV*hd]
  std::vector<float> att;                   // [L, H, T]
  void init(int layers, int context, int heads, int kv_heads, int head_dim);
  size_t kv_dim() const { return size_t(KV) * hd; }
  float* key(int l, int pos) { return k.data() + (size_t(l) * T + pos) * kv_dim(); }
  float* value(int l, int pos) { return v.data() + (size_t(l) * T + pos) * kv_dim(); }
  // Causal attention of position `pos` in layer l over positions 0..pos: q and out hold H heads.
  // Query head h reads kv head h / (H / KV) (grouped-query attention).
  void attend(int l, int pos, const float* q, float* out);
  // Layer l's attention of the newest of `positions` positions: heads x positions into out.
  int report(int l, int positions, std::vector<float>* out) const;
};

// The Model plumbing every attention model shares. Derived provides
//   forward(StateT&, const int* tokens, size_t n, Scratch&, float* logits): n positions at once;
//   config(): what Scratch::resize(n, config) needs.
// StateT holds `pos`, `one` (a Scratch for single steps, so a step allocates nothing) and `cache`.
template <class Derived, class StateT>
class CachedModel : public Model {
 public:
  using Model::Model;
  void step(State& state, int token, float* logits) const override {
    auto& s = static_cast<StateT&>(state);
    self().forward(s, &token, 1, s.one, logits);
  }
  // The whole prompt at once: every projection is a matrix-matrix product over its positions.
  void prefill(State& state, const int* tokens, size_t n, float* logits) const override {
    if (n == 0) return;
    decltype(StateT::one) m;
    m.resize(n, self().config());
    self().forward(static_cast<StateT&>(state), tokens, n, m, logits);
  }
  int attention(const State& state, int layer, std::vector<float>* out) const override {
    const auto& s = static_cast<const StateT&>(state);
    return s.cache.report(layer, s.pos, out);
  }

 private:
  const Derived& self() const { return static_cast<const Derived&>(*this); }
};

// Refuses, at load, a config whose per-stream KV cache could never be allocated (a small file can
// claim a huge context): 2 GiB, the wasm heap's practical ceiling.
constexpr uint64_t kMaxCacheBytes = uint64_t(2) << 30;
// Counts the keys, values and the attention weights of `heads` heads (KVCache::init's buffers).
void check_cache_size(const ModelFile& mf, int layers, int context, size_t kv_dim, int heads);
// Refuses, at load, a per-stream state (`what`: "the generation cache", "the dilation queues") of
// more than kMaxCacheBytes.
void check_state_bytes(const ModelFile& mf, uint64_t bytes, const char* what);
// A positive number from the config (eps, rope theta), or `fallback` when absent.
float config_positive(const ModelFile& mf, const std::string& key, float fallback);
// Throws unless every token is in the vocabulary and positions pos..pos+n-1 fit the context.
void check_tokens(const int* tokens, size_t n, int vocab, int pos, int context);

}  // namespace argen
