// Sampler: option validation, greedy, filters, penalty, determinism and the distribution it draws from.
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>

#include "sample/sampler.h"
#include "test_util.h"

using namespace argen;
using test::expect_error;

TEST_CASE("invalid sampling options are errors naming the option") {
  auto bad = [](auto set, std::initializer_list<std::string> parts) {
    SamplingOptions o;
    set(o);
    expect_error([&] { o.validate(); }, parts);
  };
  const float nan = std::numeric_limits<float>::quiet_NaN();
  bad([](SamplingOptions& o) { o.temperature = -1; }, {"temperature", "-1"});
  bad([&](SamplingOptions& o) { o.temperature = nan; }, {"temperature", "nan"});
  bad([](SamplingOptions& o) { o.temperature = INFINITY; }, {"temperature"});
  bad([](SamplingOptions& o) { o.top_k = -3; }, {"topK", "-3"});
  bad([](SamplingOptions& o) { o.top_p = 0; }, {"topP", "(0, 1]"});
  bad([](SamplingOptions& o) { o.top_p = 1.5f; }, {"topP", "1.5"});
  bad([&](SamplingOptions& o) { o.top_p = nan; }, {"topP"});
  bad([](SamplingOptions& o) { o.min_p = -0.1f; }, {"minP"});
  bad([&](SamplingOptions& o) { o.min_p = nan; }, {"minP"});
  bad([](SamplingOptions& o) { o.repetition_penalty = 0; }, {"repetitionPenalty"});
  bad([](SamplingOptions& o) { o.repetition_window = -1; }, {"repetitionWindow"});
  SamplingOptions ok;
  CHECK_NOTHROW(ok.validate());
}

TEST_CASE("greedy picks the largest logit; top_k = 1 does too") {
  std::vector<float> l = {0.1f, 2.f, -1.f, 1.9f};
  SamplingOptions o;
  o.temperature = 0;
  CHECK(Sampler(o, 4).sample(l.data(), {}) == 1);
  o.temperature = 5, o.top_k = 1;
  Sampler s(o, 4);
  for (int i = 0; i < 50; ++i) CHECK(s.sample(l.data(), {}) == 1);
}

TEST_CASE("the draw follows softmax(logits / T)") {
  std::vector<float> l = {std::log(0.5f), std::log(0.3f), std::log(0.2f)};
  SamplingOptions o;
  o.seed = 42;
  Sampler s(o, 3);
  int count[3] = {};
  const int n = 20000;
  for (int i = 0; i < n; ++i) ++count[s.sample(l.data(), {})];
  CHECK(std::fabs(count[0] / double(n) - 0.5) < 0.015);
  CHECK(std::fabs(count[1] / double(n) - 0.3) < 0.015);
  CHECK(std::fabs(count[2] / double(n) - 0.2) < 0.015);
  // T = 0.5 squares and renormalises: 0.25/0.38, 0.09/0.38, 0.04/0.38.
  o.temperature = 0.5f;
  Sampler s2(o, 3);
  int c2[3] = {};
  for (int i = 0; i < n; ++i) ++c2[s2.sample(l.data(), {})];
  CHECK(std::fabs(c2[0] / double(n) - 0.25 / 0.38) < 0.015);
  CHECK(std::fabs(c2[2] / double(n) - 0.04 / 0.38) < 0.015);
}

TEST_CASE("top_p and min_p cut the tail") {
  std::vector<float> l = {std::log(0.5f), std::log(0.3f), std::log(0.15f), std::log(0.05f)};
  SamplingOptions o;
  o.top_p = 0.7f;  // 0.5 + 0.3 reaches it
  Sampler s(o, 4);
  for (int i = 0; i < 2000; ++i) CHECK(s.sample(l.data(), {}) < 2);
  SamplingOptions m;
  m.min_p = 0.35f;  // keeps p >= 0.175: tokens 0 and 1
  Sampler sm(m, 4);
  int seen1 = 0;
  for (int i = 0; i < 2000; ++i) {
    int t = sm.sample(l.data(), {});
    CHECK(t < 2);
    seen1 += t == 1;
  }
  CHECK(seen1 > 0);
}

TEST_CASE("keep_top_mass keeps the fewest best ids that reach the mass, as a full sort would") {
  // Weights in halves (sums exact, so the reference's prefix sums decide alone), many
  // ties (broken by the smaller id).
  std::mt19937 rng(5);
  for (int trial = 0; trial < 400; ++trial) {
    const size_t n = 1 + rng() % (trial < 200 ? 40 : 3000);
    std::vector<float> w(n);
    double total = 0;
    for (auto& v : w) total += v = 0.5f * float(rng() % (trial % 3 ? 9 : 400));
    if (total == 0) w[0] = total = 1;
    std::vector<int> sorted(n);
    std::iota(sorted.begin(), sorted.end(), 0);
    std::sort(sorted.begin(), sorted.end(), [&](int a, int b) { return w[a] > w[b] || (w[a] == w[b] && a < b); });
    const double mass = 0.5 * double(1 + rng() % size_t(2 * total));  // in (0, total]
    size_t m_ref = 0;
    for (double acc = 0; m_ref < n && acc < mass;) acc += w[sorted[m_ref++]];
    std::vector<int> ids(n);
    std::iota(ids.begin(), ids.end(), 0);
    std::shuffle(ids.begin(), ids.end(), rng);
    const size_t m = keep_top_mass(ids, n, w.data(), mass);
    REQUIRE(m == m_ref);
    std::vector<int> kept(ids.begin(), ids.begin() + m), want(sorted.begin(), sorted.begin() + m);
    std::sort(kept.begin(), kept.end());
    std::sort(want.begin(), want.end());
    CHECK(kept == want);
    std::sort(ids.begin(), ids.end());
    for (size_t i = 0; i < n; ++i) CHECK(ids[i] == int(i));  // a permutation
  }
}

