#include "models/weight.h"

#include <algorithm>

namespace argen {
namespace {
template <class T>
T* take(const ModelFile& mf, size_t n) {
  return static_cast<T*>(mf.alloc(n * sizeof(T)));
}
}  // namespace

Weight::Weight(const ModelFile& mf, const Tensor& t, bool int8, bool only_reader) {
  m_.rows = t.shape.empty() ? 1 : size_t(t.shape[0]);
  m_.cols = m_.rows ? t.size() / m_.rows : 0;
  if (int8) {
    quantize(mf, t.data);
  } else if (only_reader && ops::use_pairs(m_.rows, m_.cols)) {
    m_.pairs = mf.repack_once(t, ops::pack_pairs, m_.rows, m_.cols);
  } else {
    m_.f32 = t.data;
    pack(mf);
  }
}

Weight::Weight(const ModelFile& mf, const std::vector<float>& data, size_t rows, size_t cols, bool int8) {
  m_.rows = rows, m_.cols = cols;
  if (int8) {
    quantize(mf, data.data());
  } else {
    float* f32 = take<float>(mf, rows * cols);
    std::copy(data.begin(), data.end(), f32);
    m_.f32 = f32;
    pack(mf);
  }
}

void Weight::pack(const ModelFile& mf) {
  if (!ops::use_panels(m_.rows, m_.cols)) return;
  if (m_.q8) {
    int8_t* panels = take<int8_t>(mf, ops::panel_bytes_q8(m_.rows, m_.cols));
    ops::pack_panels_q8(m_.q8, m_.rows, m_.cols, panels);
    m_.q8_panels = panels;
  } else {
    float* panels = take<float>(mf, ops::panel_floats(m_.rows, m_.cols));
    ops::pack_panels(m_.f32, m_.rows, m_.cols, panels);
    m_.panels = panels;
  }
}

void Weight::quantize(const ModelFile& mf, const float* data) {
  int8_t* q8 = take<int8_t>(mf, m_.rows * m_.cols);
  float* scale = take<float>(mf, m_.rows);
  ops::quantize_rows_q8(data, m_.rows, m_.cols, q8, scale);
  m_.q8 = q8;
  m_.scale = scale;
  m_.q8_prefetch = ops::use_prefetch_q8(mf.elements());
  pack(mf);  // panels from the plain form
  if (ops::kQ8Offset) {
    ops::offset_q8(q8, m_.rows, m_.cols);
    m_.q8_offset = true;
  }
}

}  // namespace argen
