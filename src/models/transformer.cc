// Decoder-only transformers with a KV cache, one file for both families:
//   gpt   (nanoGPT names): learned positions, pre-LayerNorm, GELU MLP, fused qkv, biases optional;
//   llama (llama2.c names): RMSNorm, RoPE (interleaved pairs), SwiGLU, grouped-query attention.
// Both: tied or separate head. One step consumes one token at position state.pos.
#include <cmath>
#include <vector>

#include "core/error.h"
#include "models/model.h"
#include "ops/ops.h"

namespace argen {
namespace {

constexpr uint64_t kMaxCacheBytes = uint64_t(2) << 30;  // 2 GiB: the wasm heap's practical ceiling

struct Config {
  bool llama = false;
  int V = 0, D = 0, L = 0, H = 0, KV = 0, F = 0, T = 0;  // vocab, width, layers, heads, kv heads, ffn, context
  int hd = 0;                                            // head size
  float eps = 1e-5f, rope_theta = 10000.f;
  bool bias = true, tied = false, gelu_tanh = false;
};

struct Block {
  Tensor norm1_w, norm1_b, norm2_w, norm2_b;
  Tensor wqkv, bqkv;      // gpt: fused [3D, D]
  Tensor wq, wk, wv;      // llama
  Tensor wo, bo;          // [D, D]
  Tensor w1, b1, w2, b2, w3;  // gpt: c_fc [F, D], c_proj [D, F]; llama: w1, w3 [F, D], w2 [D, F]
};

struct TransformerState : State {
  int pos = 0;
  std::vector<float> x, h, q, k, v, ff, ff2;  // activations
  std::vector<float> att;                       // [L, H, T]: attention of the newest position, per layer
  std::vector<float> rope_cos, rope_sin;        // [hd/2] for the current position
  std::vector<float> kcache, vcache;                // [L, T, KV*hd]
};

class Transformer : public Model {
 public:
  explicit Transformer(std::shared_ptr<const ModelFile> f) : Model(std::move(f)) {
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
    if (mf.config().contains("norm_eps")) {
      if (!mf.config()["norm_eps"].is_number() || !(mf.config()["norm_eps"].get<double>() > 0))
        throw mf.error("config key 'norm_eps' must be a positive number, found " + mf.config()["norm_eps"].dump());
      c.eps = mf.config()["norm_eps"].get<float>();
    }
    if (c.llama && mf.config().contains("rope_theta")) {
      if (!mf.config()["rope_theta"].is_number() || !(mf.config()["rope_theta"].get<double>() > 0))
        throw mf.error("config key 'rope_theta' must be a positive number, found " + mf.config()["rope_theta"].dump());
      c.rope_theta = mf.config()["rope_theta"].get<float>();
    }
    if (!c.llama) {
      const std::string g = mf.config_string("gelu", "exact");
      if (g != "exact" && g != "tanh") throw mf.error("config key 'gelu' is '" + g + "', expected 'exact' or 'tanh'");
      c.gelu_tanh = g == "tanh";
    }
    // The KV cache is allocated per stream: refuse a config whose cache could never be allocated
    // (a tiny file can claim a huge context).
    const double cache_bytes = 2.0 * c.L * c.T * double(c.KV) * c.hd * sizeof(float);
    if (cache_bytes > double(kMaxCacheBytes))
      throw mf.error("config: context_length " + std::to_string(c.T) + " needs a KV cache of " +
                     std::to_string(uint64_t(cache_bytes)) + " bytes per stream, over the limit of " +
                     std::to_string(kMaxCacheBytes));
    load_weights(mf);
    info_.arch = mf.arch();
    info_.modality = mf.modality();
    info_.vocab_size = c.V;
    info_.context_length = c.T;
    info_.parameters = params_;
    info_.attention_layers = c.L;
    info_.attention_heads = c.H;
    if (auto it = mf.metadata().find("name"); it != mf.metadata().end()) info_.name = it->second;
    if (auto it = mf.metadata().find("description"); it != mf.metadata().end()) info_.description = it->second;
    if (c.llama) {  // RoPE frequencies, as llama2.c: theta^(-2i/hd) for pair i
      inv_freq_.resize(c.hd / 2);
      for (int i = 0; i < c.hd / 2; ++i) inv_freq_[i] = std::pow(double(c.rope_theta), -2.0 * i / c.hd);
    }
  }

