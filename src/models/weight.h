// A matrix a model multiplies vectors by, in the weight type the model was loaded with: float32 (a
// view of the file's tensor, or a matrix the model built from tensors, e.g. a convolution's) or int8
// with one scale per row (quantized here, at load: LoadOptions::int8, or a file with int8 tensors).
// Either also gets a copy packed in panels where ops::use_panels() says its products run faster
// that way (small matrices). What it makes lives in its ModelFile's memory (ModelFile::alloc), so
// a model's weights sit together; a Weight is a view, valid while that ModelFile lives. A tensor
// only it reads may be repacked in place in row pairs instead (ops::use_pairs: in wasm, large ones).
// Pass it where ops take an ops::Matrix; ops pick the float32 or the int8 x int8 kernel.
#pragma once
#include <cstdint>
#include <vector>

#include "core/model_file.h"
#include "ops/ops.h"

namespace argen {

class Weight {
 public:
  Weight() = default;
  // t (a tensor of mf) as a [shape[0] x rest] matrix. only_reader: nothing but this Weight reads t,
  // so float32 weights may be repacked in place (row pairs where ops::use_pairs says so).
  Weight(const ModelFile& mf, const Tensor& t, bool int8, bool only_reader = false);
  // A matrix built from mf's tensors, copied into mf's memory.
  Weight(const ModelFile& mf, const std::vector<float>& data, size_t rows, size_t cols, bool int8);

  operator const ops::Matrix&() const { return m_; }
  size_t rows() const { return m_.rows; }
  size_t cols() const { return m_.cols; }
  bool empty() const { return m_.rows == 0; }
  bool int8() const { return m_.q8 != nullptr; }

 private:
  void quantize(const ModelFile& mf, const float* data);
  void pack(const ModelFile& mf);
  ops::Matrix m_;
};

}  // namespace argen
