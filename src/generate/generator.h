// The generation loop for text: prompt -> { logits = step(); id = sample(); emit } until a stop.
// Pull-based: each next() produces one token, so callers (CLI, JS async iterators) can stop any time.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "models/model.h"
#include "sample/sampler.h"
#include "text/tokenizer.h"

namespace argen {

struct GenerateOptions {
  std::string prompt;
  int max_tokens = 256;
  SamplingOptions sampling;
  std::vector<std::string> stop;  // stop sequences: generation ends before them, they are not emitted
  int logprobs = 0;               // also report the N most likely tokens at each step (at most V)
  int attention_layer = -1;       // also report this layer's attention of the newest position
  void validate() const;
};

enum class FinishReason { none, stop, length, abort };
const char* finish_reason_name(FinishReason r);

struct Alternative {
  int id = 0;
  std::string text;  // the token's own text (invalid UTF-8 shown as U+FFFD)
  float logprob = 0;
};

struct TokenEvent {
  int id = 0;
  std::string text;  // text released by this token: whole UTF-8 characters, stop-sequence prefixes held back
  float logprob = 0; // log-probability of `id` under the model (before temperature and filters)
  std::vector<Alternative> top;  // options.logprobs most likely tokens, best first
  std::vector<float> attention;  // options.attention_layer: heads x attention_positions weights
  int attention_positions = 0;   // positions attended to (the prompt and every token before this one)
};

class TextGenerator {
 public:
  // Validates options and encodes the prompt (errors name the bad option or character).
  TextGenerator(const Model& model, const Tokenizer& tokenizer, GenerateOptions opts);
  // Produces the next token into `ev`; false once finished (finish_reason() says why).
  bool next(TokenEvent& ev);
  void abort();
  FinishReason finish_reason() const { return finish_; }
  const std::vector<int>& prompt_tokens() const { return prompt_; }
  int generated() const { return produced_; }

 private:
  const Model& model_;
  const Tokenizer& tok_;
  GenerateOptions o_;
  std::unique_ptr<State> state_;
  Sampler sampler_;
  std::vector<float> logits_, logprobs_;
  std::vector<int> prompt_, history_, order_;
  Utf8Stream utf8_;
  std::string pending_;  // decoded text not yet released (could start a stop sequence)
  bool started_ = false;
  int produced_ = 0;
  FinishReason finish_ = FinishReason::none;
};

}  // namespace argen
