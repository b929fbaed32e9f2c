// Threads: a model gives the same logits, bit for bit, with two threads as with one, whatever
// splits its work (row blocks of large products, prefill positions, WaveNet's side tasks).
#include <atomic>
#include <cstring>
#include <thread>

#include "models/model.h"
#include "ops/ops.h"
#include "ops/ops_ref.h"
#include "ops/parallel.h"
#include "test_util.h"

using namespace argen;

namespace {

const std::string kDir = std::string(ARGEN_SOURCE_DIR) + "/tests/golden/";

// Restores one thread when a check fails mid-test.
struct Threads {
  explicit Threads(int n) { ops::set_threads(n); }
  ~Threads() { ops::set_threads(1); }
};

bool same(const std::vector<std::vector<float>>& a, const std::vector<std::vector<float>>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i].size() != b[i].size() || std::memcmp(a[i].data(), b[i].data(), a[i].size() * sizeof(float)) != 0) return false;
  return true;
}

// y = W x + b and y += W x (product(bias, y), product_acc(y)) give the same bits on one thread and
// on two, and the right ones (the scalar reference: not the same mistake twice).
template <class Product, class ProductAcc>
void check_split_matvec(const std::vector<float>& W, size_t rows, size_t cols, const std::vector<float>& x,
                        const std::vector<float>& b, Product product, ProductAcc product_acc) {
  std::vector<std::vector<float>> one(2, b), two(2, b);
  product(b.data(), one[0].data());
  product_acc(one[1].data());
  Threads t(2);
  product(b.data(), two[0].data());
  product_acc(two[1].data());
  CHECK(same(one, two));
  std::vector<float> ref(rows);
  ops::ref::matvec(W.data(), rows, cols, x.data(), b.data(), ref.data());
  CHECK(test::rel_error(two[0].data(), ref.data(), rows) < 1e-5);
}

}  // namespace

#if !defined(__EMSCRIPTEN__) || defined(__EMSCRIPTEN_PTHREADS__)

TEST_CASE("threads: every golden model gives the same logits with 2 threads as with 1, float32 and int8") {
  const auto index = test::read_json(kDir + "index.json");
  int checked = 0;
  for (const auto& name : index["cases"]) {
    const auto g = test::read_json(kDir + name.get<std::string>() + ".json");
    for (bool int8 : {false, true}) {
      LoadOptions opts;
      opts.int8 = int8;
      auto model = create_model(ModelFile::open(kDir + g["model"].get<std::string>(), opts));
      const auto one = test::golden_logits(*model, g);
      Threads two(2);
      CHECK_MESSAGE(same(test::golden_logits(*model, g), one), name.get<std::string>() << (int8 ? " int8" : " float32"));
      ++checked;
    }
  }
  CHECK(checked >= 80);
}

// The golden models' matrices are too small to be split: a product large enough to be split (51,200
// weights, 7 panels, the last one partial), of one vector (panels split) and of 13 positions (the
// positions split, not at a multiple of the kernel's 4 or 6).
TEST_CASE("threads: a product on panels split across 2 threads equals one thread's") {
  const size_t rows = 200, cols = 256;
  const auto W = test::random_floats(rows * cols, 41), x = test::random_floats(cols, 43), b = test::random_floats(rows, 47);
  std::vector<float> P(ops::panel_floats(rows, cols));
  ops::pack_panels(W.data(), rows, cols, P.data());
  check_split_matvec(
      W, rows, cols, x, b, [&](const float* bias, float* y) { ops::matvec_panels(P.data(), rows, cols, x.data(), bias, y); },
      [&](float* y) { ops::matvec_panels_acc(P.data(), rows, cols, x.data(), y); });
  Threads restore(1);  // the matmuls below switch between 1 and 2 threads
  const size_t n = 13;
  const auto X = test::random_floats(n * cols, 53);
  std::vector<std::vector<float>> Y1(1, std::vector<float>(n * rows)), Y2 = Y1;
  ops::set_threads(1);
  ops::matmul_panels(P.data(), rows, cols, X.data(), n, b.data(), Y1[0].data());
  ops::set_threads(2);
  ops::matmul_panels(P.data(), rows, cols, X.data(), n, b.data(), Y2[0].data());
  CHECK(same(Y1, Y2));
  std::vector<float> Yr(n * rows);
  ops::ref::matmul(W.data(), rows, cols, X.data(), n, b.data(), Yr.data());
  CHECK(test::rel_error(Y2[0].data(), Yr.data(), n * rows) < 1e-5);
  // int8 on panels: the positions split likewise.
  const test::Q8Weights w8(W.data(), rows, cols);
  ops::Matrix m = w8.matrix();
  ops::set_threads(1);
  ops::matmul(m, X.data(), n, b.data(), Y1[0].data());
  ops::set_threads(2);
  ops::matmul(m, X.data(), n, b.data(), Y2[0].data());
  CHECK(same(Y1, Y2));
  m.q8_panels = nullptr;  // and the same as the rows' per-position products
  ops::matmul(m, X.data(), n, b.data(), Y2[0].data());
  CHECK(same(Y1, Y2));
}

