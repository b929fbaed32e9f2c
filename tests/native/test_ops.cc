// Every kernel against its scalar reference, at sizes that are not multiples of the lane count.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "hwy/targets.h"
#include "ops/ops.h"
#include "ops/ops_ref.h"
#include "test_util.h"

using namespace argen;
using test::random_floats;
using test::rel_error;

static const size_t kSizes[] = {1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 33, 64, 100, 257, 1000};

// Runs f with each SIMD target compiled in and supported by this CPU dispatched in turn (natively,
// e.g. AVX2, SSE4, SSSE3 and scalar; a wasm build has its one): every test here covers them all.
template <class F>
void for_each_target(F f) {
#if defined(__EMSCRIPTEN__)
  f();
#else
  for (int64_t t : hwy::SupportedAndGeneratedTargets()) {
    hwy::SetSupportedTargetsForTest(t);
    INFO("SIMD target " << std::string(hwy::TargetName(t)));  // a string: doctest prints a char pointer's address
    f();
  }
  hwy::SetSupportedTargetsForTest(0);
#endif
}

// A float32 product y = W x (+ bias) and y += W x against the scalar reference: with the bias, without
// it, and accumulating onto the latter.
template <class Product, class ProductAcc>
void check_matvec(const std::vector<float>& W, size_t rows, size_t cols, const std::vector<float>& x,
                  const std::vector<float>& b, Product product, ProductAcc product_acc) {
  std::vector<float> y(rows), yr(rows);
  product(b.data(), y.data());
  ops::ref::matvec(W.data(), rows, cols, x.data(), b.data(), yr.data());
  CHECK_MESSAGE(rel_error(y.data(), yr.data(), rows) < 1e-5, rows << "x" << cols);
  product(nullptr, y.data());
  ops::ref::matvec(W.data(), rows, cols, x.data(), nullptr, yr.data());
  CHECK_MESSAGE(rel_error(y.data(), yr.data(), rows) < 1e-5, rows << "x" << cols << " no bias");
  product_acc(y.data());
  ops::ref::matvec_acc(W.data(), rows, cols, x.data(), yr.data());
  CHECK_MESSAGE(rel_error(y.data(), yr.data(), rows) < 1e-5, rows << "x" << cols << " acc");
}

// matvec on row blocks of m (which has panels) starting at each of `begins`, against rows begin.. of
// the reference yr: a block keeps the panels only where it starts a panel.
void check_row_blocks(const ops::Matrix& m, std::initializer_list<size_t> begins, const std::vector<float>& x,
                      const std::vector<float>& b, const std::vector<float>& yr, double tol, const char* what) {
  std::vector<float> ym(m.rows);
  for (size_t begin : begins) {
    if (begin >= m.rows) continue;
    const ops::Matrix block = ops::row_block(m, begin, m.rows - begin);
    CHECK((block.panels != nullptr || block.q8_panels != nullptr) == (begin % ops::kPanelRows == 0));
    std::fill(ym.begin(), ym.end(), 0.f);
    ops::matvec(block, x.data(), b.data() + begin, ym.data());
    CHECK_MESSAGE(rel_error(ym.data(), yr.data() + begin, m.rows - begin) < tol, m.rows << "x" << m.cols << what << begin);
  }
}

TEST_CASE("matvec and matvec_acc match the scalar reference") {
  for_each_target([] {
    for (size_t rows : {1, 2, 3, 4, 5, 7, 9, 33}) {
      for (size_t cols : kSizes) {
        auto W = random_floats(rows * cols, 1 + rows * 31 + cols);
        auto x = random_floats(cols, 7 + cols);
        auto b = random_floats(rows, 9 + rows);
        check_matvec(
            W, rows, cols, x, b, [&](const float* bias, float* y) { ops::matvec(W.data(), rows, cols, x.data(), bias, y); },
            [&](float* y) { ops::matvec_acc(W.data(), rows, cols, x.data(), y); });
      }
    }
  });
}

TEST_CASE("matvec on panels matches the scalar reference, partial panels and row blocks included") {
  for_each_target([] {
    for (size_t rows : {1, 5, 31, 32, 33, 64, 100}) {
      for (size_t cols : {1, 3, 8, 17, 64, 129}) {
        auto W = random_floats(rows * cols, 3 + rows * 37 + cols);
        auto x = random_floats(cols, 5 + cols);
        auto b = random_floats(rows, 7 + rows);
        std::vector<float> P(ops::panel_floats(rows, cols), -1.f), yr(rows);
        ops::pack_panels(W.data(), rows, cols, P.data());
        check_matvec(
            W, rows, cols, x, b, [&](const float* bias, float* y) { ops::matvec_panels(P.data(), rows, cols, x.data(), bias, y); },
            [&](float* y) { ops::matvec_panels_acc(P.data(), rows, cols, x.data(), y); });
        // Through ops::Matrix: panels where present, the row-major weights for a block that does not
        // start a panel.
        ops::Matrix m;
        m.f32 = W.data(), m.panels = P.data(), m.rows = rows, m.cols = cols;
        std::vector<float> ym(rows, 0.f);
        ops::matvec(m, x.data(), b.data(), ym.data());
        ops::ref::matvec(W.data(), rows, cols, x.data(), b.data(), yr.data());
        CHECK(rel_error(ym.data(), yr.data(), rows) < 1e-5);
        check_row_blocks(m, {1, ops::kPanelRows}, x, b, yr, 1e-5, " from row ");
      }
    }
  });
}

