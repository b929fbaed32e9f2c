#include "models/raster.h"

#include <algorithm>

#include "core/error.h"
#include "ops/ops.h"

namespace argen {

RasterModel::RasterModel(std::shared_ptr<const ModelFile> f, int features) : Model(std::move(f)) {
  const ModelFile& mf = *file_;
  H_ = int(mf.config_int("height", 1, 4096));
  W_ = int(mf.config_int("width", 1, 4096));
  C_ = int(mf.config_int("channels", 1, 4));
  levels_ = int(mf.config_int("levels", 2, 65536, 256));
  labels_ = int(mf.config_int("num_classes", 0, 1 << 20, 0));
  head_hidden_ = int(mf.config_int("head_hidden", 1, 1 << 16));
  features_ = features;
  if (uint64_t(H_) * W_ * C_ > (1u << 24)) throw mf.error("the image is too large: " + std::to_string(H_) + "x" + std::to_string(W_) + "x" + std::to_string(C_));
  describe(levels_, H_ * W_ * C_);
  info_.height = H_, info_.width = W_, info_.channels = C_, info_.num_labels = labels_;
  if (mf.config().contains("class_names")) {
    const auto& names = mf.config()["class_names"];
    if (!names.is_array() || int(names.size()) != labels_)
      throw mf.error("config key 'class_names' must be a list of num_classes (" + std::to_string(labels_) + ") strings");
    for (const auto& n : names) {
      if (!n.is_string()) throw mf.error("config key 'class_names' must hold strings, found " + json_brief(n));
      info_.label_names.push_back(n.get<std::string>());
    }
  }
  out1_w_ = matrix("head.out1.weight", {head_hidden_, features, 1, 1});
  out1_b_ = weight("head.out1.bias", {head_hidden_});
  out2_w_ = matrix("head.out2.weight", {int64_t(C_) * levels_, head_hidden_, 1, 1});
  out2_b_ = weight("head.out2.bias", {int64_t(C_) * levels_});
  if (C_ > 1) channel_in_ = weight("head.channel_in", {C_, features, C_});
}

Weight RasterModel::conv(const std::string& name, const std::vector<int64_t>& shape, bool int8) {
  const Tensor t = weight(name, shape);
  return Weight(*file_, conv_matrix(t), size_t(shape[0]), t.size() / size_t(shape[0]), int8 && file_->int8());
}

void RasterModel::init_state(RasterState& s) const {
  s.x.assign(size_t(H_) * W_ * C_, 0.0f);
  s.feat.resize(features_);
  s.head_in.resize(features_);
  s.head_hidden.resize(head_hidden_);
}

const float* RasterModel::label_bias(const Tensor& emb, const RasterState& s) const {
  return labels_ ? emb.data + size_t(s.label) * emb.shape[1] : nullptr;
}

void RasterModel::set_label(State& state, int label) const {
  auto& s = static_cast<RasterState&>(state);
  if (!labels_) Model::set_label(state, label);
  if (label < 0 || label >= labels_)
    throw Error("label " + std::to_string(label) + " is out of range: the model has " + std::to_string(labels_) + " classes (0.." + std::to_string(labels_ - 1) + ")");
  if (s.pos != 0 || s.row != -1) throw Error("the label must be set before the first pixel");
  s.label = label;
}

void RasterModel::first(State& state, float* logits) const {
  auto& s = static_cast<RasterState&>(state);
  if (s.pos != 0) throw Error("first() is for a fresh image; this one is at position " + std::to_string(s.pos));
  predict(s, logits);
}

void RasterModel::step(State& state, int level, float* logits) const {
  auto& s = static_cast<RasterState&>(state);
  const int n = H_ * W_ * C_;
  if (s.pos >= n) throw Error("the image is complete: all " + std::to_string(n) + " levels are in");
  if (level < 0 || level >= levels_)
    throw Error("level " + std::to_string(level) + " is out of range 0.." + std::to_string(levels_ - 1));
  s.x[s.pos] = float(level) * (2.0f / float(levels_ - 1)) - 1.0f;
  if (++s.pos < n) predict(s, logits);
}

void RasterModel::predict(RasterState& s, float* logits) const {
  if (labels_ && s.label < 0)
    throw Error("this model is conditioned on a class: set a label 0.." + std::to_string(labels_ - 1));
  const int c = s.pos % C_, pixel = s.pos / C_, i = pixel / W_, j = pixel % W_;
  if (c == 0) {
    while (s.row < i) begin_row(s, ++s.row);
    features(s, i, j);
  }
  // The head for channel c: the pixel's earlier channels enter through channel_in[c].
  const size_t F = features_;
  std::copy_n(s.feat.data(), F, s.head_in.data());
  const float* xp = s.x.data() + size_t(pixel) * C_;
  for (int k = 0; k < c; ++k) {
    const float* w = channel_in_.data + size_t(c) * F * C_;
    for (size_t f = 0; f < F; ++f) s.head_in[f] += w[f * C_ + k] * xp[k];
  }
  ops::relu(s.head_in.data(), F);
  ops::matvec(out1_w_, s.head_in.data(), out1_b_.data, s.head_hidden.data());
  ops::relu(s.head_hidden.data(), head_hidden_);
  ops::matvec(ops::row_block(out2_w_, size_t(c) * levels_, levels_), s.head_hidden.data(),
              out2_b_.data + size_t(c) * levels_, logits);
}

}  // namespace argen
