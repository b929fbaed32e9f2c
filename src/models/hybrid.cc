// arch "hybrid" (models/hybrid_lm.py): nn.GRU or nn.LSTM layers over the embeddings, then
// GPT-style pre-LayerNorm causal attention blocks (fused c_attn, biases, GELU; no positional
// embedding: the recurrence carries order), final LayerNorm and a bias-free head.
// The State holds the recurrent h (and c) and the attention KV cache together; the recurrence is
// unbounded but the cache holds context_length positions.
#include <cmath>
#include <cstdint>
#include <vector>

#include "core/error.h"
#include "models/blocks.h"
#include "models/model.h"
#include "ops/ops.h"

namespace argen {
namespace {

struct Config {
  int V = 0, E = 0, D = 0, R = 0, L = 0, H = 0, F = 0, T = 0, hd = 0;  // vocab, embedding, width,
  bool lstm = false, gelu_tanh = false;                                  // rnn layers, blocks, heads,
  float eps = 1e-5f;                                                     // ffn, context, head size
};

struct RnnLayer {
  Weight w_ih, w_hh;  // [G*D, in], [G*D, D]
  Tensor b_ih, b_hh;  // [G*D], [G*D]
};

struct Block {
  Tensor ln1_w, ln1_b, bqkv, bo, ln2_w, ln2_b, b1, b2;
  Weight wqkv, wo, w1, w2;
};

// Activations for n positions at a time (n = 1 for a step: preallocated in the state).
struct Scratch {
  std::vector<float> e, x, h, qkv, a, ff, gi, gh;  // [n,E] [n,D] [n,D] [n,3D] [n,D] [n,F] [n,G*D] [G*D]
  void resize(size_t n, const Config& c) {
    const size_t G = c.lstm ? 4 : 3;
    e.resize(n * c.E), x.resize(n * c.D), h.resize(n * c.D), qkv.resize(n * 3 * c.D), a.resize(n * c.D);
    ff.resize(n * c.F), gi.resize(n * G * c.D), gh.resize(G * c.D);
  }
};

struct HybridState : State {
  int pos = 0;
  Scratch one;
  std::vector<float> rh, rc;          // [R, D]: recurrent h, and c (lstm)
  KVCache cache;
};

class HybridLM : public CachedModel<HybridLM, HybridState> {
 public:
  explicit HybridLM(std::shared_ptr<const ModelFile> f) : CachedModel(std::move(f)) {
    const ModelFile& mf = *file_;
    Config& c = c_;
    c.V = int(mf.config_int("vocab_size", 1, 1 << 24));
    c.E = int(mf.config_int("embedding_dim", 1, 1 << 16));
    c.D = int(mf.config_int("dim", 1, 1 << 16));
    c.R = int(mf.config_int("rnn_layers", 1, 1024));
    c.L = int(mf.config_int("n_layers", 1, 1024));
    c.H = int(mf.config_int("n_heads", 1, 1024));
    c.F = int(mf.config_int("hidden_dim", 1, 1 << 20, 4 * int64_t(c.D)));
    c.T = int(mf.config_int("context_length", 1, 1 << 20));
    if (c.D % c.H) throw mf.error("config: n_heads " + std::to_string(c.H) + " does not divide dim " + std::to_string(c.D));
    c.hd = c.D / c.H;
    const std::string rnn = mf.config_string("rnn", "");
    if (rnn != "gru" && rnn != "lstm") throw mf.error("config key 'rnn' is '" + rnn + "', expected 'gru' or 'lstm'");
    c.lstm = rnn == "lstm";
    const std::string g = mf.config_string("gelu", "exact");
    if (g != "exact" && g != "tanh") throw mf.error("config key 'gelu' is '" + g + "', expected 'exact' or 'tanh'");
    c.gelu_tanh = g == "tanh";
    c.eps = config_positive(mf, "norm_eps", 1e-5f);
    check_cache_size(mf, c.L, c.T, size_t(c.D), c.H);
    load_weights();
    describe(c.V, c.T);
    info_.attention_layers = c.L;
    info_.attention_heads = c.H;
  }

  std::unique_ptr<State> new_state() const override {
    auto s = std::make_unique<HybridState>();
    s->one.resize(1, c_);
    s->rh.assign(size_t(c_.R) * c_.D, 0);
    if (c_.lstm) s->rc.assign(size_t(c_.R) * c_.D, 0);
    s->cache.init(c_.L, c_.T, c_.H, c_.H, c_.hd);
    return s;
  }




 private:
  void norm(const Tensor& w, const Tensor& b, const float* x, size_t n, float* out) const {
    for (size_t i = 0; i < n; ++i) ops::layer_norm(x + i * c_.D, w.data, b.data, c_.eps, out + i * c_.D, c_.D);
  }

