// Logits + options + seeded PRNG -> next element. Portable: the same seed and logits give the same
// choice on every platform (own PRNG, weights from ops::exp, which gives the same bits everywhere,
// summed in double in a fixed order, no std:: distributions).
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace argen {

struct SamplingOptions {
  float temperature = 1.0f;        // 0: greedy
  int top_k = 0;                   // 0: off
  float top_p = 1.0f;              // nucleus, in (0, 1]
  float min_p = 0.0f;              // drop tokens below min_p * p(best), in [0, 1]
  float repetition_penalty = 1.0f; // CTRL-style, > 0; 1: off
  int repetition_window = 64;      // how many recent elements the penalty looks at
  uint64_t seed = 0;
  // Throws argen::Error naming the first bad option and its value.
  void validate() const;
};

// splitmix64: tiny, fast, and identical everywhere.
class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed) {}
  uint64_t next() {
    uint64_t z = (s_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  double uniform() { return double(next() >> 11) * 0x1.0p-53; }  // [0, 1)

 private:
  uint64_t s_;
};

// Rearranges ids[0, n) so that ids[0, m) hold the m best ids (largest w, then smallest id) whose
// weights first reach `mass` (the fewest that do), and returns m (at least 1; where rounding leaves
// `mass` just unreached, the best ids that reached it summed in another order). Linear expected
// time; the kept ids' order is the same on every platform.
size_t keep_top_mass(std::vector<int>& ids, size_t n, const float* w, double mass);

class Sampler {
 public:
  Sampler(const SamplingOptions& opts, int vocab_size);
  // Picks the next element. `history` is every element so far (prompt included), for the penalty.
  // Throws if the logits contain NaN.
  int sample(const float* logits, const std::vector<int>& history);

 private:
  // The candidates' weights (work_[order_[i]], i < n) summed in blocks of kBlock, each left to right,
  // then the blocks in order; the draw walks the blocks, then one block.
  static constexpr int kBlock = 64;
  double block_sums(int n);
  int draw(int n);

  SamplingOptions o_;
  int V_;
  Rng rng_;
  std::vector<float> work_;      // penalised logits, then weights
  std::vector<int> order_;       // candidate ids
  std::vector<uint8_t> seen_;    // penalty bookkeeping
  std::vector<double> blocks_;   // block sums of the candidates' weights
  std::vector<float> picked_;    // the top_k candidates' weights
};

}  // namespace argen