// Row pairs: rows split at multiples of 8 (1048 rows: not a multiple of 16).
TEST_CASE("threads: a product on row pairs split across 2 threads equals one thread's") {
  const size_t rows = 1048, cols = 64;
  const auto W = test::random_floats(rows * cols, 59), x = test::random_floats(cols, 61), b = test::random_floats(rows, 67);
  std::vector<float> P = W;
  ops::pack_pairs(P.data(), rows, cols);
  check_split_matvec(
      W, rows, cols, x, b, [&](const float* bias, float* y) { ops::matvec_pairs(P.data(), rows, cols, x.data(), bias, y); },
      [&](float* y) { ops::matvec_pairs_acc(P.data(), rows, cols, x.data(), y); });
}

// matvecs splits the rows of all its matrices together, in blocks of 32 rows of one matrix: the
// split (after 18 of 37 blocks) falls inside the second matrix, which has panels (float32 and int8),
// at one of its panels' first row (a split inside a panel gave other bits than one thread's).
TEST_CASE("threads: products of one vector split together (matvecs) equal one thread's and separate products") {
  const size_t cols = 256, rows[3] = {400, 250, 500};
  std::vector<std::vector<float>> W, Wp;
  std::vector<std::vector<int8_t>> q(3), qp(3);
  std::vector<std::vector<float>> scale(3);
  ops::Matrix f32[3], i8[3];
  for (size_t k = 0; k < 3; ++k) {
    W.push_back(test::random_floats(rows[k] * cols, uint32_t(61 + k)));
    f32[k].f32 = W[k].data(), f32[k].rows = rows[k], f32[k].cols = cols;
    q[k].resize(rows[k] * cols), scale[k].resize(rows[k]);
    ops::quantize_rows_q8(W[k].data(), rows[k], cols, q[k].data(), scale[k].data());
    i8[k].q8 = q[k].data(), i8[k].scale = scale[k].data(), i8[k].rows = rows[k], i8[k].cols = cols;
  }
  REQUIRE(ops::use_panels(rows[1], cols));
  Wp.emplace_back(ops::panel_floats(rows[1], cols));
  ops::pack_panels(W[1].data(), rows[1], cols, Wp[0].data());
  f32[1].panels = Wp[0].data();
  qp[1].resize(ops::panel_bytes_q8(rows[1], cols));
  ops::pack_panels_q8(q[1].data(), rows[1], cols, qp[1].data());
  i8[1].q8_panels = qp[1].data();
  const auto x = test::random_floats(cols, 67);
  for (const ops::Matrix* m : {f32, i8}) {
    auto run = [&](int threads) {
      Threads t(threads);
      std::vector<std::vector<float>> y{std::vector<float>(rows[0]), std::vector<float>(rows[1]), std::vector<float>(rows[2])};
      ops::matvecs(x.data(), {{m[0], y[0].data()}, {m[1], y[1].data()}, {m[2], y[2].data()}});
      return y;
    };
    const auto one = run(1), two = run(2);
    CHECK(same(one, two));
    std::vector<std::vector<float>> separate = one;  // x quantized once or per product: the same int8 form
    for (size_t k = 0; k < 3; ++k) ops::matvec(m[k], x.data(), nullptr, separate[k].data());
    CHECK(same(separate, two));
    for (size_t k = 0; k < 3; ++k) {  // and right: not the same mistake twice
      std::vector<float> ref(rows[k]);
      ops::ref::matvec(W[k].data(), rows[k], cols, x.data(), nullptr, ref.data());
      CHECK(test::rel_error(two[k].data(), ref.data(), rows[k]) < (m == i8 ? 2e-2 : 1e-5));
    }
  }
  ops::Matrix other = f32[0];
  other.cols = cols - 1;
  std::vector<float> y(rows[0]);
  CHECK_THROWS_WITH(ops::matvecs(x.data(), {{f32[0], y.data()}, {other, y.data()}}),
                    doctest::Contains("differ in columns or weight type"));
}

