#include "sample/sampler.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <string>

#include "core/error.h"

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
    : o_(opts), V_(vocab_size), rng_(opts.seed), work_(vocab_size), order_(vocab_size), seen_(vocab_size) {
  o_.validate();
}

int Sampler::sample(const float* logits, const std::vector<int>& history) {
  for (int i = 0; i < V_; ++i) {
    if (std::isnan(logits[i])) throw Error("the model produced NaN logits (element " + std::to_string(i) + ")");
    work_[i] = logits[i];
  }
  if (o_.repetition_penalty != 1.0f && o_.repetition_window > 0) {
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
  if (o_.temperature == 0.0f) return int(std::max_element(work_.begin(), work_.end()) - work_.begin());

  // Candidates, best first when a filter needs the order.
  std::iota(order_.begin(), order_.end(), 0);
  int n = V_;
  auto better = [&](int a, int b) { return work_[a] > work_[b] || (work_[a] == work_[b] && a < b); };
  if (o_.top_k > 0 && o_.top_k < V_) {
    n = o_.top_k;
    std::partial_sort(order_.begin(), order_.begin() + n, order_.end(), better);
  } else if (o_.top_p < 1.0f) {
    std::sort(order_.begin(), order_.end(), better);
  }
  double mx = -INFINITY;
  for (int i = 0; i < n; ++i) mx = std::max(mx, work_[order_[i]]);
  if (!std::isfinite(mx)) throw Error("the model produced no finite logits");
  double sum = 0;
  std::vector<double>& p = work_;  // reuse: p[order_[i]] holds the probability weight
  for (int i = 0; i < n; ++i) {
    double w = std::exp((p[order_[i]] - mx) / o_.temperature);
    p[order_[i]] = w;
    sum += w;
  }
  if (o_.min_p > 0) {  // the best weight is exp(0) = 1
    int m = 0;
    double kept = 0;
    for (int i = 0; i < n; ++i)
      if (p[order_[i]] >= o_.min_p) {
        order_[m++] = order_[i];
        kept += p[order_[i]];
      }
    n = m, sum = kept;
  }
  if (o_.top_p < 1.0f) {
    double acc = 0;
    int m = 0;
    while (m < n) {
      acc += p[order_[m++]];
      if (acc >= o_.top_p * sum) break;
    }
    n = m, sum = acc;
  }
  double u = rng_.uniform() * sum, acc = 0;
  for (int i = 0; i < n; ++i) {
    acc += p[order_[i]];
    if (u < acc) return order_[i];
  }
  return order_[n - 1];
}

}  // namespace argen
