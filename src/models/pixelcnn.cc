// pixelcnn: Gated PixelCNN (van den Oord et al., 2016), names as in models/image_models.py.
//   v_in, h_in: the input convolutions (rows above; columns left), then per layer
//   v = conv_v(v) (2x3, rows i-1, i);  h = conv_h(h) (1x2, columns j-1, j) + v2h(v)
//   (+ class biases); v = gate(v); g = gate(h); h += res(g); skip += skip(g).
// The vertical stack of a row depends only on rows above it, so begin_row() computes it for the
// whole row (and its v2h contribution to the horizontal stack) as matrix products; features()
// then runs the horizontal stack at one pixel: per layer one 2F x 2F and one F x F product.
// Neither reads further back than the row above, so the state keeps two rows of the vertical
// stack and one of the horizontal: 0.24 MB for pixelcnn-gated, where whole planes took 4.4 MB,
// zeroed for each image (page faults and the fill: ~0.6 ms, 8% of an int8 image natively).
#include <algorithm>

#include "core/error.h"
#include "models/blocks.h"
#include "models/raster.h"
#include "ops/ops.h"
#include "ops/parallel.h"

namespace argen {
namespace {

struct Layer {
  Weight v, h;               // convolutions as matrices: [2F, 6F], [2F, 2F]
  Weight v2h_w, res_w, skip_w;
  Tensor v_b, h_b, v2h_b, res_b, skip_b, cond_v, cond_h;
};

struct PixelCNNState : RasterState {
  std::vector<float> v;      // [L+1, 2, W, F]: vertical stack input of each layer (then the output), row i at i % 2
  std::vector<float> h;      // [L+1, W, F]: horizontal stack likewise, row i
  std::vector<float> h_row;  // [L, W, 2F]: v2h(v) + biases of the current row, per layer
  std::vector<float> patch, vf, hf, g, skip;
};

class PixelCNN : public RasterModel {
 public:
  explicit PixelCNN(std::shared_ptr<const ModelFile> f)
      : RasterModel(f, int(f->config_int("skip", 0, 1 << 16, 0)) ? int(f->config_int("skip", 0, 1 << 16, 0))
                                                                : int(f->config_int("filters", 1, 1 << 16))) {
    const ModelFile& mf = *file_;
    F_ = int(mf.config_int("filters", 1, 1 << 16));
    L_ = int(mf.config_int("layers", 1, 1024));
    k_ = int(mf.config_int("input_kernel", 3, 63, 7));
    S_ = int(mf.config_int("skip", 0, 1 << 16, 0));
    if (k_ % 2 == 0) throw mf.error("config key 'input_kernel' must be odd, found " + std::to_string(k_));
    check_state_bytes(mf, 3 * uint64_t(L_ + 1) * W_ * F_ * sizeof(float), "the generation cache");
    const int64_t F = F_, F2 = 2 * F_, k = k_;
    v_in_ = conv("v_in.weight", {F, C_, k / 2, k}, false);
    v_in_b_ = weight("v_in.bias", {F});
    h_in_ = conv("h_in.weight", {F, C_, 1, k / 2}, false);
    h_in_b_ = weight("h_in.bias", {F});
    for (int l = 0; l < L_; ++l) {
      const std::string p = "layers." + std::to_string(l) + ".";
      Layer y;
      y.v = vertical_conv(p + "v.weight");
      y.v_b = weight(p + "v.bias", {F2});
      y.h = conv(p + "h.weight", {F2, F, 1, 2});
      y.h_b = weight(p + "h.bias", {F2});
      y.v2h_w = matrix(p + "v2h.weight", {F2, F2, 1, 1});
      y.v2h_b = weight(p + "v2h.bias", {F2});
      y.res_w = matrix(p + "res.weight", {F, F, 1, 1});
      y.res_b = weight(p + "res.bias", {F});
      if (S_) {
        y.skip_w = matrix(p + "skip.weight", {S_, F, 1, 1});
        y.skip_b = weight(p + "skip.bias", {S_});
      }
      if (labels_) {
        y.cond_v = weight(p + "cond_v.weight", {labels_, F2});
        y.cond_h = weight(p + "cond_h.weight", {labels_, F2});
      }
      layers_.push_back(std::move(y));
    }
  }

