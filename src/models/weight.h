// A matrix a model multiplies vectors by, in the weight type the model was loaded with: float32 (a
// view of the file's tensor, or a matrix the model built from tensors, e.g. a convolution's) or int8
// with one scale per row (quantized here, at load: LoadOptions::int8, or a file with int8 tensors).
// Either also gets a copy packed in panels where ops::use_panels() says its products run faster
// that way (small matrices).
// Pass it where ops take an ops::Matrix; ops pick the float32 or the int8 x int8 kernel.
#pragma once
#include <cstdint>
#include <vector>

#include "core/aligned.h"
#include "core/model_file.h"
#include "ops/ops.h"

namespace argen {

class Weight {
 public:
  Weight() = default;
  // t as a [shape[0] x rest] matrix.
  Weight(const Tensor& t, bool int8);
  Weight(std::vector<float> data, size_t rows, size_t cols, bool int8);
  // Movable (the vectors' buffers move with them), not copyable (m_ points into them).
  Weight(Weight&&) = default;
  Weight& operator=(Weight&&) = default;
  Weight(const Weight&) = delete;
  Weight& operator=(const Weight&) = delete;

  operator const ops::Matrix&() const { return m_; }
  size_t rows() const { return m_.rows; }
  size_t cols() const { return m_.cols; }
  bool empty() const { return m_.rows == 0; }
  bool int8() const { return m_.q8 != nullptr; }

 private:
  void quantize(const float* data);
  void pack();
  AlignedVector<float> owned_;  // a float32 matrix built by the model
  AlignedVector<float> panels_;
  AlignedVector<int8_t> q8_panels_;
  AlignedVector<int8_t> q8_;
  std::vector<float> scale_;
  ops::Matrix m_;
};

}  // namespace argen