TEST_CASE("matvec on row pairs matches the scalar reference; through ops::Matrix, row blocks and matmul too") {
#if defined(__EMSCRIPTEN__)
  CHECK(ops::use_pairs(544, 136));  // past the panels' size, in wasm only
#else
  CHECK_FALSE(ops::use_pairs(544, 136));
#endif
  CHECK_FALSE(ops::use_pairs(64, 64));            // panels
  CHECK_FALSE(ops::use_pairs(548, 136));          // rows not a multiple of 8
  for_each_target([] {
    for (size_t rows : {8, 16, 24, 64, 520}) {
      for (size_t cols : {8, 16, 24, 136, 512}) {
        auto W = random_floats(rows * cols, 5 + rows * 41 + cols);
        auto x = random_floats(cols, 3 + cols);
        auto b = random_floats(rows, 11 + rows);
        std::vector<float> P = W, yr(rows);
        ops::pack_pairs(P.data(), rows, cols);
        CHECK(P[8] == W[cols]);  // row 1's first block after row 0's
        check_matvec(
            W, rows, cols, x, b, [&](const float* bias, float* y) { ops::matvec_pairs(P.data(), rows, cols, x.data(), bias, y); },
            [&](float* y) { ops::matvec_pairs_acc(P.data(), rows, cols, x.data(), y); });
        ops::Matrix m;  // repacked in place: no row-major weights left
        m.pairs = P.data(), m.rows = rows, m.cols = cols;
        ops::ref::matvec(W.data(), rows, cols, x.data(), b.data(), yr.data());
        std::vector<float> ym(rows, 0.f);
        ops::matvec(m, x.data(), b.data(), ym.data());
        CHECK(rel_error(ym.data(), yr.data(), rows) < 1e-5);
        if (rows > 8) {
          const ops::Matrix block = ops::row_block(m, 8, rows - 8);
          ops::matvec(block, x.data(), b.data() + 8, ym.data());
          CHECK(rel_error(ym.data(), yr.data() + 8, rows - 8) < 1e-5);
        }
        const size_t n = 3;
        const auto X = random_floats(n * cols, 13 + cols);
        std::vector<float> Y(n * rows), Yr(n * rows);
        ops::matmul(m, X.data(), n, b.data(), Y.data());
        ops::ref::matmul(W.data(), rows, cols, X.data(), n, b.data(), Yr.data());
        CHECK_MESSAGE(rel_error(Y.data(), Yr.data(), n * rows) < 1e-5, rows << "x" << cols << " matmul");
      }
    }
  });
  std::vector<float> odd(12 * 8);
  CHECK_THROWS_WITH(ops::pack_pairs(odd.data(), 12, 8), doctest::Contains("not in multiples of 8"));
  ops::Matrix m;
  m.pairs = odd.data(), m.rows = 16, m.cols = 8;
  CHECK_THROWS_WITH(ops::row_block(m, 4, 8), doctest::Contains("multiples of 8"));
}

TEST_CASE("int8 matvec matches the scalar reference; quantized rows stay within half a step") {
  for_each_target([] {
    for (size_t rows : {1, 3, 4, 9, 33}) {
      for (size_t cols : kSizes) {
        auto W = random_floats(rows * cols, 11 + rows * 31 + cols, 0.5f);
        auto x = random_floats(cols, 13 + cols);
        auto b = random_floats(rows, 17 + rows);
        std::vector<int8_t> q(rows * cols);
        std::vector<float> scale(rows), y(rows), yr(rows), yf(rows);
        if (rows == 3) W[cols / 2] = 0.f, W[cols - 1] = -0.5f;  // a largest |w| that is negative
        if (rows == 4) std::fill(W.begin() + cols, W.begin() + 2 * cols, 0.f);  // a zero row: scale 1
        const bool ties = rows == 9 && cols >= 5;  // scale 1: halves round to even
        if (ties) W[0] = 127.f, W[1] = 2.5f, W[2] = -3.5f, W[3] = 0.5f, W[4] = 1.5f;
        ops::quantize_rows_q8(W.data(), rows, cols, q.data(), scale.data());
        std::vector<int8_t> q_ref(rows * cols);
        std::vector<float> scale_ref(rows);
        ops::ref::quantize_rows_q8(W.data(), rows, cols, q_ref.data(), scale_ref.data());
        CHECK(q == q_ref);  // the same rounding (ties to even) on every target
        if (ties) CHECK(std::vector<int>(q.begin(), q.begin() + 5) == std::vector<int>{127, 2, -4, 0, 2});
        CHECK(scale == scale_ref);
        for (size_t r = 0; r < rows; ++r)
          for (size_t c = 0; c < cols; ++c)  // round to nearest: within half a quantization step
            CHECK(std::fabs(q[r * cols + c] * scale[r] - W[r * cols + c]) <= 0.5f * scale[r] * (1 + 1e-5f));
        ops::matvec_q8(q.data(), scale.data(), rows, cols, x.data(), b.data(), y.data());
        ops::ref::matvec_q8(q.data(), scale.data(), rows, cols, x.data(), b.data(), yr.data());
        CHECK_MESSAGE(rel_error(y.data(), yr.data(), rows) < 1e-5, rows << "x" << cols);
        // And close to the float32 product: the error is bounded by the rounding of each weight.
        ops::ref::matvec(W.data(), rows, cols, x.data(), b.data(), yf.data());
        for (size_t r = 0; r < rows; ++r) {
          double bound = 0;
          for (size_t c = 0; c < cols; ++c) bound += 0.5 * scale[r] * std::fabs(x[c]);
          CHECK(std::fabs(y[r] - yf[r]) <= bound * 1.001 + 1e-5);
        }
      }
    }
  });
}

