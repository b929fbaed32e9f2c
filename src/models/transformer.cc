// Decoder-only transformers with a KV cache, one file for both families:
//   gpt   (nanoGPT names): learned positions, pre-LayerNorm, GELU MLP, fused qkv, biases optional;
//   llama (llama2.c names): RMSNorm, RoPE (interleaved pairs), SwiGLU, grouped-query attention.
// Both: tied or separate head. One code path runs n positions at a time: n = 1 for a decode step
// (matrix-vector products), the whole prompt for prefill (matrix-matrix products).
#include <cmath>
#include <vector>

#include "core/error.h"
#include "models/blocks.h"
#include "models/model.h"
#include "ops/ops.h"

namespace argen {
namespace {

struct Config {
  bool llama = false;
  int V = 0, D = 0, L = 0, H = 0, KV = 0, F = 0, T = 0;  // vocab, width, layers, heads, kv heads, ffn, context
  int hd = 0;                                            // head size
  float eps = 1e-5f, rope_theta = 10000.f;
  bool bias = true, tied = false, gelu_tanh = false;
};

struct Block {
  Tensor norm1_w, norm1_b, norm2_w, norm2_b;
  Weight wqkv;                // gpt: fused [3D, D]
  Weight wq, wk, wv;          // llama
  Weight wo;                  // [D, D]
  Weight w1, w2, w3;          // gpt: c_fc [F, D], c_proj [D, F]; llama: w1, w3 [F, D], w2 [D, F]
  Tensor bqkv, bo, b1, b2;    // gpt biases (empty without)
};

// Activations for n positions (n = 1 for a step: preallocated in the state).
struct Scratch {
  std::vector<float> x, h, q, k, v, a, ff, ff2;  // [n,D] [n,D] [n,D] [n,kvd] [n,kvd] [n,D] [n,max(F,3D)] [n,F]
  void resize(size_t n, const Config& c) {
    const size_t kvd = size_t(c.KV) * c.hd;
    x.resize(n * c.D), h.resize(n * c.D), q.resize(n * c.D), k.resize(n * kvd), v.resize(n * kvd), a.resize(n * c.D);
    ff.resize(n * std::max(c.F, 3 * c.D)), ff2.resize(n * c.F);
  }
};

struct TransformerState : State {
  int pos = 0;
  Scratch one;
  KVCache cache;
};

class Transformer : public CachedModel<Transformer, TransformerState> {
 public:
  explicit Transformer(std::shared_ptr<const ModelFile> f) : CachedModel(std::move(f)) {
    const ModelFile& mf = *file_;
    Config& c = c_;
    c.llama = mf.arch() == "llama";
    c.V = int(mf.config_int("vocab_size", 1, 1 << 24));
    c.D = int(mf.config_int("dim", 1, 1 << 16));
    c.L = int(mf.config_int("n_layers", 1, 1024));
    c.H = int(mf.config_int("n_heads", 1, 1024));
    c.KV = c.llama ? int(mf.config_int("n_kv_heads", 1, 1024, c.H)) : c.H;
    c.T = int(mf.config_int("context_length", 1, 1 << 20));
    if (c.D % c.H) throw mf.error("config: n_heads " + std::to_string(c.H) + " does not divide dim " + std::to_string(c.D));
    if (c.H % c.KV) throw mf.error("config: n_kv_heads " + std::to_string(c.KV) + " does not divide n_heads " + std::to_string(c.H));
    c.hd = c.D / c.H;
    if (c.llama && c.hd % 2) throw mf.error("config: head size " + std::to_string(c.hd) + " must be even for RoPE");
    c.F = int(mf.config_int("hidden_dim", 1, 1 << 20, 4 * int64_t(c.D)));
    c.tied = mf.config_bool("tied", false);
    c.bias = !c.llama && mf.config_bool("bias", true);
    c.eps = config_positive(mf, "norm_eps", 1e-5f);
    if (c.llama) c.rope_theta = config_positive(mf, "rope_theta", 10000.f);
    if (!c.llama) {
      const std::string g = mf.config_string("gelu", "exact");
      if (g != "exact" && g != "tanh") throw mf.error("config key 'gelu' is '" + g + "', expected 'exact' or 'tanh'");
      c.gelu_tanh = g == "tanh";
    }
    check_cache_size(mf, c.L, c.T, size_t(c.KV) * c.hd, c.H);
    load_weights();
    describe(c.V, c.T);
    info_.attention_layers = c.L;
    info_.attention_heads = c.H;
    if (c.llama) {  // RoPE frequencies, as llama2.c: theta^(-2i/hd) for pair i
      inv_freq_.resize(c.hd / 2);
      for (int i = 0; i < c.hd / 2; ++i) inv_freq_[i] = std::pow(double(c.rope_theta), -2.0 * i / c.hd);
    }
  }

