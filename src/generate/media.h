// The generation loops for images and audio. Like TextGenerator they are pull-based: each next()
// produces one pixel level or one chunk of samples, so callers can stop at any time.
#pragma once
#include <memory>
#include <vector>

#include "generate/generator.h"
#include "models/model.h"
#include "sample/sampler.h"

namespace argen {

struct ImageOptions {
  int label = -1;           // class, required by class-conditional models
  SamplingOptions sampling;
  std::vector<int> prefix;  // levels of the top rows (whole rows, raster order) to complete
};

struct PixelEvent {
  int x = 0, y = 0, channel = 0, value = 0;
  float logprob = 0;        // of `value` under the model; 0 for prefix levels
  bool prefix = false;      // given, not sampled
};

class ImageGenerator {
 public:
  // Validates the options against the model (label range, prefix size and levels).
  ImageGenerator(const Model& model, ImageOptions opts);
  // The next level in raster order (prefix levels first) into `ev`; false once the image is
  // complete (finish reason length) or aborted.
  bool next(PixelEvent& ev);
  void abort();
  FinishReason finish_reason() const { return finish_; }
  const std::vector<uint8_t>& levels() const { return levels_; }  // so far, raster order, scaled to 0..255
  int generated() const { return generated_; }                    // sampled levels

 private:
  const Model& model_;
  const ModelInfo& info_;
  ImageOptions o_;
  std::unique_ptr<State> state_;
  Sampler sampler_;
  std::vector<float> logits_;
  std::vector<int> history_;
  std::vector<uint8_t> levels_;
  int pos_ = 0, generated_ = 0;
  FinishReason finish_ = FinishReason::none;
};

struct AudioOptions {
  int64_t samples = 16000;      // to generate
  int speaker = -1;             // required by speaker-conditioned models
  SamplingOptions sampling;
  std::vector<float> priming;   // audio the generation continues (not repeated in the output)
  int priming_rate = 0;         // its sample rate; 0: the model's
  int chunk = 1024;             // samples per next()
};

class AudioGenerator {
 public:
  // Validates the options (speaker, priming rate and values, sizes) and runs the priming audio.
  AudioGenerator(const Model& model, AudioOptions opts);
  // Up to `chunk` new samples in [-1, 1] into `out`; false once all are made or aborted.
  bool next(std::vector<float>& out);
  void abort();
  FinishReason finish_reason() const { return finish_; }
  int64_t generated() const { return generated_; }

 private:
  const Model& model_;
  AudioOptions o_;
  std::unique_ptr<State> state_;
  Sampler sampler_;
  std::vector<float> logits_;
  std::vector<int> history_;
  int64_t generated_ = 0;
  FinishReason finish_ = FinishReason::none;
};

}  // namespace argen