TEST_CASE("int8 x int8 matvec matches the scalar reference and the float32 product within its rounding bound") {
  for_each_target([] {
    for (size_t rows : {1, 3, 4, 9, 33, 130, 261}) {  // 130 x 1000 and 261 x 257+ take the segmented path
      for (size_t cols : kSizes) {
        auto W = random_floats(rows * cols, 7 + rows * 37 + cols, 0.5f);
        auto x = random_floats(cols, 19 + cols, 2.f);
        auto b = random_floats(rows, 23 + rows);
        std::vector<int8_t> q(rows * cols);
        std::vector<int16_t> xq(cols);
        std::vector<float> scale(rows), y(rows), yr(rows), yf(rows), ya(rows);
        ops::quantize_rows_q8(W.data(), rows, cols, q.data(), scale.data());
        const float xs = ops::quantize_vector_q8(x.data(), cols, xq.data());
        for (size_t c = 0; c < cols; ++c) {
          CHECK(std::abs(xq[c]) <= 127);
          CHECK(std::fabs(xq[c] * xs - x[c]) <= 0.5f * xs * (1 + 1e-5f));
          // Exactly lrint (ties to even) of the scaled value: the same integers on every target.
          CHECK(xq[c] == std::lrint(std::clamp(x[c] * (1.0f / xs), -127.0f, 127.0f)));
        }
        ops::matvec_q8q8(q.data(), scale.data(), rows, cols, xq.data(), xs, b.data(), y.data());
        ops::ref::matvec_q8q8(q.data(), scale.data(), rows, cols, xq.data(), xs, b.data(), yr.data());
        CHECK_MESSAGE(rel_error(y.data(), yr.data(), rows) < 1e-6, rows << "x" << cols);
        ya = b;
        ops::matvec_q8q8_acc(q.data(), scale.data(), rows, cols, xq.data(), xs, ya.data());
        CHECK_MESSAGE(rel_error(ya.data(), yr.data(), rows) < 1e-6, rows << "x" << cols << " acc");
        // |W x - (s q)(xs xq)| <= sum |w - s q| |x| + sum |s q| |x - xs xq| <= s/2 |x|_1 + s |q|_1 xs/2.
        ops::ref::matvec(W.data(), rows, cols, x.data(), b.data(), yf.data());
        for (size_t r = 0; r < rows; ++r) {
          double bound = 0;
          for (size_t c = 0; c < cols; ++c) bound += 0.5 * scale[r] * (std::fabs(x[c]) + std::abs(q[r * cols + c]) * xs);
          CHECK(std::fabs(y[r] - yf[r]) <= bound * 1.001 + 1e-5);
        }
        // Through ops::Matrix (the path models take), in row blocks too.
        ops::Matrix m;
        m.q8 = q.data(), m.scale = scale.data(), m.rows = rows, m.cols = cols;
        std::vector<float> ym(rows);
        ops::matvec(m, x.data(), b.data(), ym.data());
        CHECK(rel_error(ym.data(), yr.data(), rows) < 1e-6);
        if (rows > 2) {
          ops::matvec(ops::row_block(m, 1, rows - 2), x.data(), b.data() + 1, ym.data());
          CHECK(rel_error(ym.data(), yr.data() + 1, rows - 2) < 1e-6);
        }
        // Read ahead (models whose weights stream from memory): AVX2 takes a line of each row per step.
        ops::Matrix mp = m;
        mp.q8_prefetch = true;
        ops::matvec(mp, x.data(), b.data(), ym.data());
        CHECK_MESSAGE(rel_error(ym.data(), yr.data(), rows) < 1e-6, rows << "x" << cols << " prefetch");
        // In offset form (how models store int8 rows in wasm), which every target's kernel reads.
        std::vector<int8_t> qo = q;
        ops::offset_q8(qo.data(), rows, cols);
        CHECK(qo[0] == int8_t(q[0] ^ 0x80));
        if (cols > 1) CHECK(qo[1] == q[1]);
        if (rows > 1) CHECK(qo[cols] == int8_t(q[cols] ^ 0x80));  // by column, whatever cols' parity
        ops::Matrix mo = m;
        mo.q8 = qo.data(), mo.q8_offset = true;
        ops::matvec(mo, x.data(), b.data(), ym.data());
        CHECK_MESSAGE(rel_error(ym.data(), yr.data(), rows) < 1e-6, rows << "x" << cols << " offset");
        for (bool prefetch : {false, true}) {
          ya = b;
          mo.q8_prefetch = prefetch;
          ops::matvec_acc(mo, x.data(), ya.data());
          CHECK_MESSAGE(rel_error(ya.data(), yr.data(), rows) < 1e-6,
                        rows << "x" << cols << " offset acc" << (prefetch ? " prefetch" : ""));
        }
        if (rows > 2) {
          ops::matvec(ops::row_block(mo, 1, rows - 2), x.data(), b.data() + 1, ym.data());
          CHECK(rel_error(ym.data(), yr.data() + 1, rows - 2) < 1e-6);
        }
        // On panels (a last group of columns short of kPanelColsQ8 padded with zeros), in row blocks too.
        std::vector<int8_t> P(ops::panel_bytes_q8(rows, cols), int8_t(-1));
        ops::pack_panels_q8(q.data(), rows, cols, P.data());
        ops::matvec_q8q8_panels(P.data(), scale.data(), rows, cols, xq.data(), xs, b.data(), ym.data());
        CHECK_MESSAGE(rel_error(ym.data(), yr.data(), rows) < 1e-6, rows << "x" << cols << " panels");
        ya = b;
        ops::matvec_q8q8_panels_acc(P.data(), scale.data(), rows, cols, xq.data(), xs, ya.data());
        CHECK_MESSAGE(rel_error(ya.data(), yr.data(), rows) < 1e-6, rows << "x" << cols << " panels acc");
        m.q8_panels = P.data();
        check_row_blocks(m, {0, 1, ops::kPanelRows}, x, b, yr, 1e-6, " panels from row ");
      }
    }
  });
}

