// rnn / gru / lstm language models with PyTorch's equations, gate order and parameter names:
//   embedding (or one-hot) -> nn.RNN | nn.GRU | nn.LSTM (num_layers) -> nn.Linear head.
// Tensor prefixes come from config.names so a user's own module exports without renaming.
#include <algorithm>
#include <vector>

#include "core/error.h"
#include "models/blocks.h"
#include "models/model.h"
#include "ops/ops.h"

namespace argen {
namespace {

enum class Cell { RNN_TANH, RNN_RELU, GRU, LSTM };

// The first layer's input product of an embedding model depends on the token alone: for small
// vocabularies it is computed for every token at load (the same call as per step, so the same
// floats) and a step reads one row instead of all of W_ih (char-lstm: 1 of its 14 MB per step).
constexpr size_t kMaxInputTableBytes = size_t(8) << 20;

struct Layer {
  Weight w_ih, w_hh;         // [G*H, in], [G*H, H]
  const float* w_ih_f32 = nullptr;  // one-hot input: W_ih's columns are read, not multiplied
  std::vector<float> input_table;  // first layer, embedding input: [V, G*H] = W_ih embed[v] + bias
  std::vector<float> bias;   // rnn/lstm: b_ih + b_hh, summed once; gru: b_ih
  std::vector<float> bias_hh;  // gru only: b_hh (its n part is scaled by r)
  int in = 0;
};

struct RecurrentState : State {
  std::vector<float> h, c;   // [L*H] each (c for lstm only)
  std::vector<float> gates;  // [G*H]
  std::vector<float> gh;     // [G*H] (gru)
};

class RecurrentModel : public Model {
 public:
  explicit RecurrentModel(std::shared_ptr<const ModelFile> f) : Model(std::move(f)) {
    const ModelFile& mf = *file_;
    const std::string& arch = mf.arch();
    V_ = int(mf.config_int("vocab_size", 1, 1 << 24));
    H_ = int(mf.config_int("hidden_size", 1, 1 << 16));
    L_ = int(mf.config_int("num_layers", 1, 1024));
    const std::string input = mf.config_string("input", "embedding");
    if (input != "embedding" && input != "one_hot")
      throw mf.error("config key 'input' is '" + input + "', expected 'embedding' or 'one_hot'");
    one_hot_ = input == "one_hot";
    if (arch == "lstm") {
      cell_ = Cell::LSTM;
    } else if (arch == "gru") {
      cell_ = Cell::GRU;
    } else {
      const std::string nl = mf.config_string("nonlinearity", "tanh");
      if (nl != "tanh" && nl != "relu") throw mf.error("config key 'nonlinearity' is '" + nl + "', expected 'tanh' or 'relu'");
      cell_ = nl == "tanh" ? Cell::RNN_TANH : Cell::RNN_RELU;
    }
    if (mf.config().contains("proj_size") && mf.config()["proj_size"] != 0)
      throw mf.error("config key 'proj_size' is set: LSTM projections are not supported");
    const int G = gates();
    const bool bias = mf.config_bool("bias", true);
    const bool head_bias = mf.config_bool("head_bias", true);
    const auto& names = mf.config().contains("names") ? mf.config()["names"] : nlohmann::json::object();
    auto name = [&](const char* key, const char* fallback) {
      if (!names.contains(key)) return std::string(fallback);
      if (!names[key].is_string()) throw mf.error(std::string("config key 'names.") + key + "' must be a string");
      return names[key].get<std::string>();
    };
    const std::string rnn = name("rnn", "rnn"), head = name("head", "head");
    size_t params = 0;
    int in = V_;
    if (!one_hot_) {
      E_ = int(mf.config_int("embedding_dim", 1, 1 << 16));
      embed_ = mf.get(name("embedding", "embed") + ".weight", {V_, E_});
      params += embed_.size();
      in = E_;
    }
    for (int k = 0; k < L_; ++k) {
      Layer l;
      const std::string s = std::to_string(k);
      l.in = k == 0 ? in : H_;
      const Tensor w_ih = mf.get(rnn + ".weight_ih_l" + s, {G * H_, l.in});
      if (k == 0 && one_hot_) {
        l.w_ih_f32 = w_ih.data;
      } else {
        l.w_ih = Weight(mf, w_ih, mf.int8(), true);
      }
      l.w_hh = Weight(mf, mf.get(rnn + ".weight_hh_l" + s, {G * H_, H_}), mf.int8(), true);
      params += w_ih.size() + size_t(G) * H_ * H_;
      l.bias.assign(G * H_, 0.f);
      l.bias_hh.assign(cell_ == Cell::GRU ? G * H_ : 0, 0.f);
      if (bias) {
        Tensor b_ih = mf.get(rnn + ".bias_ih_l" + s, {G * H_});
        Tensor b_hh = mf.get(rnn + ".bias_hh_l" + s, {G * H_});
        params += 2 * size_t(G) * H_;
        for (int i = 0; i < G * H_; ++i) {
          l.bias[i] = b_ih.data[i];
          if (cell_ == Cell::GRU) {
            l.bias_hh[i] = b_hh.data[i];
          } else {
            l.bias[i] += b_hh.data[i];
          }
        }
      } else if (mf.has(rnn + ".bias_ih_l" + s)) {
        throw mf.error("tensor '" + rnn + ".bias_ih_l" + s + "' is present but config says bias: false");
      }
      if (k == 0 && !one_hot_ && size_t(V_) * G * H_ * sizeof(float) <= kMaxInputTableBytes) {
        l.input_table.resize(size_t(V_) * G * H_);
        for (int v = 0; v < V_; ++v)
          ops::matvec(l.w_ih, embed_.data + size_t(v) * E_, l.bias.data(), l.input_table.data() + size_t(v) * G * H_);
      }
      layers_.push_back(std::move(l));
    }
    // A head tied to the embedding (names.head naming its tensor) is read by token too: not repacked.
    const Tensor head_w = mf.get(head + ".weight", {V_, H_});
    head_w_ = Weight(mf, head_w, mf.int8(), head_w.data != embed_.data);
    params += size_t(V_) * H_;
    if (head_bias) {
      head_b_ = mf.get(head + ".bias", {V_});
      params += V_;
    }
    describe(V_, 0);
    info_.parameters = params;
  }