  // The vertical convolution (2x3) as a matrix whose columns run by kernel column, then row:
  // [2F, (3, 2, F)]. A row's patches are then windows of one buffer holding each column's row above
  // and own row side by side, 2F apart (row_layer), not copies.
  Weight vertical_conv(const std::string& name) {
    const int64_t F = F_;
    const std::vector<float> m = conv_matrix(weight(name, {2 * F, F, 2, 3}));  // [2F, (2, 3, F)]
    std::vector<float> cols(m.size());
    for (int64_t o = 0; o < 2 * F; ++o)
      for (int64_t dy = 0; dy < 2; ++dy)
        for (int64_t dx = 0; dx < 3; ++dx)
          std::copy_n(m.data() + o * 6 * F + (dy * 3 + dx) * F, F, cols.data() + o * 6 * F + (dx * 2 + dy) * F);
    return Weight(*file_, cols, size_t(2 * F), size_t(6 * F), file_->int8());
  }

  std::unique_ptr<State> new_state() const override {
    auto s = std::make_unique<PixelCNNState>();
    init_state(*s);
    const size_t row = size_t(W_) * F_;
    s->v.assign((L_ + 1) * 2 * row, 0.0f);
    s->h.assign((L_ + 1) * row, 0.0f);
    s->h_row.resize(size_t(L_) * W_ * 2 * F_);
    s->patch.resize(size_t(W_) * std::max(6 * F_, (k_ / 2) * k_ * C_));
    s->vf.resize(size_t(W_) * 2 * F_);
    s->hf.resize(2 * F_);
    s->g.resize(F_);
    s->skip.resize(std::max(S_, 1));
    return s;
  }

 private:
  // Layer l's vertical stack input at row i: two rows take turns (no copies: in wasm a copy of
  // a row per layer called out to JS, 2% of an image).
  float* v_row(PixelCNNState& s, int l, int i) const { return s.v.data() + (size_t(l) * 2 + size_t(i % 2)) * W_ * F_; }
  // Layer l's horizontal stack input at column j of row i.
  float* h_at(PixelCNNState& s, int l, int j) const { return s.h.data() + (size_t(l) * W_ + j) * F_; }

  // Row i's vertical stack, layer by layer, each layer's columns split across threads (a part
  // gathers, multiplies and gates its own columns, so only the columns at its edges cross cores).
  void begin_row(RasterState& rs, int i) const override {
    struct Ctx { const PixelCNN* m; PixelCNNState* s; int i, l; } c{this, &static_cast<PixelCNNState&>(rs), i, -1};
    for (; c.l < L_; ++c.l)
      ops::parallel_for(W_, 1, [](size_t b, size_t e, void* p) {
        const auto& c = *static_cast<Ctx*>(p);
        c.m->row_layer(*c.s, c.i, c.l, int(b), int(e));
      }, &c);
  }