// The integer sums are exact whatever the values: weights and x at +-127 in all-equal, alternating
// and random sign patterns, over rows of up to 16384 columns (sums up to 264M; the wasm kernel's
// two products per column pair are each up to 256 times the pair's own).
TEST_CASE("int8 x int8 matvec sums exactly at the extremes") {
  for_each_target([] {
    for (size_t cols : {1000, 16384}) {
      const size_t rows = 8;  // 8 x 16384 takes the segmented path, 8 x 1000 adjacent rows
      auto pattern = [](int kind, size_t i, uint32_t& seed) -> int {
        seed = seed * 1664525u + 1013904223u;
        switch (kind) {
          case 0: return 127;
          case 1: return -127;
          case 2: return i % 2 ? 127 : -127;
          default: return seed >> 31 ? 127 : -127;
        }
      };
      for (int xkind = 0; xkind < 4; ++xkind) {
        uint32_t seed = 17 + xkind;
        std::vector<int16_t> xq(cols);
        for (size_t c = 0; c < cols; ++c) xq[c] = int16_t(pattern(xkind, c, seed));
        std::vector<int8_t> q(rows * cols);
        for (size_t r = 0; r < rows; ++r)
          for (size_t c = 0; c < cols; ++c) q[r * cols + c] = int8_t(pattern(int(r % 4), c + r / 4, seed));
        std::vector<float> scale(rows, 1.f), y(rows);
        std::vector<int8_t> P(ops::panel_bytes_q8(rows, cols)), qo = q;
        ops::pack_panels_q8(q.data(), rows, cols, P.data());
        ops::offset_q8(qo.data(), rows, cols);
        ops::Matrix mo;
        mo.q8 = qo.data(), mo.q8_offset = true, mo.scale = scale.data(), mo.rows = rows, mo.cols = cols;
        for (int form = 0; form < 4; ++form) {
          const bool panels = form == 1;
          if (panels) {
            ops::matvec_q8q8_panels(P.data(), scale.data(), rows, cols, xq.data(), 1.f, nullptr, y.data());
          } else if (form >= 2) {
            mo.q8_prefetch = form == 3;
            ops::matvec(mo, ops::Vector{nullptr, xq.data(), 1.f}, nullptr, y.data());
          } else {
            ops::matvec_q8q8(q.data(), scale.data(), rows, cols, xq.data(), 1.f, nullptr, y.data());
          }
          for (size_t r = 0; r < rows; ++r) {
            int64_t s = 0;
            for (size_t c = 0; c < cols; ++c) s += int64_t(q[r * cols + c]) * xq[c];
            CHECK_MESSAGE(y[r] == float(s), rows << "x" << cols << " row " << r << " x pattern " << xkind
                                                  << (panels ? " panels" : form == 2 ? " offset" : form == 3 ? " offset prefetch" : ""));
          }
        }
      }
    }
  });
}