  std::unique_ptr<State> new_state() const override {
    auto s = std::make_unique<TransformerState>();
    const size_t kvd = size_t(c_.KV) * c_.hd;
    s->x.assign(c_.D, 0), s->h.assign(c_.D, 0), s->q.assign(c_.D, 0);
    s->k.assign(kvd, 0), s->v.assign(kvd, 0), s->att.assign(size_t(c_.L) * c_.H * c_.T, 0);
    s->rope_cos.assign(c_.hd / 2, 0), s->rope_sin.assign(c_.hd / 2, 0);
    s->ff.assign(c_.F, 0), s->ff2.assign(c_.F, 0);
    s->kcache.assign(size_t(c_.L) * c_.T * kvd, 0), s->vcache.assign(size_t(c_.L) * c_.T * kvd, 0);
    if (!c_.llama) s->ff.assign(std::max(c_.F, 3 * c_.D), 0);  // also holds fused qkv
    return s;
  }

  void step(State& state, int token, float* logits) const override {
    const Config& c = c_;
    if (token < 0 || token >= c.V)
      throw Error("token id " + std::to_string(token) + " is out of range for vocabulary size " + std::to_string(c.V));
    auto& s = static_cast<TransformerState&>(state);
    if (s.pos >= c.T) throw Error("the context of " + std::to_string(c.T) + " tokens is full");
    const int pos = s.pos;
    const size_t kvd = size_t(c.KV) * c.hd;
    float* x = s.x.data();
    std::copy(embed_.data + size_t(token) * c.D, embed_.data + size_t(token + 1) * c.D, x);
    if (!c.llama) ops::add(x, wpe_.data + size_t(pos) * c.D, x, c.D);
    if (c.llama) set_rope(s, pos);

    for (int l = 0; l < c.L; ++l) {
      const Block& b = blocks_[l];
      norm(x, b.norm1_w, b.norm1_b, s.h.data());
      float* kc = s.kcache.data() + (size_t(l) * c.T + pos) * kvd;
      float* vc = s.vcache.data() + (size_t(l) * c.T + pos) * kvd;
      if (c.llama) {
        ops::matvec(b.wq.data, c.D, c.D, s.h.data(), nullptr, s.q.data());
        ops::matvec(b.wk.data, kvd, c.D, s.h.data(), nullptr, kc);
        ops::matvec(b.wv.data, kvd, c.D, s.h.data(), nullptr, vc);
        rope(s, s.q.data(), c.H);
        rope(s, kc, c.KV);
      } else {
        float* qkv = s.ff.data();
        ops::matvec(b.wqkv.data, 3 * size_t(c.D), c.D, s.h.data(), b.bqkv.data, qkv);
        std::copy(qkv, qkv + c.D, s.q.data());
        std::copy(qkv + c.D, qkv + 2 * c.D, kc);
        std::copy(qkv + 2 * c.D, qkv + 3 * c.D, vc);
      }
      attention(s, l, pos, s.q.data(), s.h.data());
      ops::matvec(b.wo.data, c.D, c.D, s.h.data(), b.bo.data, s.q.data());
      ops::add(x, s.q.data(), x, c.D);

      norm(x, b.norm2_w, b.norm2_b, s.h.data());
      if (c.llama) {
        ops::matvec(b.w1.data, c.F, c.D, s.h.data(), nullptr, s.ff.data());
        ops::matvec(b.w3.data, c.F, c.D, s.h.data(), nullptr, s.ff2.data());
        ops::silu(s.ff.data(), c.F);
        ops::mul(s.ff.data(), s.ff2.data(), s.ff.data(), c.F);
      } else {
        ops::matvec(b.w1.data, c.F, c.D, s.h.data(), b.b1.data, s.ff.data());
        if (c.gelu_tanh) {
          ops::gelu_tanh(s.ff.data(), c.F);
        } else {
          ops::gelu(s.ff.data(), c.F);
        }
      }
      ops::matvec(b.w2.data, c.D, c.F, s.ff.data(), b.b2.data, s.q.data());
      ops::add(x, s.q.data(), x, c.D);
    }
    norm(x, norm_w_, norm_b_, s.h.data());
    ops::matvec(head_.data, c.V, c.D, s.h.data(), nullptr, logits);
    ++s.pos;
  }

