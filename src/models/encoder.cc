// arch "transformer": what the PyTorch tutorials build, with PyTorch's own tensor names:
//   nn.Embedding (times sqrt(d_model) if embed_scale) + positions (learned nn.Embedding, a fixed
//   sinusoidal table, or none) -> nn.TransformerEncoder under a causal mask (post- or pre-norm
//   nn.TransformerEncoderLayer, fused in_proj, relu or gelu, optional final norm) -> nn.Linear head.
// Module prefixes come from config.names (models/export.py finds them by type). One step consumes
// one token at position state.pos, reading keys and values of earlier positions from a cache.
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
  int V = 0, D = 0, L = 0, H = 0, F = 0, T = 0, hd = 0;  // vocab, width, layers, heads, ffn, context, head size
  float eps = 1e-5f, scale = 1.f;                        // layer_norm_eps; token embedding multiplier
  bool norm_first = false, gelu = false, final_norm = false;
  enum { NONE, LEARNED, TABLE } positions = NONE;
};

struct Layer {
  Weight w_in, w_out, w1, w2;       // self_attn.in_proj [3D, D], out_proj [D, D], linear1 [F, D], linear2 [D, F]
  Tensor b_in, b_out, b1, b2;
  Tensor n1w, n1b, n2w, n2b;        // norm1, norm2
};

// Activations for n positions at a time (n = 1 for a step: preallocated in the state).
struct Scratch {
  std::vector<float> x, h, qkv, a, ff;  // [n, D], [n, D], [n, 3D], [n, D], [n, max(F, D)]
  void resize(size_t n, const Config& c) {
    x.resize(n * c.D), h.resize(n * c.D), qkv.resize(n * 3 * c.D), a.resize(n * c.D);
    ff.resize(n * std::max(c.F, c.D));
  }
};

struct EncoderState : State {
  int pos = 0;
  Scratch one;
  KVCache cache;
};

class EncoderLM : public CachedModel<EncoderLM, EncoderState> {
 public:
  explicit EncoderLM(std::shared_ptr<const ModelFile> f) : CachedModel(std::move(f)) {
    const ModelFile& mf = *file_;
    Config& c = c_;
    c.V = int(mf.config_int("vocab_size", 1, 1 << 24));
    c.D = int(mf.config_int("d_model", 1, 1 << 16));
    c.L = int(mf.config_int("num_layers", 1, 1024));
    c.H = int(mf.config_int("nhead", 1, 1024));
    c.F = int(mf.config_int("dim_feedforward", 1, 1 << 20));
    c.T = int(mf.config_int("context_length", 1, 1 << 20));
    if (c.D % c.H) throw mf.error("config: nhead " + std::to_string(c.H) + " does not divide d_model " + std::to_string(c.D));
    c.hd = c.D / c.H;
    c.eps = config_positive(mf, "layer_norm_eps", 1e-5f);
    c.norm_first = mf.config_bool("norm_first", false);
    c.final_norm = mf.config_bool("final_norm", false);
    if (mf.config_bool("embed_scale", false)) c.scale = float(std::sqrt(double(c.D)));
    const std::string act = mf.config_string("activation", "relu");
    if (act != "relu" && act != "gelu") throw mf.error("config key 'activation' is '" + act + "', expected 'relu' or 'gelu'");
    c.gelu = act == "gelu";
    const std::string pos = mf.config_string("positions", "none");
    if (pos != "none" && pos != "learned" && pos != "sinusoidal")
      throw mf.error("config key 'positions' is '" + pos + "', expected 'learned', 'sinusoidal' or 'none'");
    c.positions = pos == "learned" ? Config::LEARNED : pos == "sinusoidal" ? Config::TABLE : Config::NONE;
    check_cache_size(mf, c.L, c.T, size_t(c.D), c.H);
    load_weights(mf);
    describe(c.V, c.T);
    info_.attention_layers = c.L;
    info_.attention_heads = c.H;
  }

  std::unique_ptr<State> new_state() const override {
    auto s = std::make_unique<EncoderState>();
    s->one.resize(1, c_);
    s->cache.init(c_.L, c_.T, c_.H, c_.H, c_.hd);
    return s;
  }




 private:
  void norm(const Tensor& w, const Tensor& b, const float* x, size_t n, float* out) const {
    for (size_t i = 0; i < n; ++i) ops::layer_norm(x + i * c_.D, w.data, b.data, c_.eps, out + i * c_.D, c_.D);
  }