  // Layer l of row i's vertical stack at columns b..e-1 (l = -1: the input convolution, from rows
  // i-k/2 .. i-1 of the image).
  void row_layer(PixelCNNState& s, int i, int l, int b, int e) const {
    const int F = F_, F2 = 2 * F_, k = k_;
    const size_t n = size_t(e - b);
    if (l < 0) {
      const int n_in = (k / 2) * k * C_;
      float* patch = s.patch.data() + size_t(b) * n_in;
      for (int j = b; j < e; ++j)
        gather_patch(s.x.data(), H_, W_, C_, i, j, k / 2, k, k / 2, k / 2, patch + size_t(j - b) * n_in);
      ops::matmul(v_in_, patch, n, v_in_b_.data, v_row(s, 0, i) + size_t(b) * F);
      return;
    }
    const Layer& y = layers_[l];
    // Columns b-1..e (zeros outside the image), each its row above (zeros for i = 0) then its own:
    // column j's 2x3 patch is the 6F values from column j-1 on (vertical_conv's order).
    const float* above = v_row(s, l, i + 1);
    const float* here = v_row(s, l, i);
    float* cols = s.patch.data() + size_t(b) * 6 * F;  // (e - b + 2) 2F of this part's 6F per column
    for (int j = b - 1; j <= e; ++j) {
      float* p = cols + size_t(j - b + 1) * F2;
      if (j < 0 || j >= W_) {
        std::fill(p, p + F2, 0.0f);
        continue;
      }
      if (i > 0)
        std::copy_n(above + size_t(j) * F, F, p);
      else
        std::fill(p, p + F, 0.0f);
      std::copy_n(here + size_t(j) * F, F, p + F);
    }
    float* vf = s.vf.data() + size_t(b) * F2;
    ops::matmul(y.v, cols, n, y.v_b.data, vf, F2);
    float* hr = s.h_row.data() + (size_t(l) * W_ + b) * F2;
    ops::matmul(y.v2h_w, vf, n, y.v2h_b.data, hr);
    const float* cv = label_bias(y.cond_v, s);
    const float* ch = label_bias(y.cond_h, s);
    for (size_t j = 0; j < n; ++j) {
      float* vj = vf + j * F2;
      ops::add(hr + j * F2, y.h_b.data, hr + j * F2, F2);
      if (ch) ops::add(hr + j * F2, ch, hr + j * F2, F2);
      if (cv) ops::add(vj, cv, vj, F2);
      gate(vj, F, v_row(s, l + 1, i) + (b + j) * F);
    }
  }

  void features(RasterState& rs, int i, int j) const override {
    auto& s = static_cast<PixelCNNState&>(rs);
    const int F = F_, F2 = 2 * F_, k = k_;
    gather_patch(s.x.data(), H_, W_, C_, i, j, 1, k / 2, 0, k / 2, s.patch.data());
    ops::matvec(h_in_, s.patch.data(), h_in_b_.data, h_at(s, 0, j));
    if (S_) std::fill(s.skip.begin(), s.skip.end(), 0.0f);
    for (int l = 0; l < L_; ++l) {
      const Layer& y = layers_[l];
      // Columns j-1, j of row i: side by side in the row but at j = 0 (zeros on the left).
      const float* hp = j > 0 ? h_at(s, l, j - 1) : s.patch.data();
      if (j == 0) gather_patch(h_at(s, l, 0), 1, W_, F, 0, j, 1, 2, 0, 1, s.patch.data());
      ops::matvec(y.h, hp, s.h_row.data() + (size_t(l) * W_ + j) * F2, s.hf.data());
      gate(s.hf.data(), F, s.g.data());
      float* out = h_at(s, l + 1, j);
      ops::matvec(y.res_w, s.g.data(), y.res_b.data, out);
      ops::add(out, h_at(s, l, j), out, F);
      if (S_) {
        ops::add(s.skip.data(), y.skip_b.data, s.skip.data(), S_);
        ops::matvec_acc(y.skip_w, s.g.data(), s.skip.data());
      }
    }
    if (S_)
      std::copy_n(s.skip.data(), S_, s.feat.data());
    else
      std::copy_n(h_at(s, L_, j), F, s.feat.data());
  }

  int F_ = 0, L_ = 0, k_ = 0, S_ = 0;
  Weight v_in_, h_in_;
  Tensor v_in_b_, h_in_b_;
  std::vector<Layer> layers_;
};

}  // namespace

std::unique_ptr<Model> create_pixelcnn(std::shared_ptr<const ModelFile> file) {
  return std::make_unique<PixelCNN>(std::move(file));
}

}  // namespace argen