// Positions at a stride (x_stride), overlapping as a convolution's sliding windows: each output
// equals the product of a copy of its position, on every weight form (row-major, panels, int8 rows
// and panels), bit for bit.
TEST_CASE("matmul of overlapping positions (x_stride) equals the products of copies") {
  for_each_target([] {
    for (size_t cols : {6, 64, 192}) {
      const size_t rows = 40, stride = cols / 3, n = 9;
      auto W = random_floats(rows * cols, 29 + cols), b = random_floats(rows, 31);
      auto X = random_floats((n - 1) * stride + cols, 37 + cols);
      std::vector<float> copies(n * cols);  // each position's window, one after another
      for (size_t t = 0; t < n; ++t) std::copy_n(X.data() + t * stride, cols, copies.data() + t * cols);
      std::vector<float> P(ops::panel_floats(rows, cols));
      ops::pack_panels(W.data(), rows, cols, P.data());
      const test::Q8Weights w8(W.data(), rows, cols);
      ops::Matrix forms[4];
      forms[0].f32 = W.data();
      forms[1].f32 = W.data(), forms[1].panels = P.data();
      forms[2] = w8.matrix(false);
      forms[3] = w8.matrix();
      for (ops::Matrix& m : forms) {
        m.rows = rows, m.cols = cols;
        std::vector<float> Y(n * rows, -1.f), Yc(n * rows, -2.f);
        ops::matmul(m, X.data(), n, b.data(), Y.data(), stride);
        ops::matmul(m, copies.data(), n, b.data(), Yc.data());
        CHECK_MESSAGE(Y == Yc, cols << " columns, form " << (&m - forms));
      }
      std::vector<float> Y(n * rows), Yr(n * rows);  // and right
      ops::matmul(forms[1], X.data(), n, b.data(), Y.data(), stride);
      ops::ref::matmul(W.data(), rows, cols, copies.data(), n, b.data(), Yr.data());
      CHECK(rel_error(Y.data(), Yr.data(), n * rows) < 1e-5);
    }
  });
}

// int8 matmul: every position quantized with its own scale, then W8 xq[t]; on panels all positions
// go through each panel together. Integer sums are exact, so each position's outputs equal matvec's
// on the same Matrix bit for bit, and the scalar reference's within float rounding.
TEST_CASE("int8 matmul equals the per-position products, on panels and on rows") {
  for_each_target([] {
    for (size_t rows : {1, 5, 32, 33, 70, 130}) {
      for (size_t cols : {1, 2, 7, 64, 65}) {
        for (size_t n : {1, 3, 5, 6, 7, 13}) {
          auto W = random_floats(rows * cols, 11 + rows + cols, 0.5f);
          auto X = random_floats(n * cols, 13 + n, 2.f), b = random_floats(rows, 17);
          const test::Q8Weights w8(W.data(), rows, cols);
          for (bool panels : {false, true}) {
            const ops::Matrix m = w8.matrix(panels);
            for (const float* bias : std::initializer_list<const float*>{b.data(), nullptr}) {
              std::vector<float> Y(n * rows, -1.f), y(rows), yr(rows);
              std::vector<int16_t> xq(cols);
              ops::matmul(m, X.data(), n, bias, Y.data());
              for (size_t t = 0; t < n; ++t) {
                ops::matvec(m, X.data() + t * cols, bias, y.data());
                CHECK_MESSAGE(std::equal(y.begin(), y.end(), Y.begin() + t * rows),
                              rows << "x" << cols << " n=" << n << " t=" << t << (panels ? " panels" : " rows"));
                const float xs = ops::quantize_vector_q8(X.data() + t * cols, cols, xq.data());
                ops::ref::matvec_q8q8(w8.q.data(), w8.scale.data(), rows, cols, xq.data(), xs, bias, yr.data());
                CHECK(rel_error(Y.data() + t * rows, yr.data(), rows) < 1e-6);
              }
            }
          }
        }
      }
    }
  });
}

// Float inputs to int8 panels are quantized inside the kernels (AVX3_DL: straight to x + 128 as
// bytes); each must give the integers quantize_vector_q8 gives (checked against lrint above), ties
// to even included: outputs equal those of the products of its int16 form.
TEST_CASE("float inputs to int8 panel products are quantized as quantize_vector_q8, ties included") {
  for_each_target([] {
    for (size_t cols : {1, 5, 16, 64, 100}) {
      const size_t rows = 40, n = 7;
      auto W = random_floats(rows * cols, 41 + cols, 0.5f), b = random_floats(rows, 43);
      auto X = random_floats(n * cols, 47 + cols, 3.f);
      for (size_t t = 0; t < n; ++t) {  // max |x| 127 (scale 1), halves between: ties
        float* x = X.data() + t * cols;
        x[0] = t % 2 ? 127.f : -127.f;
        for (size_t c = 1; c < cols; ++c)
          if (c % 3 == t % 3) x[c] = float(int(c * 7 + t) % 253 - 126) + 0.5f;
      }
      const test::Q8Weights w8(W.data(), rows, cols);
      const ops::Matrix m = w8.matrix();
      const size_t stride = ops::padded_cols_q8(cols);
      std::vector<int16_t> xq(n * stride, 0);
      std::vector<float> xs(n), Y(n * rows), Yq(n * rows), y(rows), yq(rows), acc(rows, 1.f), accq(rows, 1.f);
      for (size_t t = 0; t < n; ++t) xs[t] = ops::quantize_vector_q8(X.data() + t * cols, cols, xq.data() + t * stride);
      ops::matmul(m, X.data(), n, b.data(), Y.data());
      ops::matmul_q8(m, xq.data(), stride, xs.data(), n, b.data(), Yq.data());
      CHECK_MESSAGE(Y == Yq, cols << " columns: matmul");
      for (size_t t = 0; t < n; ++t) {
        ops::matvec(m, X.data() + t * cols, b.data(), y.data());
        ops::matvec(m, ops::Vector{nullptr, xq.data() + t * stride, xs[t]}, b.data(), yq.data());
        CHECK_MESSAGE(y == yq, cols << " columns: matvec, position " << t);
        ops::matvec_acc(m, X.data() + t * cols, acc.data());
        ops::matvec_q8q8_panels_acc(w8.panels.data(), w8.scale.data(), rows, cols, xq.data() + t * stride, xs[t], accq.data());
      }
      CHECK_MESSAGE(acc == accq, cols << " columns: matvec_acc");
    }
  });
}

