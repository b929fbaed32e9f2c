#include "generate/media.h"

#include <cmath>

#include "codec/codec.h"
#include "core/error.h"
#include "ops/ops.h"

namespace argen {

ImageGenerator::ImageGenerator(const Model& model, ImageOptions opts)
    : model_(model),
      info_(model.info()),
      o_(std::move(opts)),
      state_(model.new_state()),
      sampler_((o_.sampling.validate(), o_.sampling), model.info().vocab_size),
      logits_(model.info().vocab_size) {
  if (info_.modality != "image") throw Error("this is a " + info_.modality + " model (" + info_.arch + "), not an image model");
  const int n = info_.height * info_.width * info_.channels, row = info_.width * info_.channels;
  if (info_.num_labels > 0) {
    if (o_.label < 0) throw Error("this model is class-conditional: give a label 0.." + std::to_string(info_.num_labels - 1));
    model.set_label(*state_, o_.label);
  } else if (o_.label >= 0) {
    model.set_label(*state_, o_.label);  // throws: the model takes no label
  }
  if (o_.prefix.size() % row != 0 || int(o_.prefix.size()) >= n)
    throw Error("the prefix has " + std::to_string(o_.prefix.size()) + " levels; it must be whole rows of " +
                std::to_string(info_.width) + "x" + std::to_string(info_.channels) + " = " + std::to_string(row) +
                " levels, fewer than the image's " + std::to_string(info_.height) + " rows");
  for (size_t i = 0; i < o_.prefix.size(); ++i)
    if (o_.prefix[i] < 0 || o_.prefix[i] >= info_.vocab_size)
      throw Error("prefix level " + std::to_string(o_.prefix[i]) + " at position " + std::to_string(i) + " is out of range 0.." +
                  std::to_string(info_.vocab_size - 1));
  levels_.reserve(n);
}

void ImageGenerator::abort() {
  if (finish_ == FinishReason::none) finish_ = FinishReason::abort;
}

bool ImageGenerator::next(PixelEvent& ev) {
  if (finish_ != FinishReason::none) return false;
  const int n = info_.height * info_.width * info_.channels;
  if (pos_ == 0) model_.first(*state_, logits_.data());
  int value;
  if (pos_ < int(o_.prefix.size())) {
    value = o_.prefix[pos_];
    ev.logprob = 0;
    ev.prefix = true;
  } else {
    value = sampler_.sample(logits_.data(), history_);
    ev.logprob = logits_[value] - ops::log_sum_exp(logits_.data(), logits_.size());
    ev.prefix = false;
    ++generated_;
  }
  ev.channel = pos_ % info_.channels;
  ev.x = (pos_ / info_.channels) % info_.width;
  ev.y = pos_ / (info_.channels * info_.width);
  ev.value = value;
  history_.push_back(value);
  const int top = info_.vocab_size - 1;
  levels_.push_back(uint8_t((value * 255 + top / 2) / top));  // 0..255, rounded as JS Math.round
  model_.step(*state_, value, logits_.data());
  if (++pos_ == n) finish_ = FinishReason::length;
  return true;
}

constexpr int64_t kMaxAudioSeconds = 3600;

AudioGenerator::AudioGenerator(const Model& model, AudioOptions opts)
    : model_(model),
      o_(std::move(opts)),
      state_(model.new_state()),
      sampler_((o_.sampling.validate(), o_.sampling), model.info().vocab_size),
      logits_(model.info().vocab_size) {
  const ModelInfo& info = model.info();
  if (info.modality != "audio") throw Error("this is a " + info.modality + " model (" + info.arch + "), not an audio model");
  if (o_.samples < 0 || o_.samples > kMaxAudioSeconds * info.sample_rate)
    throw Error("samples must be in 0.." + std::to_string(kMaxAudioSeconds * info.sample_rate) + " (an hour), found " + std::to_string(o_.samples));
  if (o_.chunk < 1 || o_.chunk > (1 << 20)) throw Error("chunkSize must be in 1..1048576, found " + std::to_string(o_.chunk));
  if (info.num_labels > 0) {
    if (o_.speaker < 0) throw Error("this model is speaker-conditioned: give a speaker 0.." + std::to_string(info.num_labels - 1));
    model.set_label(*state_, o_.speaker);
  } else if (o_.speaker >= 0) {
    model.set_label(*state_, o_.speaker);  // throws: the model takes no speaker
  }
  if (!o_.priming.empty() && o_.priming_rate != 0 && o_.priming_rate != info.sample_rate)
    throw Error("the priming audio is at " + std::to_string(o_.priming_rate) + " Hz, the model at " + std::to_string(info.sample_rate) +
                " Hz: resample it first");
  for (size_t i = 0; i < o_.priming.size(); ++i)
    if (!std::isfinite(o_.priming[i]))
      throw Error("priming sample " + std::to_string(i) + " is " + (std::isnan(o_.priming[i]) ? "NaN" : "infinite"));
  // Without priming audio, generation starts from one sample of silence.
  const int Q = info.vocab_size;
  if (o_.priming.empty()) o_.priming.push_back(0.0f);
  for (float x : o_.priming) model_.step(*state_, mu_law_encode(x, Q), logits_.data());
}

void AudioGenerator::abort() {
  if (finish_ == FinishReason::none) finish_ = FinishReason::abort;
}

bool AudioGenerator::next(std::vector<float>& out) {
  out.clear();
  if (finish_ != FinishReason::none) return false;
  if (generated_ >= o_.samples) {
    finish_ = FinishReason::length;
    return false;
  }
  const int Q = model_.info().vocab_size;
  const bool penalty = o_.sampling.repetition_penalty != 1.0f;
  const int64_t n = std::min<int64_t>(o_.chunk, o_.samples - generated_);
  for (int64_t i = 0; i < n; ++i) {
    const int code = sampler_.sample(logits_.data(), history_);
    if (penalty) {
      history_.push_back(code);
      if (history_.size() > size_t(2 * o_.sampling.repetition_window) + 64)  // keep the window only
        history_.erase(history_.begin(), history_.end() - o_.sampling.repetition_window);
    }
    out.push_back(mu_law_decode(code, Q));
    model_.step(*state_, code, logits_.data());
  }
  generated_ += n;
  if (generated_ >= o_.samples) finish_ = FinishReason::length;
  return true;
}

}  // namespace argen