  // The whole prompt at once: every projection is a matrix-matrix product over the n positions, so
  // each weight is read once per prompt rather than once per token. Attention stays per position.
  void prefill(State& state, const int* tokens, size_t n, float* logits) const override {
    const Config& c = c_;
    auto& s = static_cast<TransformerState&>(state);
    if (n == 0) return;
    if (s.pos + n > size_t(c.T))
      throw Error(std::to_string(s.pos + n) + " positions do not fit the context of " + std::to_string(c.T) + " tokens");
    for (size_t i = 0; i < n; ++i)
      if (tokens[i] < 0 || tokens[i] >= c.V)
        throw Error("token id " + std::to_string(tokens[i]) + " is out of range for vocabulary size " + std::to_string(c.V));
    const size_t D = c.D, F = c.F, kvd = size_t(c.KV) * c.hd;
    const int pos0 = s.pos;
    std::vector<float> X(n * D), Hn(n * D), Q(n * D), A(n * D), K(n * kvd), Vv(n * kvd), FF(n * std::max(F, 3 * D)), FF2(n * F);
    for (size_t i = 0; i < n; ++i) {
      std::copy(embed_.data + size_t(tokens[i]) * D, embed_.data + size_t(tokens[i] + 1) * D, X.data() + i * D);
      if (!c.llama) ops::add(X.data() + i * D, wpe_.data + (pos0 + i) * D, X.data() + i * D, D);
    }
    for (int l = 0; l < c.L; ++l) {
      const Block& b = blocks_[l];
      for (size_t i = 0; i < n; ++i) norm(X.data() + i * D, b.norm1_w, b.norm1_b, Hn.data() + i * D);
      if (c.llama) {
        ops::matmul(b.wq.data, D, D, Hn.data(), n, nullptr, Q.data());
        ops::matmul(b.wk.data, kvd, D, Hn.data(), n, nullptr, K.data());
        ops::matmul(b.wv.data, kvd, D, Hn.data(), n, nullptr, Vv.data());
      } else {
        ops::matmul(b.wqkv.data, 3 * D, D, Hn.data(), n, b.bqkv.data, FF.data());
        for (size_t i = 0; i < n; ++i) {
          const float* qkv = FF.data() + i * 3 * D;
          std::copy(qkv, qkv + D, Q.data() + i * D);
          std::copy(qkv + D, qkv + 2 * D, K.data() + i * kvd);
          std::copy(qkv + 2 * D, qkv + 3 * D, Vv.data() + i * kvd);
        }
      }
      for (size_t i = 0; i < n; ++i) {
        const int pos = pos0 + int(i);
        float* kc = s.kcache.data() + (size_t(l) * c.T + pos) * kvd;
        float* vc = s.vcache.data() + (size_t(l) * c.T + pos) * kvd;
        std::copy(K.data() + i * kvd, K.data() + (i + 1) * kvd, kc);
        std::copy(Vv.data() + i * kvd, Vv.data() + (i + 1) * kvd, vc);
        if (c.llama) {
          set_rope(s, pos);
          rope(s, Q.data() + i * D, c.H);
          rope(s, kc, c.KV);
        }
        attention(s, l, pos, Q.data() + i * D, A.data() + i * D);
      }
      ops::matmul(b.wo.data, D, D, A.data(), n, b.bo.data, Q.data());
      ops::add(X.data(), Q.data(), X.data(), n * D);
      for (size_t i = 0; i < n; ++i) norm(X.data() + i * D, b.norm2_w, b.norm2_b, Hn.data() + i * D);
      if (c.llama) {
        ops::matmul(b.w1.data, F, D, Hn.data(), n, nullptr, FF.data());
        ops::matmul(b.w3.data, F, D, Hn.data(), n, nullptr, FF2.data());
        ops::silu(FF.data(), n * F);
        ops::mul(FF.data(), FF2.data(), FF.data(), n * F);
      } else {
        ops::matmul(b.w1.data, F, D, Hn.data(), n, b.b1.data, FF.data());
        if (c.gelu_tanh) {
          ops::gelu_tanh(FF.data(), n * F);
        } else {
          ops::gelu(FF.data(), n * F);
        }
      }
      ops::matmul(b.w2.data, D, F, FF.data(), n, b.b2.data, Q.data());
      ops::add(X.data(), Q.data(), X.data(), n * D);
    }
    norm(X.data() + (n - 1) * D, norm_w_, norm_b_, s.h.data());
    ops::matvec(head_.data, c.V, D, s.h.data(), nullptr, logits);
    s.pos += int(n);
  }