  std::unique_ptr<State> new_state() const override {
    auto s = std::make_unique<TransformerState>();
    s->one.resize(1, c_);
    s->cache.init(c_.L, c_.T, c_.H, c_.KV, c_.hd);
    return s;
  }




 private:
  friend class CachedModel<Transformer, TransformerState>;
  const Config& config() const { return c_; }
  // Positions s.pos .. s.pos+n-1 through the whole model; logits of the last one.
  void forward(TransformerState& s, const int* tokens, size_t n, Scratch& m, float* logits) const {
    const Config& c = c_;
    check_tokens(tokens, n, c.V, s.pos, c.T);
    const size_t D = c.D, F = c.F, kvd = s.cache.kv_dim();
    float *x = m.x.data(), *h = m.h.data(), *q = m.q.data(), *a = m.a.data(), *ff = m.ff.data();
    for (size_t i = 0; i < n; ++i) {
      std::copy(embed_.data + size_t(tokens[i]) * D, embed_.data + size_t(tokens[i] + 1) * D, x + i * D);
      if (!c.llama) ops::add(x + i * D, wpe_.data + (s.pos + i) * D, x + i * D, D);
    }
    for (int l = 0; l < c.L; ++l) {
      const Block& b = blocks_[l];
      norm(b.norm1_w, b.norm1_b, x, n, h);
      if (c.llama) {
        linears(h, n, {{b.wq, q}, {b.wk, m.k.data()}, {b.wv, m.v.data()}});
      } else {
        linear(b.wqkv, b.bqkv, h, n, ff);
        for (size_t i = 0; i < n; ++i) {
          const float* qkv = ff + i * 3 * D;
          std::copy(qkv, qkv + D, q + i * D);
          std::copy(qkv + D, qkv + 2 * D, m.k.data() + i * kvd);
          std::copy(qkv + 2 * D, qkv + 3 * D, m.v.data() + i * kvd);
        }
      }
      for (size_t i = 0; i < n; ++i) {
        const int pos = s.pos + int(i);
        float* kc = s.cache.key(l, pos);
        std::copy(m.k.data() + i * kvd, m.k.data() + (i + 1) * kvd, kc);
        std::copy(m.v.data() + i * kvd, m.v.data() + (i + 1) * kvd, s.cache.value(l, pos));
        if (c.llama) {
          rope(q + i * D, c.H, pos);
          rope(kc, c.KV, pos);
        }
        s.cache.attend(l, pos, q + i * D, a + i * D);
      }
      linear(b.wo, b.bo, a, n, h);
      ops::add(x, h, x, n * D);
      norm(b.norm2_w, b.norm2_b, x, n, h);
      if (c.llama) {
        linears(h, n, {{b.w1, ff}, {b.w3, m.ff2.data()}});
        ops::silu(ff, n * F);
        ops::mul(ff, m.ff2.data(), ff, n * F);
      } else {
        linear(b.w1, b.b1, h, n, ff);
        if (c.gelu_tanh) {
          ops::gelu_tanh(ff, n * F);
        } else {
          ops::gelu(ff, n * F);
        }
      }
      linear(b.w2, b.b2, ff, n, h);
      ops::add(x, h, x, n * D);
    }
    norm(norm_w_, norm_b_, x + (n - 1) * D, 1, h);
    ops::matvec(head_, h, nullptr, logits);
    s.pos += int(n);
  }