  friend class CachedModel<EncoderLM, EncoderState>;
  const Config& config() const { return c_; }
  // Positions s.pos .. s.pos+n-1 through the whole model; logits of the last one.
  void forward(EncoderState& s, const int* tokens, size_t n, Scratch& m, float* logits) const {
    const Config& c = c_;
    const size_t D = c.D, F = c.F;
    check_tokens(tokens, n, c.V, s.pos, c.T);
    float *x = m.x.data(), *h = m.h.data(), *a = m.a.data(), *ff = m.ff.data();
    for (size_t i = 0; i < n; ++i) {
      const float* e = embed_.data + size_t(tokens[i]) * D;
      for (size_t j = 0; j < D; ++j) x[i * D + j] = e[j] * c.scale;
      if (c.positions != Config::NONE) ops::add(x + i * D, pos_.data + (s.pos + i) * D, x + i * D, D);
    }
    for (int l = 0; l < c.L; ++l) {
      const Layer& b = layers_[l];
      // self-attention block: pre-norm x += sa(norm1(x)); post-norm x = norm1(x + sa(x))
      const float* in = x;
      if (c.norm_first) norm(b.n1w, b.n1b, x, n, h), in = h;
      linear(b.w_in, b.b_in, in, n, m.qkv.data());
      for (size_t i = 0; i < n; ++i) {
        const int p = s.pos + int(i);
        const float* qkv = m.qkv.data() + i * 3 * D;
        std::copy(qkv + D, qkv + 2 * D, s.cache.key(l, p));
        std::copy(qkv + 2 * D, qkv + 3 * D, s.cache.value(l, p));
        s.cache.attend(l, p, qkv, a + i * D);
      }
      linear(b.w_out, b.b_out, a, n, h);
      ops::add(x, h, x, n * D);
      if (!c.norm_first) norm(b.n1w, b.n1b, x, n, x);
      // feed-forward block, the same two ways
      in = x;
      if (c.norm_first) norm(b.n2w, b.n2b, x, n, h), in = h;
      linear(b.w1, b.b1, in, n, ff);
      if (c.gelu) {
        ops::gelu(ff, n * F);
      } else {
        ops::relu(ff, n * F);
      }
      linear(b.w2, b.b2, ff, n, h);
      ops::add(x, h, x, n * D);
      if (!c.norm_first) norm(b.n2w, b.n2b, x, n, x);
    }
    const float* last = x + (n - 1) * D;
    if (c.final_norm) norm(norm_w_, norm_b_, last, 1, h), last = h;
    ops::matvec(head_, last, head_b_.data, logits);
    s.pos += int(n);
  }

  void load_weights(const ModelFile& mf) {
    const Config& c = c_;
    const int64_t D = c.D, F = c.F;
    const auto& names = mf.config().contains("names") ? mf.config()["names"] : nlohmann::json::object();
    if (!names.is_object()) throw mf.error("config key 'names' must be an object");
    auto name = [&](const char* key, const char* fallback) {
      if (!names.contains(key)) return std::string(fallback);
      if (!names[key].is_string()) throw mf.error(std::string("config key 'names.") + key + "' must be a string");
      return names[key].get<std::string>();
    };
    embed_ = weight(name("embedding", "embed") + ".weight", {c.V, D});
    if (c.positions == Config::LEARNED) pos_ = weight(name("positions", "pos") + ".weight", {c.T, D});
    if (c.positions == Config::TABLE) pos_ = mf.get(name("positions", "pos") + ".pe", {c.T, D});  // a buffer, not a parameter
    const std::string enc = name("encoder", "encoder");
    for (int l = 0; l < c.L; ++l) {
      const std::string p = enc + ".layers." + std::to_string(l) + ".";
      Layer b;
      b.w_in = matrix(p + "self_attn.in_proj_weight", {3 * D, D});
      b.b_in = weight(p + "self_attn.in_proj_bias", {3 * D});
      b.w_out = matrix(p + "self_attn.out_proj.weight", {D, D});
      b.b_out = weight(p + "self_attn.out_proj.bias", {D});
      b.w1 = matrix(p + "linear1.weight", {F, D});
      b.b1 = weight(p + "linear1.bias", {F});
      b.w2 = matrix(p + "linear2.weight", {D, F});
      b.b2 = weight(p + "linear2.bias", {D});
      b.n1w = weight(p + "norm1.weight", {D});
      b.n1b = weight(p + "norm1.bias", {D});
      b.n2w = weight(p + "norm2.weight", {D});
      b.n2b = weight(p + "norm2.bias", {D});
      layers_.push_back(std::move(b));
    }
    if (c.final_norm) {
      norm_w_ = weight(enc + ".norm.weight", {D});
      norm_b_ = weight(enc + ".norm.bias", {D});
    }
    const std::string head = name("head", "head");
    head_ = matrix(head + ".weight", {c.V, D});
    if (mf.config_bool("head_bias", true)) head_b_ = weight(head + ".bias", {c.V});
  }

  Config c_;
  Tensor embed_, pos_, norm_w_, norm_b_, head_b_;
  Weight head_;
  std::vector<Layer> layers_;
};

}  // namespace

std::unique_ptr<Model> create_encoder_transformer(std::shared_ptr<const ModelFile> file) {
  return std::make_unique<EncoderLM>(std::move(file));
}

}  // namespace argen