 private:
  void norm(const float* x, const Tensor& w, const Tensor& b, float* out) const {
    if (c_.llama) {
      ops::rms_norm(x, w.data, c_.eps, out, c_.D);
    } else {
      ops::layer_norm(x, w.data, b.data, c_.eps, out, c_.D);
    }
  }

  // One angle per pair, shared by every head and layer at this position.
  void set_rope(TransformerState& s, int pos) const {
    for (int i = 0; i < c_.hd / 2; ++i) {
      s.rope_cos[i] = float(std::cos(pos * inv_freq_[i]));
      s.rope_sin[i] = float(std::sin(pos * inv_freq_[i]));
    }
  }

  // Rotates each (even, odd) pair of every head by pos * inv_freq, as llama2.c does.
  void rope(const TransformerState& s, float* v, int heads) const {
    for (int h = 0; h < heads; ++h) {
      float* p = v + size_t(h) * c_.hd;
      for (int i = 0; i < c_.hd / 2; ++i) {
        const float cs = s.rope_cos[i], sn = s.rope_sin[i];
        const float x0 = p[2 * i], x1 = p[2 * i + 1];
        p[2 * i] = x0 * cs - x1 * sn;
        p[2 * i + 1] = x0 * sn + x1 * cs;
      }
    }
  }

 public:
  int attention(const State& state, int layer, std::vector<float>* out) const override {
    const auto& s = static_cast<const TransformerState&>(state);
    if (layer < 0 || layer >= c_.L || s.pos == 0) return 0;
    out->resize(size_t(c_.H) * s.pos);
    for (int h = 0; h < c_.H; ++h) {
      const float* a = s.att.data() + (size_t(layer) * c_.H + h) * c_.T;
      std::copy(a, a + s.pos, out->data() + size_t(h) * s.pos);
    }
    return s.pos;
  }

 private:

  // Causal attention of position `pos` (query q) over the cache; writes the head outputs to `out`.
  void attention(TransformerState& s, int l, int pos, const float* qv, float* outv) const {
    const Config& c = c_;
    const size_t kvd = size_t(c.KV) * c.hd;
    const float scale = 1.f / std::sqrt(float(c.hd));
    const float* kbase = s.kcache.data() + size_t(l) * c.T * kvd;
    const float* vbase = s.vcache.data() + size_t(l) * c.T * kvd;
    for (int h = 0; h < c.H; ++h) {
      const int kvh = h / (c.H / c.KV);
      const float* q = qv + size_t(h) * c.hd;
      float* att = s.att.data() + (size_t(l) * c.H + h) * c.T;
      for (int t = 0; t <= pos; ++t) att[t] = ops::dot(q, kbase + t * kvd + size_t(kvh) * c.hd, c.hd) * scale;
      ops::softmax(att, pos + 1);
      float* out = outv + size_t(h) * c.hd;
      std::fill(out, out + c.hd, 0.f);
      for (int t = 0; t <= pos; ++t) ops::axpy(att[t], vbase + t * kvd + size_t(kvh) * c.hd, out, c.hd);
    }
  }

