// Logits + options + seeded PRNG -> next element. Portable: the same seed and logits give the same
// choice on every platform (own PRNG, double-precision arithmetic, no std:: distributions).
#pragma once
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

class Sampler {
 public:
  Sampler(const SamplingOptions& opts, int vocab_size);
  // Picks the next element. `history` is every element so far (prompt included), for the penalty.
  // Throws if the logits contain NaN.
  int sample(const float* logits, const std::vector<int>& history);

 private:
  SamplingOptions o_;
  int V_;
  Rng rng_;
  std::vector<double> work_;     // penalised logits, then probabilities
  std::vector<int> order_;       // candidate ids
  std::vector<uint8_t> seen_;    // penalty bookkeeping
};

}  // namespace argen