TEST_CASE("elementwise ops match the scalar reference, extremes included") {
  for_each_target([] {
    for (size_t n : kSizes) {
      auto a = random_floats(n, 3 + n, 12.f), b = random_floats(n, 5 + n, 3.f);
      if (n > 4) a[1] = 200.f, a[2] = -200.f, a[3] = 0.f;  // saturating inputs
      std::vector<float> o(n), r(n);
      ops::add(a.data(), b.data(), o.data(), n);
      ops::ref::add(a.data(), b.data(), r.data(), n);
      CHECK(rel_error(o.data(), r.data(), n) == 0);
      ops::mul(a.data(), b.data(), o.data(), n);
      ops::ref::mul(a.data(), b.data(), r.data(), n);
      CHECK(rel_error(o.data(), r.data(), n) == 0);
      for (int which = 0; which < 3; ++which) {
        o = a, r = a;
        if (which == 0) ops::tanh(o.data(), n), ops::ref::tanh(r.data(), n);
        if (which == 1) ops::sigmoid(o.data(), n), ops::ref::sigmoid(r.data(), n);
        if (which == 2) ops::relu(o.data(), n), ops::ref::relu(r.data(), n);
        for (size_t i = 0; i < n; ++i) CHECK_MESSAGE(std::fabs(o[i] - r[i]) < 2e-6, "op " << which << " x=" << a[i]);
      }
      ops::tanh_sigmoid_gate(a.data(), b.data(), o.data(), n);
      ops::ref::tanh_sigmoid_gate(a.data(), b.data(), r.data(), n);
      for (size_t i = 0; i < n; ++i) CHECK_MESSAGE(std::fabs(o[i] - r[i]) < 2e-6, "gate a=" << a[i] << " b=" << b[i]);
    }
  });
}

// exp: within 1 ulp of double precision over every input that gives a normal float, 0 below,
// inf above, NaN kept; and the same bits on every target here (native against wasm: the sampler
// draws through it, and tests/js/parity.test.mjs wants the same sampled text from both).
std::vector<float> exp_grid() {
  std::vector<float> x;
  for (int i = 0; i <= 400000; ++i) x.push_back(-87.33f + 176.05f * float(i) / 400000.f);
  for (float v : {0.f, -0.f, 1e-30f, -1e-30f, 1e-7f, -1e-7f, 0.34657f, -0.34657f, 0.3466f, -87.3365f, -87.33654f, 88.7228f,
                  -87.4f, -90.f, -1e4f, 88.73f, 100.f, 1e4f})
    x.push_back(v);
  return x;
}
TEST_CASE("exp is within 1 ulp of double precision, with the extremes, the same bits on every target") {
  const auto x = exp_grid();
  std::vector<float> first;
  for_each_target([&] {
    auto y = x;
    ops::exp(y.data(), y.size());
    double worst = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      const double want = std::exp(double(x[i]));
      if (want < 1.1754944e-38) {
        CHECK_MESSAGE(y[i] == 0.f, "x=" << x[i]);
      } else if (want > 3.4028234e38) {
        CHECK_MESSAGE(std::isinf(y[i]), "x=" << x[i]);
      } else {
        worst = std::max(worst, std::fabs(y[i] - want) / want);
      }
    }
    CHECK_MESSAGE(worst < 1.2e-7, worst);  // 1 ulp
    if (first.empty()) first = y;
    CHECK(std::memcmp(first.data(), y.data(), y.size() * sizeof(float)) == 0);
  });
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> s = {-inf, inf, nan, 0.f, 1.f, -1.f};
  ops::exp(s.data(), s.size());
  CHECK(s[0] == 0.f);
  CHECK(s[1] == inf);
  CHECK(std::isnan(s[2]));
  CHECK(s[3] == 1.f);
  CHECK(std::fabs(s[4] - 2.7182818f) <= 2.4e-7f * 2.7182818f);
  CHECK(std::fabs(s[5] - 0.36787944f) <= 2.4e-7f * 0.36787944f);
}