TEST_CASE("top_p over a large vocabulary draws only from the nucleus, in proportion") {
  const int V = 5000;
  auto l = test::random_floats(V, 11, 3.f);
  const double T = 0.7, top_p = 0.6;
  std::vector<double> p(V);
  double sum = 0;
  const float mx = *std::max_element(l.begin(), l.end());
  for (int i = 0; i < V; ++i) sum += p[i] = std::exp((l[i] - mx) / T);
  std::vector<int> order(V);
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](int a, int b) { return p[a] > p[b]; });
  std::vector<char> nucleus(V, 0);
  double kept = 0;
  for (int i = 0; kept < top_p * sum; ++i) kept += p[order[i]], nucleus[order[i]] = 1;
  SamplingOptions o;
  o.temperature = float(T), o.top_p = float(top_p), o.seed = 3;
  Sampler s(o, V);
  std::vector<int> count(V, 0);
  const int draws = 20000;
  for (int i = 0; i < draws; ++i) {
    const int t = s.sample(l.data(), {});
    REQUIRE(nucleus[t]);
    ++count[t];
  }
  // The best id is drawn in proportion to its weight within the nucleus.
  CHECK(std::fabs(count[order[0]] / double(draws) - p[order[0]] / kept) < 0.01);
}

TEST_CASE("draws over a vocabulary of many blocks follow the weights, the last id included") {
  // Heavy ids at block edges and in the last, partial block; everything else light.
  const int V = 1000;
  const int heavy[] = {0, 63, 64, 500, 959, 960, 999};
  std::vector<float> l(V, 0.f);
  for (int h : heavy) l[h] = std::log(50.f);
  const double total = 7 * 50.0 + (V - 7);
  SamplingOptions o;
  o.seed = 9;
  Sampler s(o, V);
  std::vector<int> count(V, 0);
  const int draws = 40000;
  for (int i = 0; i < draws; ++i) ++count[s.sample(l.data(), {})];
  for (int h : heavy) CHECK_MESSAGE(std::fabs(count[h] / double(draws) - 50.0 / total) < 0.005, "id " << h);
  int light = 0;
  for (int i = 0; i < V; ++i) light += count[i] * (l[i] == 0.f);
  CHECK(std::fabs(light / double(draws) - (V - 7) / total) < 0.012);
}

TEST_CASE("greedy takes the first of equal largest logits, with or without the penalty") {
  const float inf = std::numeric_limits<float>::infinity();
  SamplingOptions o;
  o.temperature = 0;
  std::vector<float> l(37, -inf);
  CHECK(Sampler(o, 37).sample(l.data(), {}) == 0);  // all -inf: the first
  l[20] = 0.f, l[9] = -0.f, l[30] = -1.f;
  CHECK(Sampler(o, 37).sample(l.data(), {}) == 9);  // -0 equals +0: the first
  l[33] = inf;
  CHECK(Sampler(o, 37).sample(l.data(), {}) == 33);
  o.repetition_penalty = 2.f;
  CHECK(Sampler(o, 37).sample(l.data(), {33}) == 33);  // inf / 2 is still the largest
  CHECK(Sampler(o, 37).sample(l.data(), {5}) == 33);
  l[33] = -inf;
  CHECK(Sampler(o, 37).sample(l.data(), {9}) == 9);  // -0 * 2 is still 0, the first
}

TEST_CASE("repetition penalty demotes what was seen") {
  std::vector<float> l = {2.0f, 1.9f, -1.f};
  SamplingOptions o;
  o.temperature = 0, o.repetition_penalty = 1.5f;
  CHECK(Sampler(o, 3).sample(l.data(), {0}) == 1);  // 2.0 / 1.5 < 1.9
  CHECK(Sampler(o, 3).sample(l.data(), {2}) == 0);
  o.repetition_window = 1;
  CHECK(Sampler(o, 3).sample(l.data(), {0, 2}) == 0);  // 0 is outside the window
}

TEST_CASE("same seed, same draws; another seed, other draws") {
  auto l = test::random_floats(50, 3, 2.f);
  auto run = [&](uint64_t seed) {
    SamplingOptions o;
    o.seed = seed, o.top_k = 20, o.top_p = 0.9f, o.temperature = 0.8f;
    Sampler s(o, 50);
    std::vector<int> out;
    for (int i = 0; i < 100; ++i) out.push_back(s.sample(l.data(), out));
    return out;
  };
  CHECK(run(7) == run(7));
  CHECK(run(7) != run(8));
}

TEST_CASE("the PRNG is splitmix64") {
  Rng r(0);  // reference values of splitmix64 seeded with 0
  CHECK(r.next() == 0xE220A8397B1DCDAFull);
  CHECK(r.next() == 0x6E789E6AA1B965F4ull);
}

TEST_CASE("NaN logits are an error") {
  std::vector<float> l(40, 0.f);
  l[33] = std::numeric_limits<float>::quiet_NaN();
  SamplingOptions o;
  Sampler s(o, 40);
  expect_error([&] { s.sample(l.data(), {}); }, {"NaN", "element 33"});
  o.temperature = 0;  // greedy too
  Sampler g(o, 40);
  expect_error([&] { g.sample(l.data(), {}); }, {"NaN", "element 33"});
}
