// Sampler: option validation, greedy, filters, penalty, determinism and the distribution it draws from.
#include <cmath>
#include <limits>

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
  std::vector<float> l = {0.f, std::numeric_limits<float>::quiet_NaN()};
  SamplingOptions o;
  Sampler s(o, 2);
  expect_error([&] { s.sample(l.data(), {}); }, {"NaN"});
}