// tanh and sigmoid are rational approximations: their error over the whole float range that
// matters (beyond +-20 both are flat), on a dense grid, against double precision.
TEST_CASE("tanh and sigmoid stay within 4e-7 of double precision everywhere") {
  for_each_target([] {
    const size_t n = 400001;
    std::vector<float> x(n), t(n), s(n);
    for (size_t i = 0; i < n; ++i) x[i] = -20.f + 40.f * float(i) / float(n - 1);
    x[n / 2] = 0.f;
    x.push_back(1e-30f), x.push_back(-3e-5f), x.push_back(1e30f), x.push_back(-1e30f);
    t = x, s = x;
    ops::tanh(t.data(), x.size());
    ops::sigmoid(s.data(), x.size());
    double worst_t = 0, worst_rel = 0, worst_s = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      const double want_t = std::tanh(double(x[i])), want_s = 1 / (1 + std::exp(-double(x[i])));
      worst_t = std::max(worst_t, std::fabs(t[i] - want_t));
      if (std::fabs(x[i]) > 1e-30) worst_rel = std::max(worst_rel, std::fabs(t[i] - want_t) / std::fabs(want_t));
      worst_s = std::max(worst_s, std::fabs(s[i] - want_s));
    }
    CHECK(t[n / 2] == 0.f);
    CHECK_MESSAGE(worst_t < 4e-7, worst_t);
    CHECK_MESSAGE(worst_rel < 4e-7, worst_rel);  // tanh keeps relative accuracy near 0
    CHECK_MESSAGE(worst_s < 4e-7, worst_s);
  });
}

TEST_CASE("find_nan finds the first NaN wherever it is, and none where there is none") {
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  for_each_target([&] {
    for (size_t n : kSizes) {
      auto x = random_floats(n, 9 + n, 5.f);
      x[0] = inf, x[n - 1] = -inf;
      CHECK(ops::find_nan(x.data(), n) == n);
      for (size_t at : {size_t(0), n / 2, n - 1}) {
        auto y = x;
        y[at] = nan;
        if (at + 1 < n) y[n - 1] = nan;  // a later one too
        CHECK_MESSAGE(ops::find_nan(y.data(), n) == at, "n=" << n);
      }
    }
  });
}

TEST_CASE("softmax, log_softmax and argmax match the scalar reference") {
  for_each_target([] {
    for (size_t n : kSizes) {
      auto a = random_floats(n, 11 + n, 20.f);
      std::vector<float> o = a, r = a;
      ops::softmax(o.data(), n);
      ops::ref::softmax(r.data(), n);
      for (size_t i = 0; i < n; ++i) CHECK(std::fabs(o[i] - r[i]) < 1e-6);
      ops::log_softmax(a.data(), o.data(), n);
      ops::ref::log_softmax(a.data(), r.data(), n);
      CHECK(rel_error(o.data(), r.data(), n) < 1e-6);
      // One log-probability without the others: the same bits as log_softmax's.
      const float l = ops::log_sum_exp(a.data(), n);
      for (size_t i = 0; i < n; ++i) CHECK(a[i] - l == o[i]);
      CHECK(ops::argmax(a.data(), n) == ops::ref::argmax(a.data(), n));
    }
  });
}

TEST_CASE("argmax: first of equal maxima, NaN never wins") {
  for_each_target([] {
    const float nan = std::numeric_limits<float>::quiet_NaN();
    std::vector<float> v(19, 1.f);
    v[5] = 3.f, v[17] = 3.f, v[0] = nan, v[9] = nan;
    CHECK(ops::argmax(v.data(), v.size()) == 5);
    CHECK(ops::ref::argmax(v.data(), v.size()) == 5);
    std::vector<float> tail(11, -1.f);
    tail[10] = 2.f;  // the maximum sits in the scalar tail
    CHECK(ops::argmax(tail.data(), tail.size()) == 10);
    // Two equal maxima anywhere: in one vector, in two, in the scalar tail; +0 and -0 are equal.
    for (size_t n : {3, 19, 40})
      for (size_t i = 0; i < n; ++i)
        for (size_t j = i + 1; j < n; ++j) {
          std::vector<float> x(n, -1.f);
          x[i] = 2.f, x[j] = 2.f;
          CHECK_MESSAGE(ops::argmax(x.data(), n) == i, "n=" << n << " i=" << i << " j=" << j);
          std::fill(x.begin(), x.end(), -1.f);
          x[i] = -0.f, x[j] = 0.f;
          CHECK_MESSAGE(ops::argmax(x.data(), n) == i, "n=" << n << " i=" << i << " j=" << j << " (zeros)");
        }
  });
}

TEST_CASE("a SIMD target was chosen") { CHECK(std::string(ops::simd_target()).size() > 0); }

