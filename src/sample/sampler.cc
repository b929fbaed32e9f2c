#include "sample/sampler.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <string>

#include "core/error.h"
#include "ops/ops.h"

namespace argen {
namespace {
std::string num(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%g", v);
  return b;
}
}  // namespace

void SamplingOptions::validate() const {
  if (!std::isfinite(temperature) || temperature < 0 || temperature > 100)
    throw Error("temperature must be a number in [0, 100], found " + num(temperature));
  if (top_k < 0) throw Error("topK must be >= 0 (0 turns it off), found " + std::to_string(top_k));
  if (!(top_p > 0 && top_p <= 1)) throw Error("topP must be in (0, 1], found " + num(top_p));
  if (!(min_p >= 0 && min_p <= 1)) throw Error("minP must be in [0, 1], found " + num(min_p));
  if (!std::isfinite(repetition_penalty) || repetition_penalty <= 0 || repetition_penalty > 100)
    throw Error("repetitionPenalty must be in (0, 100], found " + num(repetition_penalty));
  if (repetition_window < 0) throw Error("repetitionWindow must be >= 0, found " + std::to_string(repetition_window));
}

Sampler::Sampler(const SamplingOptions& opts, int vocab_size)
    : o_(opts), V_(vocab_size), rng_(opts.seed), work_(vocab_size), order_(vocab_size), seen_(vocab_size),
      picked_(std::min(std::max(opts.top_k, 0), vocab_size)) {
  o_.validate();
}

size_t keep_top_mass(std::vector<int>& ids, size_t n, const float* w, double mass) {
  // (weight, id) side by side: the passes below read one array in order instead of w at random.
  struct Candidate {
    float w;
    int id;
    bool operator>(const Candidate& o) const { return w > o.w || (w == o.w && id < o.id); }
  };
  thread_local std::vector<Candidate> c;
  c.resize(n);
  for (size_t i = 0; i < n; ++i) c[i] = {w[ids[i]], ids[i]};
  // Quickselect on the boundary: c[0, lo) are kept and weigh mass - need; the boundary is in
  // [lo, hi). Each step a Lomuto partition of [lo, hi) around its middle element: the better ones,
  // then it (at p), then the rest. Own code rather than std::partition, whose order differs between
  // standard libraries: the kept ids' order decides which one a draw picks, and native and wasm
  // must pick the same.
  size_t lo = 0, hi = n, m = 0;
  double need = mass;
  while (lo < hi) {
    std::swap(c[lo + (hi - lo) / 2], c[hi - 1]);
    const Candidate pivot = c[hi - 1];
    size_t p = lo;
    double better_mass = 0;
    for (size_t j = lo; j + 1 < hi; ++j)
      if (c[j] > pivot) better_mass += c[j].w, std::swap(c[p++], c[j]);
    std::swap(c[p], c[hi - 1]);
    if (p > lo && better_mass >= need) {
      hi = p;
    } else if (better_mass + pivot.w >= need) {
      m = p + 1;
      break;
    } else {
      need -= better_mass + pivot.w;
      lo = p + 1;
    }
  }
  // Rounding left `need` unmet: keep c[0, hi), whose sum in an earlier pass's order reached it.
  if (m == 0) m = std::max<size_t>(lo, 1);
  for (size_t i = 0; i < n; ++i) ids[i] = c[i].id;
  return m;
}

double Sampler::block_sums(int n) {
  blocks_.assign((n + kBlock - 1) / kBlock, 0.0);
  double total = 0;
  for (size_t k = 0; k < blocks_.size(); ++k) {
    double s = 0;
    for (int i = int(k) * kBlock, e = std::min(n, i + kBlock); i < e; ++i) s += work_[order_[i]];
    total += blocks_[k] = s;
  }
  return total;
}

int Sampler::draw(int n) {
  const double u = rng_.uniform() * block_sums(n);
  double acc = 0;
  size_t k = 0;
  for (; k + 1 < blocks_.size() && u >= acc + blocks_[k]; ++k) acc += blocks_[k];
  const double v = u - acc;
  const int end = std::min(n, int(k + 1) * kBlock);
  double a = 0;
  for (int i = int(k) * kBlock; i < end; ++i) {
    a += work_[order_[i]];
    if (v < a) return order_[i];
  }
  return order_[end - 1];
}

int Sampler::sample(const float* logits, const std::vector<int>& history) {
  const size_t nan = ops::find_nan(logits, size_t(V_));
  if (nan < size_t(V_)) throw Error("the model produced NaN logits (element " + std::to_string(nan) + ")");
  const bool penalty = o_.repetition_penalty != 1.0f && o_.repetition_window > 0 && !history.empty();
  if (o_.temperature == 0.0f && !penalty) return int(ops::argmax(logits, size_t(V_)));  // greedy
  std::copy(logits, logits + V_, work_.begin());
  if (penalty) {
    const size_t from = history.size() > size_t(o_.repetition_window) ? history.size() - o_.repetition_window : 0;
    for (size_t i = from; i < history.size(); ++i) {
      int t = history[i];
      if (t < 0 || t >= V_ || seen_[t]) continue;
      seen_[t] = 1;
      work_[t] = work_[t] > 0 ? work_[t] / o_.repetition_penalty : work_[t] * o_.repetition_penalty;
    }
    for (size_t i = from; i < history.size(); ++i)
      if (history[i] >= 0 && history[i] < V_) seen_[history[i]] = 0;
  }
  const size_t best = ops::argmax(work_.data(), size_t(V_));
  if (o_.temperature == 0.0f) return int(best);
  const float mx = work_[best];
  if (!std::isfinite(mx)) throw Error("the model produced no finite logits");

  // Candidates: every id, or the top_k best, best first.
  std::iota(order_.begin(), order_.end(), 0);
  int n = V_;
  const bool sorted = o_.top_k > 0 && o_.top_k < V_;
  if (sorted) {
    n = o_.top_k;
    std::partial_sort(order_.begin(), order_.begin() + n, order_.end(),
                      [&](int a, int b) { return work_[a] > work_[b] || (work_[a] == work_[b] && a < b); });
  }
  // Weights exp((logit - max) / T), the best one 1: of every id (SIMD), or of the top_k picked out.
  std::vector<float>& p = work_;
  if (sorted) {
    for (int i = 0; i < n; ++i) picked_[i] = (p[order_[i]] - mx) / o_.temperature;
    ops::exp(picked_.data(), size_t(n));
    for (int i = 0; i < n; ++i) p[order_[i]] = picked_[i];
  } else {
    for (int i = 0; i < V_; ++i) p[i] = (p[i] - mx) / o_.temperature;
    ops::exp(p.data(), p.size());
  }
  if (o_.min_p > 0) {
    int m = 0;
    for (int i = 0; i < n; ++i)
      if (p[order_[i]] >= o_.min_p) order_[m++] = order_[i];
    n = m;
  }
  if (o_.top_p < 1.0f) {
    // The fewest best candidates that reach top_p of the weight: a prefix when sorted, else
    // selected in linear time (sorting 32,000 ids per token took 2x a llama-15m step in wasm).
    const double mass = o_.top_p * block_sums(n);
    int m = 0;
    if (sorted) {
      for (double acc = 0; m < n;) {
        acc += p[order_[m++]];
        if (acc >= mass) break;
      }
    } else {
      m = int(keep_top_mass(order_, size_t(n), p.data(), mass));
    }
    n = m;
  }
  return draw(n);
}

}  // namespace argen
