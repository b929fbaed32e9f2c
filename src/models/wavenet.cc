// wavenet: WaveNet over mu-law codes with Fast WaveNet generation (Paine et al., 2016); names as
// in models/wavenet.py. Per sample and layer (dilation d):
//   z = dilated([x(t-d), x(t)]) (+ speaker bias); g = tanh(z[:D]) * sigmoid(z[D:]);
//   [res; skip] = [res; skip](g);  x += res;  skip_sum += skip
// then relu -> out1 -> relu -> out2 gives the logits of the next code. x(t-d) comes from a ring
// buffer of the layer's last d inputs, so a sample costs one step per layer whatever the receptive
// field; the buffers start at zero, which is the zero padding of the full (PyTorch) forward pass.
#include <algorithm>

#include "core/error.h"
#include "models/blocks.h"
#include "models/model.h"
#include "ops/ops.h"

namespace argen {
namespace {

struct Layer {
  int d = 1;
  Weight dilated;                // [2D, 2R]: columns x(t-d) then x(t)
  Tensor dilated_b, cond;
  Weight res_skip;               // [R+S, D]
  std::vector<float> res_skip_b; // [R+S]
  size_t offset = 0;             // this layer's ring buffer in WaveNetState::rings
};

struct WaveNetState : State {
  int64_t t = 0;                 // samples consumed
  int speaker = -1;
  std::vector<int> codes;        // the last K-1 codes (input convolution), -1: none yet
  std::vector<float> rings;      // per layer [d, R]: inputs x(t-d) .. x(t-1), slot t % d
  std::vector<float> x, pair, z, g, rs, skip, hidden, embed_patch;
};

class WaveNet : public Model {
 public:
  explicit WaveNet(std::shared_ptr<const ModelFile> f) : Model(std::move(f)) {
    const ModelFile& mf = *file_;
    const auto& cfg = mf.config();
    R_ = int(mf.config_int("residual_channels", 1, 1 << 14));
    D_ = int(mf.config_int("dilation_channels", 1, 1 << 14));
    S_ = int(mf.config_int("skip_channels", 1, 1 << 14));
    Hd_ = int(mf.config_int("head_hidden", 1, 1 << 14));
    Q_ = int(mf.config_int("quantization", 2, 65536, 256));
    K_ = int(mf.config_int("input_kernel", 1, 64, 2));
    speakers_ = int(mf.config_int("num_speakers", 0, 1 << 20, 0));
    rate_ = int(mf.config_int("sample_rate", 1, 1 << 20));
    const std::string input = mf.config_string("input", "one_hot");
    if (input != "one_hot" && input != "embedding")
      throw mf.error("config key 'input' is '" + input + "', expected 'one_hot' or 'embedding'");
    if (cfg.contains("local_conditioning") && !cfg["local_conditioning"].is_null())
      throw mf.error("config key 'local_conditioning' is set: local conditioning is not supported");
    E_ = input == "embedding" ? int(mf.config_int("embedding_dim", 1, 1 << 14, R_)) : 0;
    if (!cfg.contains("dilations") || !cfg["dilations"].is_array() || cfg["dilations"].empty() || cfg["dilations"].size() > 4096)
      throw mf.error("config key 'dilations' must be a list of 1..4096 positive integers");
    uint64_t ring = 0;
    for (const auto& d : cfg["dilations"]) {
      if (!d.is_number_integer() || d.get<int64_t>() < 1 || d.get<int64_t>() > (1 << 20))
        throw mf.error("config key 'dilations' holds " + json_brief(d) + ", expected integers 1..1048576");
      ring += uint64_t(d.get<int64_t>()) * R_;
    }
    check_state_bytes(mf, ring * sizeof(float), "the dilation queues");
    describe(Q_, 0);
    info_.sample_rate = rate_;
    info_.num_labels = speakers_;
    if (cfg.contains("speaker_names")) {
      const auto& names = cfg["speaker_names"];
      if (!names.is_array() || int(names.size()) != speakers_)
        throw mf.error("config key 'speaker_names' must be a list of num_speakers (" + std::to_string(speakers_) + ") strings");
      for (const auto& n : names) {
        if (!n.is_string()) throw mf.error("config key 'speaker_names' must hold strings, found " + json_brief(n));
        info_.label_names.push_back(n.get<std::string>());
      }
    }

    const int64_t R = R_, D2 = 2 * D_;
    const int64_t cin = E_ ? E_ : Q_;
    if (E_) embed_ = weight("embed.weight", {Q_, E_});
    Tensor causal = weight("causal.weight", {R, cin, K_});
    causal_b_ = weight("causal.bias", {R});
    if (E_) {
      causal_ = conv_matrix(causal);  // [R, K*E]
    } else {  // one-hot: per tap, the column of each code, contiguous: [K, Q, R]
      causal_.resize(causal.size());
      for (int64_t r = 0; r < R; ++r)
        for (int64_t q = 0; q < Q_; ++q)
          for (int64_t k = 0; k < K_; ++k) causal_[(k * Q_ + q) * R + r] = causal.data[(r * Q_ + q) * K_ + k];
    }
    size_t offset = 0;
    for (size_t l = 0; l < cfg["dilations"].size(); ++l) {
      const std::string p = "layers." + std::to_string(l) + ".";
      Layer y;
      y.d = cfg["dilations"][l].get<int>();
      y.dilated = matrix(conv_matrix(weight(p + "dilated.weight", {D2, R, 2})), D2, 2 * R);
      y.dilated_b = weight(p + "dilated.bias", {D2});
      Tensor res = weight(p + "res.weight", {R, D_, 1}), res_b = weight(p + "res.bias", {R});
      Tensor skip = weight(p + "skip.weight", {S_, D_, 1}), skip_b = weight(p + "skip.bias", {S_});
      std::vector<float> res_skip(res.data, res.data + res.size());
      res_skip.insert(res_skip.end(), skip.data, skip.data + skip.size());
      y.res_skip = matrix(std::move(res_skip), R + S_, D_);
      y.res_skip_b.assign(res_b.data, res_b.data + R);
      y.res_skip_b.insert(y.res_skip_b.end(), skip_b.data, skip_b.data + S_);
      if (speakers_) y.cond = weight(p + "cond.weight", {speakers_, D2});
      y.offset = offset;
      offset += size_t(y.d) * R;
      layers_.push_back(std::move(y));
    }
    ring_floats_ = offset;
    out1_w_ = matrix("out1.weight", {Hd_, S_, 1});
    out1_b_ = weight("out1.bias", {Hd_});
    out2_w_ = matrix("out2.weight", {Q_, Hd_, 1});
    out2_b_ = weight("out2.bias", {Q_});
  }