  std::unique_ptr<State> new_state() const override {
    auto s = std::make_unique<RecurrentState>();
    s->h.assign(size_t(L_) * H_, 0.f);
    if (cell_ == Cell::LSTM) s->c.assign(size_t(L_) * H_, 0.f);
    s->gates.assign(size_t(gates()) * H_, 0.f);
    if (cell_ == Cell::GRU) s->gh.assign(size_t(gates()) * H_, 0.f);
    return s;
  }

  void step(State& state, int token, float* logits) const override {
    check_tokens(&token, 1, V_, 0, 0);
    auto& s = static_cast<RecurrentState&>(state);
    const size_t GH = size_t(gates()) * H_;
    const float* x = one_hot_ ? nullptr : embed_.data + size_t(token) * E_;
    for (int k = 0; k < L_; ++k) {
      const Layer& l = layers_[k];
      float* h = s.h.data() + size_t(k) * H_;
      float* g = s.gates.data();
      // g = W_ih x + bias: for one-hot input that is one column of W_ih.
      if (!l.input_table.empty()) {
        const float* row = l.input_table.data() + size_t(token) * GH;
        std::copy(row, row + GH, g);
      } else if (x) {
        ops::matvec(l.w_ih, x, l.bias.data(), g);
      } else {
        for (size_t r = 0; r < GH; ++r) g[r] = l.w_ih_f32[r * l.in + token] + l.bias[r];
      }
      switch (cell_) {
        case Cell::RNN_TANH:
        case Cell::RNN_RELU:
          ops::matvec_acc(l.w_hh, h, g);
          if (cell_ == Cell::RNN_TANH) {
            ops::tanh(g, H_);
          } else {
            ops::relu(g, H_);
          }
          std::copy(g, g + H_, h);
          break;
        case Cell::LSTM:
          ops::matvec_acc(l.w_hh, h, g);
          lstm_cell(g, s.c.data() + size_t(k) * H_, h, H_);
          break;
        case Cell::GRU:
          ops::matvec(l.w_hh, h, l.bias_hh.data(), s.gh.data());
          gru_cell(g, s.gh.data(), h, H_);
          break;
      }
      x = h;
    }
    ops::matvec(head_w_, x, head_b_.data, logits);
  }

 private:
  int gates() const { return cell_ == Cell::LSTM ? 4 : cell_ == Cell::GRU ? 3 : 1; }

  Cell cell_;
  int V_ = 0, H_ = 0, L_ = 0, E_ = 0;
  bool one_hot_ = false;
  Tensor embed_, head_b_;
  Weight head_w_;
  std::vector<Layer> layers_;
};

}  // namespace

std::unique_ptr<Model> create_recurrent(std::shared_ptr<const ModelFile> file) {
  return std::make_unique<RecurrentModel>(std::move(file));
}

}  // namespace argen