  void norm(const Tensor& w, const Tensor& b, const float* x, size_t n, float* out) const {
    for (size_t i = 0; i < n; ++i) {
      if (c_.llama) {
        ops::rms_norm(x + i * c_.D, w.data, c_.eps, out + i * c_.D, c_.D);
      } else {
        ops::layer_norm(x + i * c_.D, w.data, b.data, c_.eps, out + i * c_.D, c_.D);
      }
    }
  }

  // Rotates each (even, odd) pair of every head by pos * inv_freq, as llama2.c does.
  void rope(float* v, int heads, int pos) const {
    for (int i = 0; i < c_.hd / 2; ++i) {
      const float cs = float(std::cos(pos * inv_freq_[i])), sn = float(std::sin(pos * inv_freq_[i]));
      for (int h = 0; h < heads; ++h) {
        float* p = v + size_t(h) * c_.hd + 2 * i;
        const float x0 = p[0], x1 = p[1];
        p[0] = x0 * cs - x1 * sn;
        p[1] = x0 * sn + x1 * cs;
      }
    }
  }

  void load_weights() {
    const Config& c = c_;
    const int64_t D = c.D, F = c.F, kvd = int64_t(c.KV) * c.hd;
    if (c.llama) {
      embed_ = weight("tok_embeddings.weight", {c.V, D});
      for (int l = 0; l < c.L; ++l) {
        const std::string p = "layers." + std::to_string(l) + ".";
        Block b;
        b.norm1_w = weight(p + "attention_norm.weight", {D});
        b.wq = matrix(p + "attention.wq.weight", {D, D});
        b.wk = matrix(p + "attention.wk.weight", {kvd, D});
        b.wv = matrix(p + "attention.wv.weight", {kvd, D});
        b.wo = matrix(p + "attention.wo.weight", {D, D});
        b.norm2_w = weight(p + "ffn_norm.weight", {D});
        b.w1 = matrix(p + "feed_forward.w1.weight", {F, D});
        b.w2 = matrix(p + "feed_forward.w2.weight", {D, F});
        b.w3 = matrix(p + "feed_forward.w3.weight", {F, D});
        blocks_.push_back(std::move(b));
      }
      norm_w_ = weight("norm.weight", {D});
      head_ = c.tied ? Weight(*file_, embed_, file_->int8()) : matrix("output.weight", {c.V, D});
    } else {
      embed_ = weight("transformer.wte.weight", {c.V, D});
      wpe_ = weight("transformer.wpe.weight", {c.T, D});
      auto opt = [&](const std::string& name, int64_t n) { return c.bias ? weight(name, {n}) : Tensor{}; };
      for (int l = 0; l < c.L; ++l) {
        const std::string p = "transformer.h." + std::to_string(l) + ".";
        Block b;
        b.norm1_w = weight(p + "ln_1.weight", {D});
        b.norm1_b = opt(p + "ln_1.bias", D);
        b.wqkv = matrix(p + "attn.c_attn.weight", {3 * D, D});
        b.bqkv = opt(p + "attn.c_attn.bias", 3 * D);
        b.wo = matrix(p + "attn.c_proj.weight", {D, D});
        b.bo = opt(p + "attn.c_proj.bias", D);
        b.norm2_w = weight(p + "ln_2.weight", {D});
        b.norm2_b = opt(p + "ln_2.bias", D);
        b.w1 = matrix(p + "mlp.c_fc.weight", {F, D});
        b.b1 = opt(p + "mlp.c_fc.bias", F);
        b.w2 = matrix(p + "mlp.c_proj.weight", {D, F});
        b.b2 = opt(p + "mlp.c_proj.bias", D);
        blocks_.push_back(std::move(b));
      }
      norm_w_ = weight("transformer.ln_f.weight", {D});
      norm_b_ = opt("transformer.ln_f.bias", D);
      head_ = c.tied ? Weight(*file_, embed_, file_->int8()) : matrix("lm_head.weight", {c.V, D});
    }
  }

  Config c_;
  Tensor embed_, wpe_, norm_w_, norm_b_;
  Weight head_;
  std::vector<Block> blocks_;
  std::vector<double> inv_freq_;
};

}  // namespace

std::unique_ptr<Model> create_transformer(std::shared_ptr<const ModelFile> file) {
  return std::make_unique<Transformer>(std::move(file));
}

}  // namespace argen