  std::unique_ptr<State> new_state() const override {
    auto s = std::make_unique<WaveNetState>();
    s->codes.assign(K_ - 1, -1);
    s->rings.assign(ring_floats_, 0.0f);
    s->x.resize(R_);
    s->pair.resize(2 * R_);
    s->z.resize(2 * D_);
    s->g.resize(D_);
    s->rs.resize(R_ + S_);
    s->skip.resize(S_);
    s->hidden.resize(Hd_);
    s->embed_patch.resize(size_t(K_) * std::max(E_, 1));
    return s;
  }

  void set_label(State& state, int speaker) const override {
    auto& s = static_cast<WaveNetState&>(state);
    if (!speakers_) Model::set_label(state, speaker);
    if (speaker < 0 || speaker >= speakers_)
      throw Error("speaker " + std::to_string(speaker) + " is out of range: the model has " + std::to_string(speakers_) +
                  " speakers (0.." + std::to_string(speakers_ - 1) + ")");
    if (s.t != 0) throw Error("the speaker must be set before the first sample");
    s.speaker = speaker;
  }

  void step(State& state, int code, float* logits) const override {
    auto& s = static_cast<WaveNetState&>(state);
    if (code < 0 || code >= Q_) throw Error("mu-law code " + std::to_string(code) + " is out of range 0.." + std::to_string(Q_ - 1));
    if (speakers_ && s.speaker < 0)
      throw Error("this model is conditioned on a speaker: set one 0.." + std::to_string(speakers_ - 1));
    const int R = R_, D = D_;
    // Input convolution over the last K codes (missing ones are zero padding).
    std::copy_n(causal_b_.data, R, s.x.data());
    for (int k = 0; k < K_; ++k) {
      const int c = k == K_ - 1 ? code : s.codes[k];
      if (E_) {
        float* e = s.embed_patch.data() + size_t(k) * E_;
        if (c < 0)
          std::fill(e, e + E_, 0.0f);
        else
          std::copy_n(embed_.data + size_t(c) * E_, E_, e);
      } else if (c >= 0) {
        ops::add(s.x.data(), causal_.data() + (size_t(k) * Q_ + c) * R, s.x.data(), R);
      }
    }
    if (E_) ops::matvec_acc(causal_.data(), R, size_t(K_) * E_, s.embed_patch.data(), s.x.data());
    if (K_ > 1) {
      std::copy(s.codes.begin() + 1, s.codes.end(), s.codes.begin());
      s.codes.back() = code;
    }

    std::fill(s.skip.begin(), s.skip.end(), 0.0f);
    for (const Layer& y : layers_) {
      float* slot = s.rings.data() + y.offset + size_t(s.t % y.d) * R;  // holds x(t - d)
      std::copy_n(slot, R, s.pair.data());
      std::copy_n(s.x.data(), R, s.pair.data() + R);
      std::copy_n(s.x.data(), R, slot);  // x(t), read again at t + d
      ops::matvec(y.dilated, s.pair.data(), y.dilated_b.data, s.z.data());
      if (speakers_) ops::add(s.z.data(), y.cond.data + size_t(s.speaker) * 2 * D, s.z.data(), 2 * D);
      gate(s.z.data(), D, s.g.data());
      ops::matvec(y.res_skip, s.g.data(), y.res_skip_b.data(), s.rs.data());
      ops::add(s.x.data(), s.rs.data(), s.x.data(), R);
      ops::add(s.skip.data(), s.rs.data() + R, s.skip.data(), S_);
    }
    ++s.t;
    ops::relu(s.skip.data(), S_);
    ops::matvec(out1_w_, s.skip.data(), out1_b_.data, s.hidden.data());
    ops::relu(s.hidden.data(), Hd_);
    ops::matvec(out2_w_, s.hidden.data(), out2_b_.data, logits);
  }

 private:
  int R_ = 0, D_ = 0, S_ = 0, Hd_ = 0, Q_ = 0, K_ = 0, E_ = 0, speakers_ = 0, rate_ = 0;
  Tensor embed_, causal_b_, out1_b_, out2_b_;
  Weight out1_w_, out2_w_;
  std::vector<float> causal_;    // the input layer stays float32 (small; reads embeddings or codes)
  std::vector<Layer> layers_;
  size_t ring_floats_ = 0;
};

}  // namespace

std::unique_ptr<Model> create_wavenet(std::shared_ptr<const ModelFile> file) {
  return std::make_unique<WaveNet>(std::move(file));
}

}  // namespace argen
