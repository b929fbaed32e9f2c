#include "generate/generator.h"

#include <algorithm>
#include <numeric>

#include "core/error.h"
#include "ops/ops.h"

namespace argen {

constexpr int kMaxTokensLimit = 1 << 24;

void GenerateOptions::validate() const {
  if (max_tokens < 0 || max_tokens > kMaxTokensLimit)
    throw Error("maxTokens must be in 0.." + std::to_string(kMaxTokensLimit) + ", found " + std::to_string(max_tokens));
  for (const auto& s : stop)
    if (s.empty()) throw Error("stop sequences must not be empty");
  if (logprobs < 0) throw Error("logprobs must be >= 0, found " + std::to_string(logprobs));
  sampling.validate();
}

const char* finish_reason_name(FinishReason r) {
  switch (r) {
    case FinishReason::stop: return "stop";
    case FinishReason::length: return "length";
    case FinishReason::abort: return "abort";
    default: return "none";
  }
}

TextGenerator::TextGenerator(const Model& model, const Tokenizer& tokenizer, GenerateOptions opts)
    : model_(model),
      tok_(tokenizer),
      o_((opts.validate(), std::move(opts))),
      state_(model.new_state()),
      sampler_(o_.sampling, model.info().vocab_size),
      logits_(model.info().vocab_size) {
  const ModelInfo& info = model.info();
  if (o_.attention_layer != -1 && (o_.attention_layer < 0 || o_.attention_layer >= info.attention_layers))
    throw Error("attentionLayer " + std::to_string(o_.attention_layer) +
                (info.attention_layers ? " is out of range: the model has " + std::to_string(info.attention_layers) + " attention layers"
                                       : " was asked for, but this model (" + info.arch + ") has no attention"));
  if (o_.logprobs > 0) order_.resize(info.vocab_size), logprobs_.resize(info.vocab_size);
  prompt_ = tok_.encode(o_.prompt);
  if (tok_.add_bos() && !prompt_.empty()) prompt_.insert(prompt_.begin(), tok_.bos());
  if (prompt_.empty()) {
    if (tok_.bos() < 0) throw Error("the prompt is empty and the model's tokenizer has no 'bos' token to start from");
    prompt_.push_back(tok_.bos());
  }
  const int ctx = model.info().context_length;
  if (ctx > 0 && int(prompt_.size()) > ctx)
    throw Error("the prompt is " + std::to_string(prompt_.size()) + " tokens, longer than the model's context of " + std::to_string(ctx));
  history_ = prompt_;
}

void TextGenerator::abort() {
  if (finish_ == FinishReason::none) finish_ = FinishReason::abort;
}

bool TextGenerator::next(TokenEvent& ev) {
  if (finish_ != FinishReason::none) return false;
  if (!started_) {
    model_.prefill(*state_, prompt_.data(), prompt_.size(), logits_.data());
    started_ = true;
  }
  const int ctx = model_.info().context_length;
  if (produced_ >= o_.max_tokens || (ctx > 0 && int(history_.size()) >= ctx)) {
    finish_ = FinishReason::length;
    return false;
  }
  const int id = sampler_.sample(logits_.data(), history_);
  ev.id = id;
  ev.logprob = logits_[id] - ops::log_sum_exp(logits_.data(), logits_.size());
  ev.top.clear();
  if (o_.logprobs > 0) {
    ops::log_softmax(logits_.data(), logprobs_.data(), logits_.size());
    const int n = std::min<int>(o_.logprobs, int(order_.size()));
    std::iota(order_.begin(), order_.end(), 0);
    std::partial_sort(order_.begin(), order_.begin() + n, order_.end(),
                      [&](int a, int b) { return logprobs_[a] > logprobs_[b] || (logprobs_[a] == logprobs_[b] && a < b); });
    for (int i = 0; i < n; ++i) {
      Utf8Stream u;
      std::string text = u.push(tok_.decode(order_[i]));
      ev.top.push_back({order_[i], text + u.flush(), logprobs_[order_[i]]});
    }
  }
  ev.attention.clear();
  ev.attention_positions = 0;
  if (o_.attention_layer >= 0) ev.attention_positions = model_.attention(*state_, o_.attention_layer, &ev.attention);
  ++produced_;
  history_.push_back(id);

  if (id == tok_.eos()) {
    ev.text = pending_ + utf8_.flush();
    pending_.clear();
    finish_ = FinishReason::stop;
    return true;
  }
  pending_ += utf8_.push(tok_.decode(id));
  // The earliest stop sequence in the pending text ends generation; it is not emitted.
  size_t cut = std::string::npos;
  for (const auto& s : o_.stop) cut = std::min(cut, pending_.find(s));
  if (cut != std::string::npos) {
    ev.text = pending_.substr(0, cut);
    pending_.clear();
    finish_ = FinishReason::stop;
    return true;
  }
  if (produced_ >= o_.max_tokens || (ctx > 0 && int(history_.size()) >= ctx)) {
    ev.text = pending_ + utf8_.flush();
    pending_.clear();
    finish_ = FinishReason::length;
    return true;
  }
  // Release everything except a tail that could still grow into a stop sequence.
  size_t keep_from = pending_.size();
  for (size_t k = 0; k < pending_.size() && keep_from == pending_.size(); ++k)
    for (const auto& s : o_.stop)
      if (s.compare(0, pending_.size() - k, pending_, k, std::string::npos) == 0) {
        keep_from = k;
        break;
      }
  ev.text = pending_.substr(0, keep_from);
  pending_.erase(0, keep_from);
  model_.step(*state_, id, logits_.data());
  return true;
}

}  // namespace argen