  // One recurrent layer over n positions: gi holds W_ih x + b_ih for each; writes h to out [n, D].
  void recur(HybridState& s, int k, size_t n, Scratch& m, float* out) const {
    const RnnLayer& l = rnn_[k];
    const size_t D = c_.D, GD = (c_.lstm ? 4 : 3) * D;
    float* h = s.rh.data() + k * D;
    float* gh = m.gh.data();
    for (size_t i = 0; i < n; ++i) {
      float* g = m.gi.data() + i * GD;
      ops::matvec(l.w_hh, h, l.b_hh.data, gh);
      if (c_.lstm) {
        ops::add(g, gh, g, GD);
        lstm_cell(g, s.rc.data() + k * D, h, D);
      } else {
        gru_cell(g, gh, h, D);
      }
      std::copy(h, h + D, out + i * D);
    }
  }

  friend class CachedModel<HybridLM, HybridState>;
  const Config& config() const { return c_; }
  void forward(HybridState& s, const int* tokens, size_t n, Scratch& m, float* logits) const {
    const Config& c = c_;
    const size_t D = c.D, F = c.F;
    check_tokens(tokens, n, c.V, s.pos, c.T);
    float *x = m.x.data(), *h = m.h.data(), *a = m.a.data(), *ff = m.ff.data();
    // recurrent layers (input projections batched, W_hh h per position): x <- the last layer's h
    float* e = m.e.data();
    for (size_t i = 0; i < n; ++i)
      std::copy(embed_.data + size_t(tokens[i]) * c.E, embed_.data + size_t(tokens[i] + 1) * c.E, e + i * c.E);
    for (int k = 0; k < c.R; ++k) {
      linear(rnn_[k].w_ih, rnn_[k].b_ih, k == 0 ? e : x, n, m.gi.data());
      recur(s, k, n, m, x);
    }
    for (int l = 0; l < c.L; ++l) {
      const Block& b = blocks_[l];
      norm(b.ln1_w, b.ln1_b, x, n, h);
      linear(b.wqkv, b.bqkv, h, n, m.qkv.data());
      for (size_t i = 0; i < n; ++i) {
        const int p = s.pos + int(i);
        const float* qkv = m.qkv.data() + i * 3 * D;
        std::copy(qkv + D, qkv + 2 * D, s.cache.key(l, p));
        std::copy(qkv + 2 * D, qkv + 3 * D, s.cache.value(l, p));
        s.cache.attend(l, p, qkv, a + i * D);
      }
      linear(b.wo, b.bo, a, n, h);
      ops::add(x, h, x, n * D);
      norm(b.ln2_w, b.ln2_b, x, n, h);
      linear(b.w1, b.b1, h, n, ff);
      if (c.gelu_tanh) {
        ops::gelu_tanh(ff, n * F);
      } else {
        ops::gelu(ff, n * F);
      }
      linear(b.w2, b.b2, ff, n, h);
      ops::add(x, h, x, n * D);
    }
    norm(ln_f_w_, ln_f_b_, x + (n - 1) * D, 1, h);
    ops::matvec(head_, h, nullptr, logits);
    s.pos += int(n);
  }

  void load_weights() {
    const Config& c = c_;
    const int64_t D = c.D, F = c.F, GD = (c.lstm ? 4 : 3) * D;
    embed_ = weight("embed.weight", {c.V, c.E});
    for (int k = 0; k < c.R; ++k) {
      const std::string s = std::to_string(k);
      RnnLayer l;
      l.w_ih = matrix("rnn.weight_ih_l" + s, {GD, k == 0 ? c.E : D});
      l.w_hh = matrix("rnn.weight_hh_l" + s, {GD, D});
      l.b_ih = weight("rnn.bias_ih_l" + s, {GD});
      l.b_hh = weight("rnn.bias_hh_l" + s, {GD});
      rnn_.push_back(std::move(l));
    }
    for (int i = 0; i < c.L; ++i) {
      const std::string p = "blocks." + std::to_string(i) + ".";
      Block b;
      b.ln1_w = weight(p + "ln_1.weight", {D});
      b.ln1_b = weight(p + "ln_1.bias", {D});
      b.wqkv = matrix(p + "attn.c_attn.weight", {3 * D, D});
      b.bqkv = weight(p + "attn.c_attn.bias", {3 * D});
      b.wo = matrix(p + "attn.c_proj.weight", {D, D});
      b.bo = weight(p + "attn.c_proj.bias", {D});
      b.ln2_w = weight(p + "ln_2.weight", {D});
      b.ln2_b = weight(p + "ln_2.bias", {D});
      b.w1 = matrix(p + "mlp.c_fc.weight", {F, D});
      b.b1 = weight(p + "mlp.c_fc.bias", {F});
      b.w2 = matrix(p + "mlp.c_proj.weight", {D, F});
      b.b2 = weight(p + "mlp.c_proj.bias", {D});
      blocks_.push_back(std::move(b));
    }
    ln_f_w_ = weight("ln_f.weight", {D});
    ln_f_b_ = weight("ln_f.bias", {D});
    head_ = matrix("head.weight", {c.V, D});
  }

  Config c_;
  Tensor embed_, ln_f_w_, ln_f_b_;
  Weight head_;
  std::vector<RnnLayer> rnn_;
  std::vector<Block> blocks_;
};

}  // namespace

std::unique_ptr<Model> create_hybrid(std::shared_ptr<const ModelFile> file) {
  return std::make_unique<HybridLM>(std::move(file));
}

}  // namespace argen
