#include "models/weight.h"

namespace argen {

Weight::Weight(const Tensor& t, bool int8) {
  m_.rows = t.shape.empty() ? 1 : size_t(t.shape[0]);
  m_.cols = m_.rows ? t.size() / m_.rows : 0;
  if (int8) {
    quantize(t.data);
  } else {
    m_.f32 = t.data;
    pack();
  }
}

Weight::Weight(std::vector<float> data, size_t rows, size_t cols, bool int8) {
  m_.rows = rows, m_.cols = cols;
  if (int8) {
    quantize(data.data());
  } else {
    owned_.assign(data.begin(), data.end());
    m_.f32 = owned_.data();
    pack();
  }
}

void Weight::pack() {
  if (!ops::use_panels(m_.rows, m_.cols)) return;
  if (m_.q8) {
    q8_panels_.resize(ops::panel_bytes_q8(m_.rows, m_.cols));
    ops::pack_panels_q8(m_.q8, m_.rows, m_.cols, q8_panels_.data());
    m_.q8_panels = q8_panels_.data();
  } else {
    panels_.resize(ops::panel_floats(m_.rows, m_.cols));
    ops::pack_panels(m_.f32, m_.rows, m_.cols, panels_.data());
    m_.panels = panels_.data();
  }
}

void Weight::quantize(const float* data) {
  q8_.resize(m_.rows * m_.cols);
  scale_.resize(m_.rows);
  ops::quantize_rows_q8(data, m_.rows, m_.cols, q8_.data(), scale_.data());
  m_.q8 = q8_.data();
  m_.scale = scale_.data();
  pack();
}

}  // namespace argen