  Tensor get(const ModelFile& mf, const std::string& name, std::vector<int64_t> shape) {
    Tensor t = mf.get(name, shape);
    params_ += t.size();
    return t;
  }

  void load_weights(const ModelFile& mf) {
    const Config& c = c_;
    const int64_t D = c.D, F = c.F, kvd = int64_t(c.KV) * c.hd;
    if (c.llama) {
      embed_ = get(mf, "tok_embeddings.weight", {c.V, D});
      for (int l = 0; l < c.L; ++l) {
        const std::string p = "layers." + std::to_string(l) + ".";
        Block b;
        b.norm1_w = get(mf, p + "attention_norm.weight", {D});
        b.wq = get(mf, p + "attention.wq.weight", {D, D});
        b.wk = get(mf, p + "attention.wk.weight", {kvd, D});
        b.wv = get(mf, p + "attention.wv.weight", {kvd, D});
        b.wo = get(mf, p + "attention.wo.weight", {D, D});
        b.norm2_w = get(mf, p + "ffn_norm.weight", {D});
        b.w1 = get(mf, p + "feed_forward.w1.weight", {F, D});
        b.w2 = get(mf, p + "feed_forward.w2.weight", {D, F});
        b.w3 = get(mf, p + "feed_forward.w3.weight", {F, D});
        blocks_.push_back(std::move(b));
      }
      norm_w_ = get(mf, "norm.weight", {D});
      head_ = c.tied ? embed_ : get(mf, "output.weight", {c.V, D});
    } else {
      embed_ = get(mf, "transformer.wte.weight", {c.V, D});
      wpe_ = get(mf, "transformer.wpe.weight", {c.T, D});
      auto opt = [&](const std::string& name, int64_t n) { return c.bias ? get(mf, name, {n}) : Tensor{}; };
      for (int l = 0; l < c.L; ++l) {
        const std::string p = "transformer.h." + std::to_string(l) + ".";
        Block b;
        b.norm1_w = get(mf, p + "ln_1.weight", {D});
        b.norm1_b = opt(p + "ln_1.bias", D);
        b.wqkv = get(mf, p + "attn.c_attn.weight", {3 * D, D});
        b.bqkv = opt(p + "attn.c_attn.bias", 3 * D);
        b.wo = get(mf, p + "attn.c_proj.weight", {D, D});
        b.bo = opt(p + "attn.c_proj.bias", D);
        b.norm2_w = get(mf, p + "ln_2.weight", {D});
        b.norm2_b = opt(p + "ln_2.bias", D);
        b.w1 = get(mf, p + "mlp.c_fc.weight", {F, D});
        b.b1 = opt(p + "mlp.c_fc.bias", F);
        b.w2 = get(mf, p + "mlp.c_proj.weight", {D, F});
        b.b2 = opt(p + "mlp.c_proj.bias", D);
        blocks_.push_back(std::move(b));
      }
      norm_w_ = get(mf, "transformer.ln_f.weight", {D});
      norm_b_ = opt("transformer.ln_f.bias", D);
      head_ = c.tied ? embed_ : get(mf, "lm_head.weight", {c.V, D});
    }
  }

  Config c_;
  Tensor embed_, wpe_, norm_w_, norm_b_, head_;
  std::vector<Block> blocks_;
  std::vector<double> inv_freq_;
  size_t params_ = 0;
};

}  // namespace

std::unique_ptr<Model> create_transformer(std::shared_ptr<const ModelFile> file) {
  return std::make_unique<Transformer>(std::move(file));
}

}  // namespace argen
