// pixelrnn: PixelRNN with Row LSTM layers (van den Oord et al., 2016), names as in
// models/image_models.py. Layer l at pixel (i, j):
//   gates = is(input, columns j-k/2 .. j-1 (layer 0) or .. j (later)) + ss(h of row i-1,
//           columns j-k/2 .. j+k/2) (+ layer 0: is_up(image row i-1, columns j-k/2 .. j+k/2))
//           (+ class bias), PyTorch's LSTM cell with c of (i-1, j);
//   the input of layer l+1 is the residual stream: out_0, then out_0 + out_1, ...
// The state-to-state part depends only on the previous row, so begin_row() computes it for the
// whole row as one matrix product per layer; features() runs the input-to-state part and the cell.
#include <algorithm>

#include "core/error.h"
#include "models/blocks.h"
#include "models/raster.h"
#include "ops/ops.h"

namespace argen {
namespace {

struct Layer {
  Weight is, ss, is_up;  // convolutions as matrices: [4H, kw*in], [4H, k*H], layer 0: [4H, k*C]
  Tensor is_b, cond;
  int in = 0, kw = 0;
};

struct PixelRNNState : RasterState {
  std::vector<float> h, c;    // [L, H, W, hidden]: each layer's LSTM output and cell
  std::vector<float> stream;  // [L, H, W, hidden]: the residual stream after each layer
  std::vector<float> ss_row;  // [L, W, 4*hidden]: ss(previous row) + biases, current row
  std::vector<float> patch, gates, up;  // up: [W, 4*hidden]
};

class PixelRNN : public RasterModel {
 public:
  explicit PixelRNN(std::shared_ptr<const ModelFile> f) : RasterModel(f, int(f->config_int("hidden", 1, 1 << 16))) {
    const ModelFile& mf = *file_;
    N_ = int(mf.config_int("hidden", 1, 1 << 16));
    L_ = int(mf.config_int("layers", 1, 1024));
    k_ = int(mf.config_int("kernel", 3, 63, 3));
    if (k_ % 2 == 0) throw mf.error("config key 'kernel' must be odd, found " + std::to_string(k_));
    check_state_bytes(mf, 3 * uint64_t(L_) * H_ * W_ * N_ * sizeof(float), "the generation cache");
    const int64_t N = N_, G = 4 * N_;
    for (int l = 0; l < L_; ++l) {
      const std::string p = "layers." + std::to_string(l) + ".";
      Layer y;
      y.in = l == 0 ? C_ : N_;
      y.kw = l == 0 ? k_ / 2 : k_ / 2 + 1;
      y.is = conv(p + "is_.weight", {G, y.in, 1, y.kw}, l > 0);
      y.is_b = weight(p + "is_.bias", {G});
      y.ss = conv(p + "ss.weight", {G, N, k_});
      if (l == 0) y.is_up = conv(p + "is_up.weight", {G, C_, 1, k_}, false);
      if (labels_) y.cond = weight(p + "cond.weight", {labels_, G});
      layers_.push_back(std::move(y));
    }
  }

  std::unique_ptr<State> new_state() const override {
    auto s = std::make_unique<PixelRNNState>();
    init_state(*s);
    const size_t planes = size_t(L_) * H_ * W_ * N_;
    s->h.assign(planes, 0.0f);
    s->c.assign(planes, 0.0f);
    s->stream.assign(planes, 0.0f);
    s->ss_row.resize(size_t(L_) * W_ * 4 * N_);
    s->patch.resize(size_t(W_) * k_ * std::max(N_, C_));
    s->gates.resize(4 * N_);
    s->up.resize(size_t(W_) * 4 * N_);
    return s;
  }

 private:
  float* at(std::vector<float>& planes, int l, int i, int j) const {
    return planes.data() + ((size_t(l) * H_ + i) * W_ + j) * N_;
  }

  void begin_row(RasterState& rs, int i) const override {
    auto& s = static_cast<PixelRNNState&>(rs);
    const int G = 4 * N_;
    for (int l = 0; l < L_; ++l) {
      const Layer& y = layers_[l];
      float* out = s.ss_row.data() + size_t(l) * W_ * G;
      if (i == 0) {  // the row above is all zeros
        for (int j = 0; j < W_; ++j) std::copy_n(y.is_b.data, G, out + size_t(j) * G);
      } else {
        for (int j = 0; j < W_; ++j)
          gather_patch(at(s.h, l, 0, 0), H_, W_, N_, i - 1, j, 1, k_, 0, k_ / 2, s.patch.data() + size_t(j) * k_ * N_);
        ops::matmul(y.ss, s.patch.data(), W_, y.is_b.data, out);
      }
      if (l == 0 && i > 0) {  // the image's previous row
        for (int j = 0; j < W_; ++j)
          gather_patch(s.x.data(), H_, W_, C_, i - 1, j, 1, k_, 0, k_ / 2, s.patch.data() + size_t(j) * k_ * C_);
        ops::matmul(y.is_up, s.patch.data(), W_, nullptr, s.up.data());
        ops::add(out, s.up.data(), out, size_t(W_) * G);
      }
      if (const float* cb = label_bias(y.cond, s))
        for (int j = 0; j < W_; ++j) ops::add(out + size_t(j) * G, cb, out + size_t(j) * G, G);
    }
  }

  void features(RasterState& rs, int i, int j) const override {
    auto& s = static_cast<PixelRNNState&>(rs);
    const int N = N_, G = 4 * N_;
    for (int l = 0; l < L_; ++l) {
      const Layer& y = layers_[l];
      const float* src = l == 0 ? s.x.data() : at(s.stream, l - 1, 0, 0);
      gather_patch(src, H_, W_, y.in, i, j, 1, y.kw, 0, k_ / 2, s.patch.data());
      ops::matvec(y.is, s.patch.data(), s.ss_row.data() + (size_t(l) * W_ + j) * G, s.gates.data());
      float* c = at(s.c, l, i, j);
      float* h = at(s.h, l, i, j);
      if (i > 0) std::copy_n(at(s.c, l, i - 1, j), N, c);
      lstm_cell(s.gates.data(), c, h, N);
      float* out = at(s.stream, l, i, j);
      if (l == 0)
        std::copy_n(h, N, out);
      else
        ops::add(at(s.stream, l - 1, i, j), h, out, N);
    }
    std::copy_n(at(s.stream, L_ - 1, i, j), N, s.feat.data());
  }

  int N_ = 0, L_ = 0, k_ = 0;
  std::vector<Layer> layers_;
};

}  // namespace

std::unique_ptr<Model> create_pixelrnn(std::shared_ptr<const ModelFile> file) {
  return std::make_unique<PixelRNN>(std::move(file));
}

}  // namespace argen