TEST_CASE("transformer ops match the scalar reference") {
  for_each_target([] {
    for (size_t n : kSizes) {
      auto a = random_floats(n, 21 + n, 6.f), b = random_floats(n, 23 + n, 2.f), w = random_floats(n, 25 + n, 1.5f);
      if (n > 4) a[1] = 120.f, a[2] = -120.f;
      using Unary = void (*)(float*, size_t);
      const std::pair<Unary, Unary> unary[] = {{ops::silu, ops::ref::silu}, {ops::gelu, ops::ref::gelu}, {ops::gelu_tanh, ops::ref::gelu_tanh}};
      for (auto [f, ref] : unary) {
        std::vector<float> o = a, r = a;
        f(o.data(), n), ref(r.data(), n);
        CHECK(rel_error(o.data(), r.data(), n) < 2e-6);
      }
      std::vector<float> o(n), r(n);
      ops::rms_norm(a.data(), w.data(), 1e-5f, o.data(), n), ops::ref::rms_norm(a.data(), w.data(), 1e-5f, r.data(), n);
      CHECK(rel_error(o.data(), r.data(), n) < 1e-5);
      ops::layer_norm(a.data(), w.data(), b.data(), 1e-5f, o.data(), n), ops::ref::layer_norm(a.data(), w.data(), b.data(), 1e-5f, r.data(), n);
      if (n > 1) CHECK(rel_error(o.data(), r.data(), n) < 1e-5);
      ops::layer_norm(a.data(), w.data(), nullptr, 1e-5f, o.data(), n), ops::ref::layer_norm(a.data(), w.data(), nullptr, 1e-5f, r.data(), n);
      if (n > 1) CHECK(rel_error(o.data(), r.data(), n) < 1e-5);
    }
  });
}

TEST_CASE("attention matches the scalar reference, grouped heads included") {
  for_each_target([] {
    // Head sizes around the lane counts, position counts around the blocks of 4, heads around the
    // kernel's chunks of 8.
    for (auto heads : {std::pair<size_t, size_t>{1, 1}, {3, 3}, {4, 2}, {6, 1}, {9, 9}, {12, 4}, {16, 2}})
      for (size_t hd : {1, 3, 4, 8, 13, 16, 48, 64, 67})
        for (size_t n : {1, 2, 3, 4, 5, 7, 9, 17, 33, 256}) {
          const size_t H = heads.first, KV = heads.second;  // (not a structured binding: CAPTURE needs a plain variable)
          const size_t row = KV * hd, p_stride = n + 3;
          const auto K = random_floats(n * row, 41 + n + hd, 2.f), V = random_floats(n * row, 43 + n + hd, 1.f);
          const auto q = random_floats(H * hd, 47 + hd, 2.f);
          std::vector<float> p(H * p_stride, 5.f), pr = p, o(H * hd, 9.f), r(H * hd);
          ops::attention(q.data(), K.data(), V.data(), n, H, KV, hd, 0.3f, p.data(), p_stride, o.data());
          ops::ref::attention(q.data(), K.data(), V.data(), n, H, KV, hd, 0.3f, pr.data(), p_stride, r.data());
          CAPTURE(H);
          CAPTURE(hd);
          CAPTURE(n);
          CHECK(rel_error(p.data(), pr.data(), p.size()) < 1e-5);
          CHECK(rel_error(o.data(), r.data(), o.size()) < 1e-5);
        }
  });
}

TEST_CASE("matmul matches the scalar reference") {
  for_each_target([] {
    // Positions past the panel kernel's block of 4 or 6; rows past one panel and the last one's part.
    for (size_t rows : {1, 3, 4, 7, 12, 40, 70}) {
      for (size_t cols : {1, 5, 8, 17, 64}) {
        for (size_t n : {1, 2, 3, 5, 6, 7, 13}) {
          auto W = random_floats(rows * cols, 3 + rows + cols), X = random_floats(n * cols, 5 + n), b = random_floats(rows, 7);
          std::vector<float> Y(n * rows), Yr(n * rows);
          ops::matmul(W.data(), rows, cols, X.data(), n, b.data(), Y.data());
          ops::ref::matmul(W.data(), rows, cols, X.data(), n, b.data(), Yr.data());
          CHECK_MESSAGE(rel_error(Y.data(), Yr.data(), n * rows) < 1e-5, rows << "x" << cols << " n=" << n);
          ops::matmul(W.data(), rows, cols, X.data(), n, nullptr, Y.data());
          ops::ref::matmul(W.data(), rows, cols, X.data(), n, nullptr, Yr.data());
          CHECK(rel_error(Y.data(), Yr.data(), n * rows) < 1e-5);
          // On panels (through ops::Matrix, as models call it).
          std::vector<float> P(ops::panel_floats(rows, cols));
          ops::pack_panels(W.data(), rows, cols, P.data());
          ops::Matrix m;
          m.f32 = W.data(), m.panels = P.data(), m.rows = rows, m.cols = cols;
          std::fill(Y.begin(), Y.end(), 0.f);
          ops::matmul(m, X.data(), n, b.data(), Y.data());
          ops::ref::matmul(W.data(), rows, cols, X.data(), n, b.data(), Yr.data());
          CHECK_MESSAGE(rel_error(Y.data(), Yr.data(), n * rows) < 1e-5, rows << "x" << cols << " n=" << n << " panels");
          ops::matmul_panels(P.data(), rows, cols, X.data(), n, nullptr, Y.data());
          ops::ref::matmul(W.data(), rows, cols, X.data(), n, nullptr, Yr.data());
          CHECK(rel_error(Y.data(), Yr.data(), n * rows) < 1e-5);
          // Each position's sums run as in matvec on the panels: prompt positions equal decoded ones.
          std::vector<float> y(rows);
          ops::matvec_panels(P.data(), rows, cols, X.data() + (n - 1) * cols, nullptr, y.data());
          CHECK(std::equal(y.begin(), y.end(), Y.begin() + (n - 1) * rows));
        }
      }
    }
  });
}