// Attention splits by KV heads once the cache is large: grouped heads (8 over 4) and an uneven split
// (3 KV heads: one and two), head sizes with a scalar tail.
TEST_CASE("threads: attention split by KV heads equals one thread's") {
  struct Shape { size_t H, KV, hd, n; };
  for (const Shape s : {Shape{8, 4, 20, 300}, Shape{3, 3, 24, 401}}) {
    const auto q = test::random_floats(s.H * s.hd, 71), K = test::random_floats(s.n * s.KV * s.hd, 73),
               V = test::random_floats(s.n * s.KV * s.hd, 79);
    const size_t p_stride = s.n + 3;
    REQUIRE(2 * s.n * s.KV * s.hd >= (size_t(1) << 15));  // ops.cc's kParallelMinWeights: split
    auto run = [&](int threads) {
      Threads t(threads);
      std::vector<std::vector<float>> r{std::vector<float>(s.H * p_stride), std::vector<float>(s.H * s.hd)};
      ops::attention(q.data(), K.data(), V.data(), s.n, s.H, s.KV, s.hd, 0.2f, r[0].data(), p_stride, r[1].data());
      return r;
    };
    const auto one = run(1), two = run(2);
    CHECK(same(one, two));
    std::vector<float> pr(s.H * p_stride), out(s.H * s.hd);
    ops::ref::attention(q.data(), K.data(), V.data(), s.n, s.H, s.KV, s.hd, 0.2f, pr.data(), p_stride, out.data());
    CHECK(test::rel_error(two[1].data(), out.data(), out.size()) < 1e-5);
  }
}

// Jobs of different part counts back to back, with more threads than parts at times: a worker
// still leaving one job's claims while the next is set up must neither run a part twice nor read
// the next job's fields half-written (ThreadSanitizer in scripts/test.sh flags the latter).
TEST_CASE("threads: back-to-back jobs of 2, 3 and 64 blocks each run every block once") {
  Threads four(4);
  std::atomic<int> hits[64];  // runs of each block in one job
  auto part = [](size_t b, size_t e, void* p) {
    for (size_t i = b; i < e; ++i) static_cast<std::atomic<int>*>(p)[i].fetch_add(1, std::memory_order_relaxed);
  };
  int wrong = 0;
  for (int i = 0; i < 20000; ++i) {
    const size_t n = i % 3 == 0 ? 2 : i % 3 == 1 ? 3 : 64;
    for (auto& h : hits) h.store(0, std::memory_order_relaxed);
    ops::parallel_for(n, 1, part, hits);
    for (size_t k = 0; k < 64; ++k) wrong += hits[k].load(std::memory_order_relaxed) != (k < n ? 1 : 0);
  }
  CHECK(wrong == 0);
}

// A parallel_for inside a part (a model splitting its own work, whose products would split theirs)
// runs on that part's thread, every block once.
TEST_CASE("threads: a parallel_for inside a part runs on the part's thread") {
  Threads two(2);
  struct Ctx {
    std::atomic<int> hits[8][16];
    std::atomic<int> elsewhere{0};
  } c;
  for (auto& row : c.hits)
    for (auto& h : row) h.store(0);
  for (int i = 0; i < 2000; ++i) {
    ops::parallel_for(8, 1, [](size_t b, size_t e, void* p) {
      for (size_t k = b; k < e; ++k) {
        struct Inner { Ctx* c; size_t k; std::thread::id id; } inner{static_cast<Ctx*>(p), k, std::this_thread::get_id()};
        ops::parallel_for(16, 1, [](size_t ib, size_t ie, void* q) {
          auto& in = *static_cast<Inner*>(q);
          if (std::this_thread::get_id() != in.id) in.c->elsewhere.fetch_add(1);
          for (size_t j = ib; j < ie; ++j) in.c->hits[in.k][j].fetch_add(1);
        }, &inner);
      }
    }, &c);
  }
  int wrong = 0;
  for (auto& row : c.hits)
    for (auto& h : row) wrong += h.load() != 2000;
  CHECK(wrong == 0);
  CHECK(c.elsewhere.load() == 0);
}

// Long enough for every ring to wrap many times and for the two threads to meet in every order.
// float32 and int8 weights (int8: each input quantized once, shared by the threads' products).
TEST_CASE("threads: WaveNet's shared samples equal one thread's over 3000 samples") {
  const auto g = test::read_json(kDir + "wavenet_onehot_k2_spk3_r8_d6_s7_l6.json");
  for (bool int8 : {false, true}) {
    CAPTURE(int8);
    LoadOptions opts;
    opts.int8 = int8;
    auto model = create_model(ModelFile::open(kDir + g["model"].get<std::string>(), opts));
    auto run = [&] {
      auto state = model->new_state();
      model->set_label(*state, 1);
      std::vector<float> logits(model->info().vocab_size), all;
      for (int t = 0; t < 3000; ++t) {
        model->step(*state, (t * 37 + t / 7) % 256, logits.data());
        all.insert(all.end(), logits.begin(), logits.end());
      }
      return all;
    };
    const auto one = run();
    Threads two(2);
    const auto both = run();
    REQUIRE(both.size() == one.size());
    CHECK(std::memcmp(both.data(), one.data(), one.size() * sizeof(float)) == 0);
  }
}

#endif
