// What PixelCNN and PixelRNN share: an image as H*W*C levels in raster order (row, column,
// channel), class labels, the output head, and the bookkeeping of cached generation. A model
// supplies two pieces of work:
//   begin_row(i): everything row i needs from rows < i (once per row, as matrix products);
//   features(i, j): the feature vector at pixel (i, j) from the pixels before it (once per pixel).
// Channel c of pixel (i, j) then costs only the head. So each new pixel costs only the work it
// changes (Ramachandran et al., 2017), never a pass over the whole image.
#pragma once
#include <vector>

#include "models/blocks.h"
#include "models/model.h"

namespace argen {

struct RasterState : State {
  int pos = 0;            // raster position of the next element to consume
  int row = -1;           // the last row begin_row() ran for
  int label = -1;
  std::vector<float> x;   // [H, W, C] levels scaled to [-1, 1]
  std::vector<float> feat, head_in, head_hidden;  // [features], [features], [head_hidden]
};

class RasterModel : public Model {
 public:
  void set_label(State& state, int label) const override;
  void first(State& state, float* logits) const override;
  void step(State& state, int level, float* logits) const override;

 protected:
  // Reads the image config, labels and head; `features` is the size of what features() writes.
  RasterModel(std::shared_ptr<const ModelFile> file, int features);
  void init_state(RasterState& s) const;
  // The class bias of `emb` [num_labels, n] for the state's label, or null when unconditional.
  const float* label_bias(const Tensor& emb, const RasterState& s) const;
  // A convolution weight [O, C, (kh,) kw] as an [O, kh*kw*C] matrix (conv_matrix), in the model's
  // weight type; int8 = false keeps float32 (layers reading pixel levels: 127 steps cannot tell
  // 256 levels apart).
  Weight conv(const std::string& name, const std::vector<int64_t>& shape, bool int8 = true);
  virtual void begin_row(RasterState& s, int i) const = 0;
  virtual void features(RasterState& s, int i, int j) const = 0;  // into s.feat

  int H_ = 0, W_ = 0, C_ = 0, levels_ = 0, labels_ = 0, features_ = 0, head_hidden_ = 0;

 private:
  void predict(RasterState& s, float* logits) const;  // logits of position s.pos
  Weight out1_w_, out2_w_;
  Tensor out1_b_, out2_b_, channel_in_;
};

}  // namespace argen
