// The one idea: given everything generated so far (held in State), predict logits for the next element.
#pragma once
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "core/model_file.h"
#include "models/weight.h"

namespace argen {

struct ModelInfo {
  std::string arch;      // rnn, gru, lstm, ...
  std::string modality;  // text, image, audio
  std::string name, description;
  int vocab_size = 0;          // size of the logits vector
  int context_length = 0;      // 0: unbounded (recurrent models)
  size_t parameters = 0;       // number of weights
  int attention_layers = 0;    // layers whose attention weights attention() can report
  int attention_heads = 0;
  // Conditioning: class labels of an image model, speakers of an audio model (0: unconditional).
  int num_labels = 0;
  std::vector<std::string> label_names;  // num_labels names, or empty
  int height = 0, width = 0, channels = 0;  // image models: the elements are H*W*C levels, raster order
  int sample_rate = 0;                      // audio models: the elements are mu-law codes
};

// Everything one stream remembers. Created by Model::new_state(), used by one stream at a time.
struct State {
  virtual ~State() = default;
};

class Model {
 public:
  virtual ~Model() = default;
  const ModelInfo& info() const { return info_; }
  const ModelFile& file() const { return *file_; }

  virtual std::unique_ptr<State> new_state() const = 0;
  // Conditions a fresh state on a label in 0..num_labels-1 (image class, speaker). Throws for
  // models without labels.
  virtual void set_label(State&, int /*label*/) const;
  // Writes the logits of the first element, before any is consumed (image models, which start
  // from an empty canvas). Throws for models that need a first element (a prompt).
  virtual void first(State&, float* /*logits*/) const;
  // Consumes `element` and writes info().vocab_size logits for the next one. Allocates nothing.
  virtual void step(State& state, int element, float* logits) const = 0;
  // Consumes n elements at once (a prompt); writes the logits after the last. Models that can batch
  // the work override this; the default steps through them.
  virtual void prefill(State& state, const int* elements, size_t n, float* logits) const {
    for (size_t i = 0; i < n; ++i) step(state, elements[i], logits);
  }
  // Attention weights of the newest position in `layer` after the last step, heads x positions,
  // into `out`; returns the number of positions (0 for models without attention).
  virtual int attention(const State&, int /*layer*/, std::vector<float>* /*out*/) const { return 0; }

 protected:
  explicit Model(std::shared_ptr<const ModelFile> file) : file_(std::move(file)) {}
  // A weight: the named tensor with exactly `shape` (else an error naming both), counted in
  // info().parameters.
  Tensor weight(const std::string& name, const std::vector<int64_t>& shape) {
    Tensor t = file_->get(name, shape);
    info_.parameters += t.size();
    return t;
  }
  // A weight the model multiplies by: the named tensor as a [shape[0] x rest] matrix, in the
  // file's weight type (int8 when the file is, or when loaded with LoadOptions::int8).
  Weight matrix(const std::string& name, const std::vector<int64_t>& shape) {
    return Weight(*file_, weight(name, shape), file_->int8());
  }
  // A matrix the model built from tensors (a convolution's, concatenated ones), likewise.
  Weight matrix(const std::vector<float>& data, size_t rows, size_t cols) const {
    return Weight(*file_, data, rows, cols, file_->int8());
  }
  // Fills info_ from the file (arch, modality, name, description) and the given sizes.
  void describe(int vocab_size, int context_length) {
    info_.arch = file_->arch();
    info_.modality = file_->modality();
    info_.vocab_size = vocab_size;
    info_.context_length = context_length;
    auto meta = [&](const char* k) {
      auto it = file_->metadata().find(k);
      return it == file_->metadata().end() ? std::string() : it->second;
    };
    info_.name = meta("name");
    info_.description = meta("description");
  }
  std::shared_ptr<const ModelFile> file_;  // keeps the weights alive
  ModelInfo info_;
};

// Registry: builds the model named by the file's `arch` metadata; throws naming an unknown arch.
std::unique_ptr<Model> create_model(std::shared_ptr<const ModelFile> file);

// Per-architecture constructors (one file each), listed in registry.cc.
std::unique_ptr<Model> create_recurrent(std::shared_ptr<const ModelFile> file);
std::unique_ptr<Model> create_transformer(std::shared_ptr<const ModelFile> file);
std::unique_ptr<Model> create_encoder_transformer(std::shared_ptr<const ModelFile> file);  // arch transformer
std::unique_ptr<Model> create_hybrid(std::shared_ptr<const ModelFile> file);
std::unique_ptr<Model> create_pixelcnn(std::shared_ptr<const ModelFile> file);
std::unique_ptr<Model> create_pixelrnn(std::shared_ptr<const ModelFile> file);
std::unique_ptr<Model> create_wavenet(std::shared_ptr<const ModelFile> file);

}  // namespace argen
